// How much memory this process can be given, for code that sizes allocations from what a
// file says (a layer's config) and must refuse the impossible before allocating, instead of
// letting a lazily mapped allocation be initialised until the machine runs out. Implemented
// in libstrata.so.
#pragma once

#include "strata/export.hpp"
#include <cstdint>

STRATA_API_BEGIN

namespace strata {

// The least of the machine's physical memory, RLIMIT_AS, RLIMIT_DATA and the cgroup's memory
// limit (v2 memory.max, else v1 memory.limit_in_bytes), read once per process. Layer::add_weight
// refuses a weight larger than this (and, while a WeightBudget is open, the weights of one
// load adding up to more) with a BackendError naming the layer and the bytes, before
// allocating. Never throws. Thread safety: may be called concurrently.
std::uint64_t machine_memory_bytes() noexcept;

}  // namespace strata

STRATA_API_END
