// Helpers shared by the training plugin's tests: reading the tf-keras fixtures of
// tests/data/training (generate_training_fixtures.py), comparing tensors within
// |got - ref| <= atol + rtol |ref|, comparing configs key for key, and the devices the
// tests run on.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fixture_dir.hpp"
#include "strata/config.hpp"
#include "strata/device.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata::training_tests {

inline Config load_fixture(const std::string& name) {
  // tests/data/training (2.17, compiled in) or $STRATA_TRAINING_FIXTURE_DIR (the second
  // version: tests/interop/fixture_set_current_venv.sh).
  const std::string path =
      (strata::test::fixture_dir("STRATA_TRAINING_FIXTURE_DIR", STRATA_TRAINING_FIXTURES) / name).string();
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path + " (run generate_training_fixtures.py)");
  return Config::parse(in);
}

// {"shape", "dtype", "values"} -> a tensor on `device`.
inline Tensor tensor_of(const Config& j, const Device& device = default_device()) {
  std::vector<std::int64_t> dims = j["shape"].get<std::vector<std::int64_t>>();
  const Shape shape(dims);
  const std::string dtype = j["dtype"].get<std::string>();
  if (dtype == "float32") return Tensor::from_vector<float>(j["values"].get<std::vector<float>>(), shape, device);
  if (dtype == "float64") return Tensor::from_vector<double>(j["values"].get<std::vector<double>>(), shape, device);
  if (dtype == "int64") {
    return Tensor::from_vector<std::int64_t>(j["values"].get<std::vector<std::int64_t>>(), shape, device);
  }
  if (dtype == "int32") {
    return Tensor::from_vector<std::int32_t>(j["values"].get<std::vector<std::int32_t>>(), shape, device);
  }
  throw std::runtime_error("fixture dtype " + dtype + " not handled");
}

inline std::vector<double> ref_values(const Config& j) { return j["values"].get<std::vector<double>>(); }

inline std::vector<double> values(const Tensor& t) {
  if (t.dtype() == DType::kInt64) {
    std::vector<double> out;
    for (auto v : t.to_vector<std::int64_t>()) out.push_back(static_cast<double>(v));
    return out;
  }
  std::vector<double> out;
  for (float v : (t.dtype() == DType::kFloat32 ? t : cast(t, DType::kFloat32)).to_vector<float>()) out.push_back(v);
  return out;
}

// "" when |got - ref| <= atol + rtol |ref| everywhere (NaN matches NaN), else a
// description of the first differences.
inline std::string differ(const std::vector<double>& got, const std::vector<double>& ref, double rtol = 1e-5,
                            double atol = 1e-6) {
  if (got.size() != ref.size()) return "size " + std::to_string(got.size()) + " != " + std::to_string(ref.size());
  std::ostringstream out;
  out.precision(9);
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    const bool ok = (std::isnan(g) && std::isnan(r)) || std::fabs(g - r) <= atol + rtol * std::fabs(r);
    if (!ok && bad++ < 4) out << "[" << i << "] got " << g << " want " << r << "; ";
  }
  if (bad) out << bad << " of " << got.size() << " differ";
  return out.str();
}

// Compares two configs key for key (order included). Numbers compare as numbers — an
// int stays distinct from a float, and floats agree within float32 rounding — so
// 0.0010000000474974513 and the float32 0.001 match, 0 and 0.0 do not.
inline void expect_same_config(const Config& got, const Config& want, const std::string& path = "config") {
  if (want.is_number() && got.is_number()) {
    EXPECT_EQ(want.is_number_float(), got.is_number_float()) << path << ": got " << got.dump() << " want " << want.dump();
    const double g = got.get<double>(), w = want.get<double>();
    EXPECT_LE(std::fabs(g - w), 1e-7 * std::max(1.0, std::fabs(w))) << path << ": got " << got.dump() << " want "
                                                                      << want.dump();
    return;
  }
  if (want.is_object() && got.is_object()) {
    std::vector<std::string> gk, wk;
    for (auto it = got.begin(); it != got.end(); ++it) gk.push_back(it.key());
    for (auto it = want.begin(); it != want.end(); ++it) wk.push_back(it.key());
    EXPECT_EQ(gk, wk) << path << ": keys differ\n got:  " << got.dump() << "\n want: " << want.dump();
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (got.contains(it.key())) expect_same_config(got[it.key()], it.value(), path + "." + it.key());
    }
    return;
  }
  if (want.is_array() && got.is_array()) {
    ASSERT_EQ(got.size(), want.size()) << path << ": got " << got.dump() << " want " << want.dump();
    for (std::size_t i = 0; i < want.size(); ++i) expect_same_config(got[i], want[i], path + "[" + std::to_string(i) + "]");
    return;
  }
  EXPECT_EQ(got.dump(), want.dump()) << path;
}

// The devices the numeric tests run on: the tests' ref device, and cpu when a backend
// plugin provides its kernels.
inline std::vector<std::string> test_devices() { return {"ref:0", "cpu:0"}; }

inline std::string skip_reason(const std::string& device) {
  const Device d(device);
  if (!is_device_available(d)) return "no usable " + device + " device";
  for (const char* op : {"MatMul", "AddV2", "UnsortedSegmentSum", "LogSoftmax"}) {
    if (!Registry::global().contains(ObjectKind::kKernel, kernel_key(op, d.type(), DType::kFloat32))) {
      return std::string("no ") + op + " kernel for " + device + " (its backend plugin is not loaded)";
    }
  }
  return "";
}

inline std::string device_param_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param.substr(0, info.param.find(':'));
}

}  // namespace strata::training_tests
