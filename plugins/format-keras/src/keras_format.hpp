// The "keras" format: Keras 3's `.keras` archive (keras_archive.hpp) and its weights files
// (keras3_weights.hpp), with Keras 3's extension rules (docs/FORMATS.md).
#pragma once

#include <memory>

#include "strata/format.hpp"

namespace strata::keras {
std::shared_ptr<Format> make_format();
}  // namespace strata::keras
