// The runtime's own registry entries (provider "runtime"): the cpu device's backend, the
// op definitions, and the model classes. Kept out of the registry, which only stores
// entries and knows none of them.
#pragma once

namespace strata {
class Registry;
namespace internal {

// Commits every built-in entry into `registry` (Registry::global() does, on first use).
void register_runtime_entries(Registry& registry);

}  // namespace internal
}  // namespace strata
