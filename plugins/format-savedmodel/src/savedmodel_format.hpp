// The "savedmodel" format object (format_savedmodel.cpp), shared by the plugin module and the
// SavedModel fuzzer (tests/fuzz/savedmodel_fuzzer.cpp).
#pragma once

#include <memory>

#include "strata/format.hpp"

namespace strata::savedmodel {

std::shared_ptr<Format> make_format();

}  // namespace strata::savedmodel
