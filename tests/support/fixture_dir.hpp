// Where a test program finds the tf-keras fixture set it checks, and which tf-keras version
// must have written it. The committed set (tests/data/<set>, tf-keras 2.17.0) is compiled in;
// $STRATA_<SET>_FIXTURE_DIR names another directory instead: the second version, which
// tests/interop/fixture_set_current_venv.sh makes with the interop venv's tf-keras (2.21) in a
// cache outside the repository, setting $STRATA_<SET>_FIXTURE_TF_KERAS to that version.
// Expected values always come from the files the generator wrote.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace strata::test {

// $`env` when set and not empty, else `compiled_in`.
inline std::filesystem::path fixture_dir(const char* env, const char* compiled_in) {
  const char* dir = std::getenv(env);
  return dir != nullptr && *dir != '\0' ? std::filesystem::path(dir) : std::filesystem::path(compiled_in);
}

// True when $`env` names a directory other than the committed one (the second version).
inline bool fixture_dir_overridden(const char* env) {
  const char* dir = std::getenv(env);
  return dir != nullptr && *dir != '\0';
}

// The tf-keras version the set must have been written by: $`version_env` when set, else
// `committed` for the committed set, else "" (any: a directory given by hand).
inline std::string expected_fixture_tf_keras(const char* dir_env, const char* version_env, const char* committed) {
  const char* version = std::getenv(version_env);
  if (version != nullptr && *version != '\0') return version;
  return fixture_dir_overridden(dir_env) ? std::string() : std::string(committed);
}

// The tf-keras version the set in use was written by is `written`: is it the committed 2.17
// set? Version-specific checks (byte-exact comparisons with 2.17 files) ask this.
inline bool is_tf_keras_2_17(const std::string& written) { return written.rfind("2.17.", 0) == 0; }

}  // namespace strata::test
