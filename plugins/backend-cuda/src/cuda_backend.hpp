// The "cuda" Backend (cuda_backend.cpp) and the plugin's probe, for the entry point (plugin.cpp).
#pragma once

#include <cstddef>
#include <memory>

#include "strata/plugin/backend.hpp"

namespace strata::cuda {

std::shared_ptr<Backend> make_backend();
// STRATA_PLUGIN_PROBE: 1 when a CUDA device is usable, else 0 with the reason in `reason`.
int probe(char* reason, std::size_t size);

}  // namespace strata::cuda
