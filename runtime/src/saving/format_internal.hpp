// Shared by the format defaults (format.cpp) and the save/load entry points (saving.cpp).
#pragma once

#include <string>
#include <string_view>

#include "strata/format.hpp"

namespace strata {

// "; it holds weights only: save them with save_weights ..." when `format` lacks
// `missing` but has the capability of the other use; empty otherwise. Appended to the
// "format X cannot ..." messages.
std::string format_capability_hint(const Format& format, FormatCapability missing);

// The plugin (registry provider) that registered format `name`; empty when none did.
std::string format_provider(std::string_view name);

}  // namespace strata
