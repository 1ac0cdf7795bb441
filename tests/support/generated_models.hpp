// A parameterized fixture over models a Python generator wrote at test time: `dir` holds
// index.json ({"models": {NAME: entry}}) and one directory per model with its files and
// x<i>.npy / y<i>.npy arrays. The test's parameter is the model's name.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/config.hpp"
#include "strata/device.hpp"
#include "strata/npy.hpp"
#include "strata/tensor.hpp"

namespace strata::test {

class GeneratedModels : public ::testing::TestWithParam<std::string> {
 protected:
  // Skips without the interop venv; otherwise reads `dir`'s index entry for the parameter.
  void load_index(const std::filesystem::path& dir) {
    dir_ = dir;
    ASSERT_TRUE(std::filesystem::exists(dir_ / "index.json")) << dir_;
    const Config index = Config::parse(read_text(dir_ / "index.json"));
    ASSERT_TRUE(index["models"].contains(GetParam())) << GetParam() << " is not in " << dir_ / "index.json";
    entry_ = index["models"][GetParam()];
  }
  static bool have_venv() { return std::filesystem::exists(venv_python()); }

  std::filesystem::path file(const std::string& name) const { return dir_ / GetParam() / name; }
  std::string indexed(const char* prefix, std::size_t i) const { return prefix + std::to_string(i) + ".npy"; }
  std::vector<Tensor> read_all(const char* prefix, std::size_t n, const Device& device) const {
    std::vector<Tensor> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(read_npy(file(indexed(prefix, i))).to(device));
    return out;
  }

  std::filesystem::path dir_;
  Config entry_;
};

}  // namespace strata::test
