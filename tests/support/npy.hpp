// The tests use the runtime's .npy reader and writer (strata/npy.hpp).
#pragma once

#include "strata/npy.hpp"

namespace strata::testing {
using strata::read_npy;
using strata::write_npy;
}  // namespace strata::testing
