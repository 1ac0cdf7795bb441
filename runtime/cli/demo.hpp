// `strata demo` (see demo.cpp).
#pragma once

#include <string>

namespace strata::cli {

// Runs the demo, saving into `dir` (a new temporary directory when empty). Returns the
// process exit status: 0 when every save that ran round-tripped.
int run_demo(const std::string& dir);

}  // namespace strata::cli
