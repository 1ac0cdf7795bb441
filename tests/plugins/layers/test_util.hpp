// Helpers shared by the layers plugin tests: the value pattern the tf-keras oracle
// (make_expected.py) uses, tensor comparison, and the devices to run on.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "strata/device.hpp"
#include "strata/layer.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata::layer_tests {

// make_expected.py's pattern(): multiples of 1/8 in [-9/8, 9/8] (exact in float32);
// `positive` maps them to |v| + 1/4.
inline std::vector<float> pattern(std::int64_t n, std::int64_t salt, bool positive = false) {
  std::vector<float> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>(((i * 7 + salt * 13) % 19) - 9) / 8.0f;
    if (positive) v = std::fabs(v) + 0.25f;
    out[static_cast<std::size_t>(i)] = v;
  }
  return out;
}

inline Tensor pattern_tensor(const Shape& shape, std::int64_t salt, bool positive = false) {
  return Tensor::from_vector<float>(pattern(shape.num_elements(), salt, positive), shape);
}

inline Shape shape_of_json(const Config& j) {
  std::vector<std::int64_t> dims;
  for (const auto& d : j) dims.push_back(d.is_null() ? Shape::kUnknown : d.get<std::int64_t>());
  return Shape(dims);
}

inline std::vector<float> floats_of_json(const Config& j) {
  std::vector<float> out;
  for (const auto& v : j) out.push_back(v.get<float>());
  return out;
}

inline std::vector<float> values(const Tensor& t) { return cast(t, DType::kFloat32).to_vector<float>(); }

// "" when |got - want| <= atol + rtol |want| everywhere, else a description.
inline std::string mismatch(const std::vector<float>& got, const std::vector<float>& want, double rtol = 1e-5,
                            double atol = 1e-5) {
  if (got.size() != want.size()) return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
  std::ostringstream out;
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const bool ok = (std::isnan(g) && std::isnan(w)) || std::fabs(g - w) <= atol + rtol * std::fabs(w);
    if (!ok && bad++ < 5) out << "[" << i << "] got " << g << " want " << w << "; ";
  }
  if (bad) out << bad << " of " << got.size() << " differ";
  return out.str();
}

// The devices the numeric tests are instantiated for: the tests' ref device, and cpu,
// which is skipped (see skip_reason) unless a backend plugin provides its kernels.
inline std::vector<std::string> test_devices() { return {"ref:0", "cpu:0"}; }

// Why a test on `device` cannot run here ("" when it can).
inline std::string skip_reason(const std::string& device) {
  const Device d(device);
  if (!is_device_available(d)) return "no usable " + device + " device";
  if (!Registry::global().contains(ObjectKind::kKernel, kernel_key("MatMul", d.type(), DType::kFloat32))) {
    return "no kernels for " + device + " (its backend plugin is not loaded)";
  }
  return "";
}

inline std::string device_param_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param.substr(0, info.param.find(':'));
}

// Expects f() to throw an E whose message contains `layer_name` and `words`.
template <class E>
void expect_error(const std::function<void()>& f, const std::string& layer_name, const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming '" << layer_name << "' and saying '" << words << "'";
  } catch (const E& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(layer_name), std::string::npos) << m;
    EXPECT_NE(m.find(words), std::string::npos) << m;
  }
}

// The gradients `dx` (of `inputs`, in order) and `dw` (of the layer's trainable weights) of
// objective(inputs) against central differences (step 1e-6, |Δ| <= 1e-5 + 1e-5·|fd|), at a
// sample of elements of each; float64 inputs and weights.
template <typename Objective>
void expect_gradients_match_finite_differences(const Layer& layer, const Objective& objective,
                                               const std::vector<Tensor>& inputs, const std::vector<Tensor>& dx,
                                               const std::vector<Tensor>& dw) {
  const auto trainable = layer.trainable_weights();
  const double h = 1e-6;
  for (std::size_t k = 0; k < dx.size(); ++k) {
    ASSERT_TRUE(dx[k].defined()) << "input " << k;
    const auto base = inputs[k].to_vector<double>();
    const auto got = dx[k].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 7) {
      auto with = [&](double delta) {
        auto v = base;
        v[i] += delta;
        std::vector<Tensor> xs = inputs;
        xs[k] = Tensor::from_vector<double>(v, inputs[k].shape());
        return objective(xs).template item<double>();
      };
      const double fd = (with(h) - with(-h)) / (2 * h);
      EXPECT_NEAR(got[i], fd, 1e-5 + 1e-5 * std::fabs(fd)) << "input " << k << " element " << i;
    }
  }
  for (std::size_t j = 0; j < trainable.size(); ++j) {
    ASSERT_TRUE(dw[j].defined()) << trainable[j].name();
    const auto got = dw[j].to_vector<double>();
    Variable v = trainable[j];
    const auto base = v.value().to_vector<double>();
    for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 5) {
      auto eval = [&](double delta) {
        auto p = base;
        p[i] += delta;
        v.assign(Tensor::from_vector<double>(p, v.shape()));
        const double r = objective(inputs).template item<double>();
        v.assign(Tensor::from_vector<double>(base, v.shape()));
        return r;
      };
      const double fd = (eval(h) - eval(-h)) / (2 * h);
      EXPECT_NEAR(got[i], fd, 1e-5 + 1e-5 * std::fabs(fd)) << trainable[j].name() << " element " << i;
    }
  }
}

}  // namespace strata::layer_tests
