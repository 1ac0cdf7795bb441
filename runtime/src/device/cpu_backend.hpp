// The runtime's built-in "cpu" backend: host memory, 64-byte aligned, so tensors and
// file formats work before any plugin is loaded. Compute kernels for device type "cpu"
// come from the oneDNN backend plugin.
#pragma once

#include <memory>

#include "strata/plugin/backend.hpp"

namespace strata::internal {

std::shared_ptr<Backend> make_cpu_backend();

}  // namespace strata::internal
