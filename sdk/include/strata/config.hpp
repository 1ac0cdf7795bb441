// Config is the JSON object that describes a layer, model, optimizer or any other
// serialisable object, key for key as Keras writes it. It is nlohmann::ordered_json so
// that keys keep their insertion order and written configs read like Keras's. This is
// the one third-party type the SDK exposes (CONVENTIONS.md); its version is part of the
// plugin toolchain tag.
#pragma once

#include "strata/export.hpp"
#include <nlohmann/json.hpp>

STRATA_API_BEGIN

namespace strata {

using Config = nlohmann::ordered_json;

}  // namespace strata

STRATA_API_END
