// Helpers shared by the wrapper and stacked/stateful recurrent tests: float64 patterns,
// masks, and gradients by the tape against central differences.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "strata/gradient_tape.hpp"
#include "strata/layer.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata::recurrent_tests {

// A test run once per device name (the parameter): a fresh session, skipped where no backend
// provides kernels for that device, with the device as the default for the test's body.
class OnEachDevice : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    clear_session();
    const Device device(GetParam());
    if (device.type() != "ref" &&
        !Registry::global().contains(ObjectKind::kKernel, kernel_key("MatMul", device.type(), DType::kFloat32))) {
      GTEST_SKIP() << "no backend provides kernels for " << GetParam();
    }
    scope_.emplace(device);
  }
  std::optional<DeviceScope> scope_;
};

// scale * (((i*37 + seed*11) mod 23) - 11) / 11, in float64.
inline Tensor arr64(const Shape& shape, int seed, double scale) {
  const auto n = static_cast<std::size_t>(shape.num_elements());
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const long long k = (static_cast<long long>(i) * 37 + seed * 11) % 23 - 11;
    v[i] = scale * static_cast<double>(k) / 11.0;
  }
  return Tensor::from_vector<double>(v, shape);
}

inline Tensor mask_of(const std::vector<std::vector<int>>& rows) {
  std::vector<std::uint8_t> bytes;
  for (const auto& r : rows) {
    for (int v : r) bytes.push_back(static_cast<std::uint8_t>(v));
  }
  return Tensor::from_bools(bytes, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

inline std::vector<Shape> shapes_of(const std::vector<Tensor>& ts) {
  std::vector<Shape> out;
  for (const auto& t : ts) out.push_back(t.shape());
  return out;
}

// d loss / d (inputs, weights) by the tape against central differences, where loss sums
// every output times a different weight. All weights are set to patterns first.
inline void check_gradients(Layer& layer, const std::vector<Tensor>& inputs, const CallContext& ctx) {
  layer.ensure_built(shapes_of(inputs));
  std::vector<Tensor> weights;
  const auto vars = layer.weights();
  for (std::size_t i = 0; i < vars.size(); ++i) weights.push_back(arr64(vars[i].shape(), static_cast<int>(i) + 2, 0.6));
  layer.set_weights(weights);
  auto loss = [&](const std::vector<Tensor>& xs) {
    const auto outs = layer.call_with_masks(xs, ctx).tensors;
    Tensor total;
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const Tensor term = sum(outs[i] * arr64(outs[i].shape(), 30 + static_cast<int>(i), 1.0));
      total = i == 0 ? term : total + term;
    }
    return total;
  };
  std::vector<Tensor> dw, dx;
  {
    GradientTape tape(/*persistent=*/true);
    for (const auto& x : inputs) tape.watch(x);
    const Tensor l = loss(inputs);
    dw = tape.gradient(l, vars);
    dx = tape.gradient(l, inputs);
  }
  const double eps = 1e-6;
  for (std::size_t w = 0; w < weights.size(); ++w) {
    ASSERT_TRUE(dw[w].defined()) << vars[w].name();
    const auto g = dw[w].to_vector<double>();
    const auto base = weights[w].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 6) {
      auto probe = [&](double delta) {
        auto v = base;
        v[i] += delta;
        auto ws = weights;
        ws[w] = Tensor::from_vector<double>(v, weights[w].shape());
        layer.set_weights(ws);
        return loss(inputs).item<double>();
      };
      const double numeric = (probe(eps) - probe(-eps)) / (2 * eps);
      EXPECT_NEAR(g[i], numeric, 1e-7 + 1e-6 * std::abs(numeric)) << vars[w].name() << " element " << i;
    }
    layer.set_weights(weights);
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    ASSERT_TRUE(dx[k].defined()) << "input " << k;
    const auto g = dx[k].to_vector<double>();
    const auto base = inputs[k].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 7) {
      auto probe = [&](double delta) {
        auto v = base;
        v[i] += delta;
        auto xs = inputs;
        xs[k] = Tensor::from_vector<double>(v, inputs[k].shape());
        return loss(xs).item<double>();
      };
      const double numeric = (probe(eps) - probe(-eps)) / (2 * eps);
      EXPECT_NEAR(g[i], numeric, 1e-7 + 1e-6 * std::abs(numeric)) << "input " << k << " element " << i;
    }
  }
}

}  // namespace strata::recurrent_tests
