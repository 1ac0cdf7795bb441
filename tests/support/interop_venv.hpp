// Where the interop tests find the Python environment of tests/interop/setup_venv.sh
// (tensorflow-cpu, tf-keras, Keras 3, h5py): $STRATA_INTEROP_VENV, else
// ~/.cache/strata/interop-venv. Tests that need it skip when it is absent.
#pragma once

#include <cstdlib>
#include <filesystem>

namespace strata::test {

inline std::filesystem::path interop_venv() {
  if (const char* v = std::getenv("STRATA_INTEROP_VENV"); v && *v) return v;
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/root") / ".cache/strata/interop-venv";
}

}  // namespace strata::test
