// The JsonFormat object (json_format.cpp) that the plugin entry point (plugin.cpp) registers.
#pragma once

#include <memory>

#include "strata/format.hpp"

namespace strata::json_format {

std::shared_ptr<Format> make_format();

}  // namespace strata::json_format
