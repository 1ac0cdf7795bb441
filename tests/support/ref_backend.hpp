// The `ref` device type, compiled only into the tests. Its memory is host memory behind
// deliberately non-host addresses: every address it hands out has bit 62 flipped, so
// code that dereferences a ref tensor's data() as if it were host memory faults at once
// instead of silently working. Only the ref backend (and the naive reference kernels
// of the op conformance suite, through ref_host_pointer) may turn an address back into
// a pointer. It is the oracle device that other backends are compared against.
#pragma once

#include <cstddef>

namespace strata {
class Registry;
}

namespace strata::testing {

// Registers backend "ref" (provider "tests-ref") into the global registry; idempotent.
void register_ref_backend();
// The host pointer behind a ref device address.
void* ref_host_pointer(const void* device_address);
// Bytes currently allocated on ref:0 (for leak checks in tests).
std::size_t ref_live_bytes();

}  // namespace strata::testing
