// Core layers: Dense, Activation, Dropout.
#include <algorithm>
#include <atomic>

#include "common.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/registry.hpp"

namespace strata::layers {
namespace {

// The input shape with its last dimension replaced by `last`, -1 standing for the one
// unknown dimension (the caller checks there is at most one).
Shape with_last(const Shape& s, std::int64_t last) {
  std::vector<std::int64_t> dims = s.dims();
  dims.back() = last;
  return Shape(dims);
}

class Dense final : public Layer, public InferenceTraceable {
 public:
  explicit Dense(const Config& c) : Layer("Dense", c) {
    auto frame = ErrorContext::push("reading the config of Dense layer '", name(), "'");
    const ConfigReader r(c, *this);
    units_ = r.required<std::int64_t>("units", Range::positive());
    activation_ = activation_at(c, "activation");
    use_bias_ = r.optional("use_bias", true);
    kernel_bias_ = read_kernel_bias_settings(c);
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 2, /*at_least=*/true);
    const std::int64_t in = s.dims().back();
    STRATA_CHECK(in != Shape::kUnknown, ShapeError, "Dense layer '", name(),
                 "': the last dimension of the inputs must be known, got ", s.to_string());
    // units comes from a file: a kernel too large to count is refused before any allocation.
    checked_element_count({in, units_}, ConfigReader::subject_of(*this) + ": the kernel");
    kernel_ = add_weight("kernel", Shape{in, units_}, kernel_bias_.kernel_initializer, true,
                         kernel_bias_.kernel_regularizer, kernel_bias_.kernel_constraint);
    if (use_bias_) {
      bias_ = add_weight("bias", Shape{units_}, kernel_bias_.bias_initializer, true, kernel_bias_.bias_regularizer,
                         kernel_bias_.bias_constraint);
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    const Tensor kernel = read(kernel_);
    Tensor y;
    if (use_bias_ && x.rank() == 2 && !x.is_symbolic()) {
      y = fused_dense(x, kernel, read(bias_), *activation_);
      if (y.defined()) {
        add_activity_regularization(*this, kernel_bias_.activity_regularizer, y);
        return {y};
      }
    }
    if (x.rank() == 2) {
      y = matmul(x, kernel);
    } else {
      // Keras's tensordot: fold the leading dimensions into one, multiply, unfold.
      const auto& dims = x.shape().dims();
      const auto unknown = std::count(dims.begin(), dims.end() - 1, Shape::kUnknown);
      if (unknown <= 1 && x.rank() > 2) {
        const Tensor flat = reshape(x, Shape{Shape::kUnknown, dims.back()});
        y = reshape(matmul(flat, kernel), with_last(x.shape(), units_));
      } else {
        y = matmul(x, kernel);
      }
    }
    if (use_bias_) y = bias_add(y, read(bias_));
    y = (*activation_)(y);
    add_activity_regularization(*this, kernel_bias_.activity_regularizer, y);
    return {y};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["units"] = units_;
    c["activation"] = activation_config(activation_);
    c["use_bias"] = use_bias_;
    write_kernel_bias_settings(kernel_bias_, c);
    return c;
  }

 private:
  std::int64_t units_ = 0;
  std::shared_ptr<Activation> activation_;
  bool use_bias_ = true;
  KernelBiasSettings kernel_bias_;
  Variable kernel_, bias_;
};

class ActivationLayer final : public Layer, public InferenceTraceable {
 public:
  explicit ActivationLayer(const Config& c) : Layer("Activation", c) {
    auto frame = ErrorContext::push("reading the config of Activation layer '", name(), "'");
    activation_ = activation_at(c, "activation");
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    return {(*activation_)(single_input(*this, inputs))};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["activation"] = activation_config(activation_);
    return c;
  }

 private:
  std::shared_ptr<Activation> activation_;
};

// Dropout, and SpatialDropout1D/2D/3D (spatial_rank 1-3): one keep/drop decision per
// sample and channel, for every position of the spatial axes.
class Dropout : public Layer, public InferenceTraceable {
 public:
  explicit Dropout(const Config& c, const std::string& class_name = "Dropout", std::size_t spatial_rank = 0)
      : Layer(class_name, c), spatial_rank_(spatial_rank) {
    auto frame = ErrorContext::push("reading the config of ", class_name, " layer '", name(), "'");
    const ConfigReader r(c, *this);
    // tf-keras accepts rate 1 (everything dropped). get_config writes the rate as given.
    r.required<double>("rate", Range::closed(0.0, 1.0));
    rate_ = r.number("rate", 0.0);
    if (const auto shape = r.shape("noise_shape")) noise_shape_ = shape->dims();
    seed_ = r.if_present<std::int64_t>("seed");
    // tf-keras does not write SpatialDropout2D/3D's data_format (it reloads as channels_last);
    // a config that has one (Keras 3) is honoured.
    if (spatial_rank_ > 1) channels_first_ = get_data_format(c) == "channels_first";
    set_supports_masking(true);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    if (spatial_rank_ > 0) require_rank(*this, x.shape(), spatial_rank_ + 2);
    const double rate = rate_.get<double>();
    if (!ctx.training || rate == 0.0) return {x};
    if (rate >= 1.0) return {zeros_like(x)};
    Shape noise = x.shape();
    if (spatial_rank_ > 0) {
      std::vector<std::int64_t> dims = x.shape().dims();
      for (std::size_t i = 0; i < spatial_rank_; ++i) dims[i + (channels_first_ ? 2 : 1)] = 1;
      noise = Shape(dims);
    } else if (noise_shape_) {
      STRATA_CHECK(noise_shape_->size() == x.rank(), ShapeError, "Dropout layer '", name(), "': noise_shape has ",
                   noise_shape_->size(), " dimensions but the input has shape ", x.shape().to_string());
      std::vector<std::int64_t> dims = *noise_shape_;
      for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == Shape::kUnknown) dims[i] = x.shape().dims()[i];
      }
      noise = Shape(dims);
    }
    // Like tf-keras's legacy seeding, a seeded layer uses seed, seed + 1, ... on
    // successive calls: reproducible, yet a different mask per step.
    std::optional<std::int64_t> seed;
    if (seed_) seed = *seed_ + calls_.fetch_add(1, std::memory_order_relaxed);
    const Tensor keep = cast(greater_equal(uniform_noise_like(x, noise, seed), scalar_like(x, rate)), x.dtype());
    return {(x * (1.0 / (1.0 - rate))) * keep};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["rate"] = rate_;
    if (noise_shape_) {
      Config dims = Config::array();
      for (auto d : *noise_shape_) dims.push_back(d == Shape::kUnknown ? Config(nullptr) : Config(d));
      c["noise_shape"] = dims;
    } else {
      c["noise_shape"] = nullptr;
    }
    c["seed"] = seed_ ? Config(*seed_) : Config(nullptr);
    return c;
  }

 private:
  Config rate_;
  std::optional<std::vector<std::int64_t>> noise_shape_;
  std::optional<std::int64_t> seed_;
  std::size_t spatial_rank_ = 0;
  bool channels_first_ = false;
  mutable std::atomic<std::int64_t> calls_{0};
};

template <std::size_t N>
class SpatialDropout final : public Dropout {
 public:
  explicit SpatialDropout(const Config& c) : Dropout(c, "SpatialDropout" + std::to_string(N) + "D", N) {}
};

}  // namespace

Tensor fused_dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, const Activation& activation) {
  if (is_tracing() || is_recording_gradients() || !graph_passes_enabled()) return {};
  if (x.dtype() != DType::kFloat32 || kernel.dtype() != DType::kFloat32 || bias.dtype() != DType::kFloat32 ||
      kernel.rank() != 2 || bias.rank() != 1 || x.device().type() != "cpu" || !(kernel.device() == x.device()) ||
      !(bias.device() == x.device())) {
    return {};
  }
  const char* act = fusable_activation_op(activation);
  if (act == nullptr) return {};
  // Whether a backend registered the fused op, looked up again when plugins change.
  thread_local std::uint64_t generation = ~std::uint64_t{0};
  thread_local bool available = false;
  const Registry& registry = Registry::global();
  if (registry.generation() != generation) {
    generation = registry.generation();
    available = registry.contains(ObjectKind::kOp, "_FusedMatMul");
  }
  if (!available) return {};
  // One set of attrs per activation, built once (an Attrs is read concurrently, never written).
  static const auto attrs_for = [](const char* op) {
    std::vector<std::string> fused{"BiasAdd"};
    if (*op) fused.emplace_back(op);
    return Attrs{{"transpose_a", false}, {"transpose_b", false}, {"fused_ops", fused}};
  };
  static const Attrs linear = attrs_for(""), relu = attrs_for("Relu"), tanh_attrs = attrs_for("Tanh"),
                     sigmoid = attrs_for("Sigmoid"), elu_attrs = attrs_for("Elu");
  const std::string_view a(act);
  const Attrs& attrs = a.empty() ? linear : a == "Relu" ? relu : a == "Tanh" ? tanh_attrs : a == "Sigmoid" ? sigmoid : elu_attrs;
  return execute1("_FusedMatMul", {x, kernel, bias}, attrs);
}

void register_core_layers(Registrar& registrar) {
  register_layer<Dense>(registrar, "Dense");
  register_layer<ActivationLayer>(registrar, "Activation");
  register_layer<Dropout>(registrar, "Dropout");
  register_layer<SpatialDropout<1>>(registrar, "SpatialDropout1D");
  register_layer<SpatialDropout<2>>(registrar, "SpatialDropout2D");
  register_layer<SpatialDropout<3>>(registrar, "SpatialDropout3D");
}

}  // namespace strata::layers
