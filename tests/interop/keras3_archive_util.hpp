// Helpers shared by the Keras 3 `.keras` archive interop tests (keras3_archive_test.cpp against
// Keras 3 on TensorFlow, keras3_jax_archive_test.cpp against Keras 3 on JAX): the .npy arrays
// the scripts exchange, the comparisons, the model Strata builds itself, and the report the
// Python loaders print.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/tensor.hpp"
#include "strata/training.hpp"

namespace strata::test::keras3 {

// `p` in single quotes, for a shell command line.
inline std::string q(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

// dir/<prefix>0.npy, dir/<prefix>1.npy, ... up to the first missing one.
inline std::vector<Tensor> npys(const std::filesystem::path& dir, const std::string& prefix) {
  std::vector<Tensor> out;
  for (int i = 0;; ++i) {
    const std::filesystem::path p = dir / (prefix + std::to_string(i) + ".npy");
    if (!std::filesystem::exists(p)) break;
    out.push_back(read_npy(p));
  }
  return out;
}

inline void write_npys(const std::filesystem::path& dir, const std::string& prefix,
                       const std::vector<Tensor>& tensors) {
  for (std::size_t i = 0; i < tensors.size(); ++i) write_npy(dir / (prefix + std::to_string(i) + ".npy"), tensors[i]);
}

inline std::vector<double> values(const Tensor& t) {
  return cast(t.to(Device::cpu()), DType::kFloat64).to_vector<double>();
}

// "" when every element of `got` is within floor + rel * |want| of `want`, else what differs.
inline std::string differs_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double rel,
                                 double floor) {
  if (got.size() != want.size()) return std::to_string(got.size()) + " arrays, expected " + std::to_string(want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].shape() != want[i].shape()) {
      return "array " + std::to_string(i) + ": shape " + got[i].shape().to_string() + ", expected " +
             want[i].shape().to_string();
    }
    const auto g = values(got[i]);
    const auto w = values(want[i]);
    for (std::size_t k = 0; k < w.size(); ++k) {
      if (!(std::abs(g[k] - w[k]) <= floor + rel * std::abs(w[k]))) {
        std::ostringstream s;
        s.precision(9);
        s << "array " << i << " element " << k << ": " << g[k] << ", expected " << w[k];
        return s.str();
      }
    }
  }
  return "";
}

// "" when `got` equals `want` bit for bit (dtype, shape and every byte), else what differs.
inline std::string differs_exact(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  if (got.size() != want.size()) return std::to_string(got.size()) + " arrays, expected " + std::to_string(want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const Tensor g = got[i].to(Device::cpu());
    const Tensor& w = want[i];
    if (g.dtype() != w.dtype() || g.shape() != w.shape()) {
      return "array " + std::to_string(i) + ": " + std::string(dtype_name(g.dtype())) + g.shape().to_string() +
             ", expected " + std::string(dtype_name(w.dtype())) + w.shape().to_string();
    }
    if (g.dtype() == DType::kFloat32) {
      const auto a = g.to_vector<float>();
      const auto b = w.to_vector<float>();
      for (std::size_t k = 0; k < a.size(); ++k) {
        if (std::memcmp(&a[k], &b[k], sizeof(float)) != 0) {
          std::ostringstream s;
          s.precision(9);
          s << "array " << i << " element " << k << ": " << a[k] << ", expected " << b[k];
          return s.str();
        }
      }
    } else if (values(g) != values(w)) {
      return "array " + std::to_string(i) + ": values differ";
    }
  }
  return "";
}

inline std::vector<Tensor> zeros_of(const Model& model) {
  std::vector<Tensor> out;
  for (const auto& w : model.get_weights()) out.push_back(zeros_like(w));
  return out;
}

// "strata_native", the model Strata builds itself (no Keras file behind it): Dense(5, relu)
// "hidden" on `inputs` features, Dense(`outputs`) "head", Adam(0.01) on mse, fitted one epoch
// of batch 8 on x, y.
inline std::shared_ptr<Model> strata_native_model(int inputs, int outputs, const std::vector<Tensor>& x,
                                                  const std::vector<Tensor>& y) {
  auto model = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{make_layer("Dense", Config{{"units", 5},
                                                                     {"activation", "relu"},
                                                                     {"name", "hidden"},
                                                                     {"batch_input_shape", {nullptr, inputs}}}),
                                          make_layer("Dense", Config{{"units", outputs}, {"name", "head"}})},
      "strata_native");
  model->compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}}}}, Config("mse"));
  FitOptions options;
  options.verbose = 0;
  options.epochs = 1;
  options.batch_size = 8;
  model->fit(x, y, options);
  return model;
}

// What a test wrote for its loader script (keras3_load_strata.py, keras3_jax_load_strata.py)
// and what that script reported, once per process.
struct StrataFiles {
  std::filesystem::path dir;
  std::map<std::string, std::string> problems;  // model -> what failed on Strata's side
  std::map<std::string, std::string> lines;     // "<model> <check>" -> "ok" or the failure
  std::string report;
  int rc = -1;
};

// Runs the loader's `command` into f.report / f.rc and parses its lines, "<model> <check>: ok"
// or "<model> <check>: FAIL ..." (the SUMMARY line left out).
inline void run_loader(const std::string& command, StrataFiles& f) {
  f.rc = run_capturing(command, f.report);
  std::istringstream lines(f.report);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(": ");
    if (colon == std::string::npos || line.rfind("SUMMARY", 0) == 0) continue;
    f.lines[line.substr(0, colon)] = line.substr(colon + 2);
  }
}

// Strata wrote `model`'s files without a problem, and `script` reported "ok" for each check.
inline void expect_ok(const StrataFiles& f, const std::string& script, const std::string& model,
                      const std::vector<std::string>& checks) {
  const auto p = f.problems.find(model);
  EXPECT_TRUE(p == f.problems.end() || p->second.empty()) << p->second;
  for (const auto& check : checks) {
    const auto it = f.lines.find(model + " " + check);
    if (it == f.lines.end()) {
      ADD_FAILURE() << script << " did not run '" << check << "' for " << model << " (exit " << f.rc << "):\n"
                    << f.report;
    } else {
      EXPECT_EQ(it->second, "ok") << model << " " << check;
    }
  }
}

}  // namespace strata::test::keras3
