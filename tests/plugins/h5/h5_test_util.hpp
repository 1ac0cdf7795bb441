// Helpers shared by the format-h5 tests: the fixture index, .npy inputs, tolerance checks,
// scratch directories and h5dump.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/saving.hpp"
#include "fixture_dir.hpp"

namespace strata::h5test {

namespace fs = std::filesystem;

// The tf-keras files: tests/data/h5 (2.17, compiled in) or $STRATA_H5_FIXTURE_DIR (the second
// version, tests/interop/fixture_set_current_venv.sh h5).
inline const fs::path& fixture_dir() {
  static const fs::path dir = strata::test::fixture_dir("STRATA_H5_FIXTURE_DIR", STRATA_H5_FIXTURES);
  return dir;
}

inline fs::path fixture(const std::string& name) { return fixture_dir() / name; }

inline const nlohmann::json& index() {
  static const nlohmann::json j = [] {
    std::ifstream in(fixture("index.json"));
    return nlohmann::json::parse(in);
  }();
  return j;
}

inline std::vector<Tensor> read_all(const nlohmann::json& files) {
  std::vector<Tensor> out;
  for (const auto& f : files) out.push_back(read_npy(fixture(f.get<std::string>())));
  return out;
}

// |got - ref| <= atol + rtol * |ref| with the fixtures' tolerances.
inline void expect_close(const Tensor& got, const Tensor& ref, const std::string& what) {
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  const double atol = index()["meta"]["atol"].get<double>(), rtol = index()["meta"]["rtol"].get<double>();
  const auto g = got.to(Device::cpu()).to_vector<float>(), r = ref.to_vector<float>();
  int bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (!(std::abs(static_cast<double>(g[i]) - r[i]) <= atol + rtol * std::abs(static_cast<double>(r[i])))) {
      if (++bad <= 3) ADD_FAILURE() << what << "[" << i << "]: got " << g[i] << ", Keras " << r[i];
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

inline void expect_predicts(const Model& model, const nlohmann::json& entry) {
  const auto x = read_all(entry["inputs"]);
  const auto y = read_all(entry["outputs"]);
  const auto got = model.predict(x);
  ASSERT_EQ(got.size(), y.size());
  for (std::size_t i = 0; i < y.size(); ++i) expect_close(got[i], y[i], entry["model"].get<std::string>() + " output");
}

inline fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("strata_h5_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs a shell command; returns its exit status and stdout+stderr.
inline int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) output.append(buf.data(), n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline bool have_h5dump() {
  std::string out;
  return run_command("command -v h5dump", out) == 0;
}

// h5dump's text for the attributes of one object (-A, object only); "" without h5dump.
inline std::string h5dump_attributes(const fs::path& file, const std::string& object) {
  if (!have_h5dump()) return {};
  std::string out;
  // -A: headers and attributes, no data; -g: one group (and what lies below it).
  run_command("h5dump -A -g '" + object + "' '" + file.string() + "'", out);
  return out;
}

template <class E>
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    const std::string text = e.what();
    for (const auto& n : needles) EXPECT_NE(text.find(n), std::string::npos) << "missing '" << n << "' in: " << text;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << e.what();
  }
}

}  // namespace strata::h5test
