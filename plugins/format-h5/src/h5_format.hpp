// The H5Format object (h5_format.cpp) that the plugin entry point (plugin.cpp) registers.
#pragma once

#include <memory>

#include "strata/format.hpp"

namespace strata::h5 {

std::shared_ptr<Format> make_format();

}  // namespace strata::h5
