// Finite-difference checks of every differentiable op's gradient (float64), on each
// device: the analytic gradient of L = sum(op(x) * w) from a GradientTape against
// central differences of L computed on the host. Registered for every device of every
// loaded backend, the tests' ref backend included (kit.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kit.hpp"
#include "op_cases.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::testing {
namespace {

struct Param {
  std::string device;
  OpCase c;
};

std::vector<OpCase> differentiable_cases() {
  std::vector<OpCase> out;
  for (auto& c : gradient_cases()) {
    const OpDef& def = op_def(c.op);
    if (def.not_differentiable || !def.gradient) continue;
    if (c.attrs.has("DstT") && c.attrs.get<DType>("DstT") != DType::kFloat64) continue;
    out.push_back(c);
  }
  return out;
}

// L = sum_k sum(outputs_k * weights_k), on the host in double.
double loss(const std::vector<Tensor>& outputs, const std::vector<std::vector<double>>& weights) {
  double l = 0;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k].dtype() != DType::kFloat64) continue;
    const auto v = outputs[k].to_vector<double>();
    for (std::size_t i = 0; i < v.size(); ++i) l += v[i] * weights[k][i];
  }
  return l;
}

// Registered per device by register_gradient_check_tests.
class GradientCheck : public ::testing::Test {
 public:
  explicit GradientCheck(Param p) : p_(std::move(p)) {}
  void TestBody() override;

 private:
  Param p_;
};

void GradientCheck::TestBody() {
  const Param& p = p_;
  const Device device(p.device);
  if (!is_device_available(device)) GTEST_SKIP() << "no usable " << p.device << " device on this machine";
  const OpCase& c = p.c;
  std::vector<Tensor> inputs;
  std::uint64_t salt = std::hash<std::string>()(c.name) + 7;
  for (const auto& in : c.inputs) {
    inputs.push_back(in.derive ? in.derive(inputs).to(device) : make_input(in, salt++, device));
  }
  const auto probe = execute(c.op, inputs, c.attrs);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> dist(0.5, 1.5);
  std::vector<std::vector<double>> weights;
  std::vector<Tensor> weight_tensors;
  for (const auto& o : probe) {
    std::vector<double> w(static_cast<std::size_t>(o.num_elements()));
    for (auto& x : w) x = dist(rng);
    weights.push_back(w);
    weight_tensors.push_back(o.dtype() == DType::kFloat64 ? Tensor::from_vector<double>(w, o.shape(), device) : Tensor());
  }

  std::vector<std::size_t> wrt;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i].host && c.inputs[i].differentiable && c.inputs[i].dtype == DType::kFloat64) wrt.push_back(i);
  }
  ASSERT_FALSE(wrt.empty());

  GradientTape tape;
  std::vector<Tensor> sources;
  for (auto i : wrt) {
    tape.watch(inputs[i]);
    sources.push_back(inputs[i]);
  }
  const auto outputs = execute(c.op, inputs, c.attrs);
  Tensor l;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (!weight_tensors[k].defined()) continue;
    Tensor term = sum(mul(outputs[k], weight_tensors[k]));
    l = l.defined() ? add(l, term) : term;
  }
  const auto grads = tape.gradient(l, sources);

  for (std::size_t s = 0; s < wrt.size(); ++s) {
    const std::size_t i = wrt[s];
    std::vector<double> base = inputs[i].to_vector<double>();
    ASSERT_TRUE(grads[s].defined()) << "no gradient for input " << i;
    ASSERT_EQ(grads[s].shape(), inputs[i].shape());
    const auto analytic = grads[s].to_vector<double>();
    const std::size_t stride = std::max<std::size_t>(1, base.size() / 48);  // at most ~48 probes per input
    for (std::size_t j = 0; j < base.size(); j += stride) {
      const double h = 1e-6 * std::max(1.0, std::abs(base[j]));
      auto at = [&](double x) {
        std::vector<double> v = base;
        v[j] = x;
        std::vector<Tensor> args = inputs;
        args[i] = Tensor::from_vector<double>(v, inputs[i].shape(), device);
        return loss(execute(c.op, args, c.attrs), weights);
      };
      const double numeric = (at(base[j] + h) - at(base[j] - h)) / (2 * h);
      EXPECT_NEAR(analytic[j], numeric, 1e-6 + 1e-5 * std::abs(numeric))
          << c.op << " " << c.attrs.to_string() << " d/d input " << i << "[" << j << "]";
    }
  }
}

}  // namespace

void register_gradient_check_tests(const std::vector<Device>& devices) {
  const std::vector<OpCase> cases = differentiable_cases();
  for (const auto& device : devices) {
    for (const auto& c : cases) {
      const Param p{device.to_string(), c};
      register_kit_test("GradientCheck", device, "MatchesFiniteDifferences", c.name, __FILE__, __LINE__,
                        [p]() -> ::testing::Test* { return new GradientCheck(p); });
    }
  }
}

}  // namespace strata::testing
