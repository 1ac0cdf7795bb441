// Shared by the CLI tests: running the strata executable, scratch directories, .npy data.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../support/interop_venv.hpp"
#include "strata/npy.hpp"
#include "strata/strata.hpp"

namespace strata::clitest {

namespace fs = std::filesystem;

inline std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
inline std::string cli() { return q(STRATA_CLI_PATH); }

// Runs `strata ARGS`, stdout and stderr together in `output`; returns the exit status.
inline int run_strata(const std::string& args, std::string& output) {
  output.clear();
  return strata::test::run_capturing(cli() + " " + args, output);
}

// A fresh directory for one test under the build tree's working directory.
inline fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("strata-cli-test-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Uniform float32 values in [-1, 1), reproducible from `seed`.
inline Tensor random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& e : v) e = u(rng);
  return Tensor::from_vector<float>(v, shape);
}

inline std::size_t count_lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace strata::clitest
