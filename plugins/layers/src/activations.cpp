// Keras's activation functions, registered under the names layer configs use
// ("relu", "softmax", ...). Each is written in ops, so gradients come from the ops.
#include <utility>

#include "common.hpp"

namespace strata::layers {
namespace {

using Fn = Tensor (*)(const Tensor&);

class FunctionActivation final : public Activation {
 public:
  // `config_name` is what configs say for this function (silu is written "swish").
  FunctionActivation(std::string config_name, Fn fn) : name_(std::move(config_name)), fn_(fn) {}
  std::string class_name() const override { return name_; }
  Tensor operator()(const Tensor& x) const override { return fn_(x); }
  Fn fn() const noexcept { return fn_; }

 private:
  std::string name_;
  Fn fn_;
};

Tensor linear_fn(const Tensor& x) { return x; }
Tensor relu_fn(const Tensor& x) { return relu(x); }
Tensor sigmoid_fn(const Tensor& x) { return sigmoid(x); }
Tensor tanh_fn(const Tensor& x) { return tanh(x); }
Tensor softmax_fn(const Tensor& x) { return softmax(x, -1); }
Tensor log_softmax_fn(const Tensor& x) { return log_softmax(x, -1); }
Tensor softplus_fn(const Tensor& x) { return softplus(x); }
Tensor softsign_fn(const Tensor& x) { return softsign(x); }
Tensor elu_fn(const Tensor& x) { return elu(x); }
Tensor selu_fn(const Tensor& x) { return selu(x); }
Tensor gelu_fn(const Tensor& x) { return gelu(x, /*approximate=*/false); }
Tensor swish_fn(const Tensor& x) { return x * sigmoid(x); }
Tensor exponential_fn(const Tensor& x) { return exp(x); }
// tf-keras's backend.hard_sigmoid: clip(0.2 x + 0.5, 0, 1).
Tensor hard_sigmoid_fn(const Tensor& x) { return minimum(maximum(x * 0.2 + 0.5, scalar_like(x, 0.0)), scalar_like(x, 1.0)); }
Tensor relu6_fn(const Tensor& x) { return relu6(x); }
// Keras 3's hard_sigmoid: relu6(x + 3) / 6 (common.hpp, kKeras3HardSigmoid).
Tensor keras3_hard_sigmoid_fn(const Tensor& x) { return relu6(x + 3.0) * (1.0 / 6.0); }
// Keras 3's hard_silu (also "hard_swish"): x * relu6(x + 3) / 6.
Tensor hard_silu_fn(const Tensor& x) { return x * keras3_hard_sigmoid_fn(x); }
// Keras 3's hard_tanh: clip(x, -1, 1).
Tensor hard_tanh_fn(const Tensor& x) { return minimum(maximum(x, scalar_like(x, -1.0)), scalar_like(x, 1.0)); }
// Keras 3's log_sigmoid: -softplus(-x).
Tensor log_sigmoid_fn(const Tensor& x) { return -softplus(-x); }
// Keras 3's tanh_shrink: x - tanh(x).
Tensor tanh_shrink_fn(const Tensor& x) { return x - tanh(x); }
// Keras 3's squareplus with its default b = 4: (x + sqrt(x^2 + 4)) / 2.
Tensor squareplus_fn(const Tensor& x) { return (x + sqrt(x * x + 4.0)) * 0.5; }
// Keras 3's soft_shrink with its default threshold 0.5: x - 0.5 above 0.5, x + 0.5 below -0.5,
// else 0.
Tensor soft_shrink_fn(const Tensor& x) {
  const Tensor zero = scalar_like(x, 0.0);
  return select(greater(x, scalar_like(x, 0.5)), x - 0.5, select(less(x, scalar_like(x, -0.5)), x + 0.5, zero));
}
// Keras 3's hard_shrink with its default threshold 0.5: x where |x| > 0.5, else 0.
Tensor hard_shrink_fn(const Tensor& x) { return select(greater(abs(x), scalar_like(x, 0.5)), x, scalar_like(x, 0.0)); }
// Keras 3's sparse_plus: 0 at x <= -1, (x + 1)^2 / 4 below 1, x from 1.
Tensor sparse_plus_fn(const Tensor& x) {
  return select(less_equal(x, scalar_like(x, -1.0)), scalar_like(x, 0.0),
                select(less(x, scalar_like(x, 1.0)), square(x + 1.0) * 0.25, x));
}
// Keras 3's glu on the last axis (even): its first half times the sigmoid of its second.
Tensor glu_fn(const Tensor& x) {
  const auto halves = split(x, 2, -1);
  return halves[0] * sigmoid(halves[1]);
}
// Keras 3's celu with its default alpha = 1: max(x, 0) + min(exp(x) - 1, 0).
Tensor celu_fn(const Tensor& x) {
  return maximum(x, scalar_like(x, 0.0)) + minimum(exp(x) - 1.0, scalar_like(x, 0.0));
}
Tensor mish_fn(const Tensor& x) { return x * tanh(softplus(x)); }
// tf.nn.leaky_relu with Keras's default alpha of 0.2.
Tensor leaky_relu_fn(const Tensor& x) { return maximum(x, x * 0.2); }

}  // namespace

const char* fusable_activation_op(const Activation& activation) {
  const auto* f = dynamic_cast<const FunctionActivation*>(&activation);
  if (f == nullptr) return nullptr;
  const Fn fn = f->fn();
  if (fn == linear_fn) return "";
  if (fn == relu_fn) return "Relu";
  if (fn == tanh_fn) return "Tanh";
  if (fn == sigmoid_fn) return "Sigmoid";
  if (fn == elu_fn) return "Elu";
  return nullptr;
}

void register_activations(Registrar& registrar) {
  const std::pair<const char*, Fn> table[] = {
      {"linear", linear_fn},       {"relu", relu_fn},         {"sigmoid", sigmoid_fn},
      {"tanh", tanh_fn},           {"softmax", softmax_fn},   {"log_softmax", log_softmax_fn},
      {"softplus", softplus_fn},   {"softsign", softsign_fn}, {"elu", elu_fn},
      {"selu", selu_fn},           {"gelu", gelu_fn},         {"swish", swish_fn},
      {"exponential", exponential_fn}, {"hard_sigmoid", hard_sigmoid_fn}, {"relu6", relu6_fn},
      {"mish", mish_fn},           {"leaky_relu", leaky_relu_fn},
      // Keras 3's (tf-keras has none of these names).
      {kKeras3HardSigmoid, keras3_hard_sigmoid_fn}, {"hard_silu", hard_silu_fn}, {"hard_tanh", hard_tanh_fn},
      {"log_sigmoid", log_sigmoid_fn}, {"tanh_shrink", tanh_shrink_fn}, {"squareplus", squareplus_fn},
      {"celu", celu_fn}, {"soft_shrink", soft_shrink_fn}, {"hard_shrink", hard_shrink_fn},
      {"sparse_plus", sparse_plus_fn}, {"glu", glu_fn},
  };
  for (const auto& [name, fn] : table) {
    const std::string config_name = name;
    const Fn f = fn;
    registrar.add<ObjectKind::kActivation>(
        name, [config_name, f](const Config&) { return std::make_shared<FunctionActivation>(config_name, f); });
  }
  // tf-keras resolves "silu" to its swish function and writes it back as "swish".
  registrar.add<ObjectKind::kActivation>(
      "silu", [](const Config&) { return std::make_shared<FunctionActivation>("swish", swish_fn); });
  // tf-keras's hard_sigmoid under the name Strata's Keras 3 archives give it (Keras 3's
  // "hard_sigmoid" is another function; format-keras's keras3_config.cpp); written back as
  // "hard_sigmoid" in tf-keras's dialect.
  registrar.add<ObjectKind::kActivation>("strata.tf_keras_hard_sigmoid", [](const Config&) {
    return std::make_shared<FunctionActivation>("hard_sigmoid", hard_sigmoid_fn);
  });
  // Keras 3 resolves "hard_swish" to hard_silu and writes it back as "hard_silu".
  registrar.add<ObjectKind::kActivation>(
      "hard_swish", [](const Config&) { return std::make_shared<FunctionActivation>("hard_silu", hard_silu_fn); });
}

}  // namespace strata::layers
