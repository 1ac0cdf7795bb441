// The naive reference kernels of the tests' `ref` device: one kernel per op of
// docs/OPS.md and per dtype it lists, written as plain loops straight from the op's
// definition (floating-point sums and products accumulated in long double, integer ones
// in int64 with wrap-around), with no threads, no SIMD and no shared code with any
// backend. Every other backend is compared against them, so clarity beats speed.
//
// Ref tensors live in host memory behind scrambled addresses (ref_backend.hpp): the
// kernels reach their elements only through ref_host_pointer. Host inputs (shapes,
// axes) arrive on the cpu device as OPS.md says.
#pragma once

namespace strata {
class Registrar;
}

namespace strata::testing {

// Stages every ref kernel (keys "Op:ref:dtype"; "Op:ref:*" for the metadata-only ops
// Reshape, ExpandDims, Squeeze, Identity, StopGradient and Shape) into `registrar`.
// Throws PluginError when a key is already staged. register_ref_backend() calls this
// in its own commit; tests need not call it themselves.
void register_ref_kernels(Registrar& registrar);

}  // namespace strata::testing
