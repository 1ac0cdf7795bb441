// The `ref` device type, compiled only into the tests. Its memory is host memory behind
// deliberately non-host addresses: every address it hands out has bit 62 flipped, so
// code that dereferences a ref tensor's data() as if it were host memory faults at once
// instead of silently working. Only the ref backend (and the naive reference kernels
// of the op conformance suite, through ref_host_pointer) may turn an address back into
// a pointer. It is the oracle device that other backends are compared against.
#pragma once

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "strata/dtype.hpp"

namespace strata {
class KernelContext;
class Registrar;
class Registry;
}

namespace strata::testing {

// Registers backend "ref" (provider "tests-ref") into the global registry; idempotent.
void register_ref_backend();
// The host pointer behind a ref device address.
void* ref_host_pointer(const void* device_address);
// Bytes currently allocated on ref:0 (for leak checks in tests).
std::size_t ref_live_bytes();

// Every ref kernel is registered through this: `compute` under "op:ref:dtype", noting
// (op, dtype) in the log of a live RefKernelLog when it runs.
void add_ref_kernel(Registrar& registrar, std::string_view op, DType dtype, std::function<void(KernelContext&)> compute);

// While one lives, the (op, kernel dtype) pairs the ref kernels run, on any thread, are
// collected: what a computation needs from a backend (DType::kInvalid for the ref's
// any-dtype kernels). One at a time.
class RefKernelLog {
 public:
  RefKernelLog();
  ~RefKernelLog();
  RefKernelLog(const RefKernelLog&) = delete;
  RefKernelLog& operator=(const RefKernelLog&) = delete;
  std::set<std::pair<std::string, DType>> kernels() const;
};

}  // namespace strata::testing
