// Small helpers of the backend-cuda kernel glue (kernels.cpp, window_ops.cpp): typed views
// of a kernel's inputs and outputs and of its host-side integer inputs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cuda_device.hpp"
#include "strata/plugin/kernel.hpp"

namespace strata::cuda {

using Dims = std::vector<std::int64_t>;

inline const Dims& in_dims(const KernelContext& ctx, std::size_t i) { return ctx.input(i).shape().dims(); }
inline const Dims& out_dims(const KernelContext& ctx, std::size_t i) { return ctx.output_meta(i).shape.dims(); }

template <class T>
const T* in(const KernelContext& ctx, std::size_t i) {
  return static_cast<const T*>(ctx.input(i).data());
}
template <class T>
T* out(Tensor& t) {
  return static_cast<T*>(t.mutable_data());
}

// The values of an int32/int64 input the op definition keeps on the host.
inline std::vector<std::int64_t> host_ints(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  const auto n = static_cast<std::size_t>(t.num_elements());
  std::vector<std::int64_t> v(n);
  if (t.dtype() == DType::kInt32) {
    const auto* p = t.host_data<std::int32_t>();
    std::copy(p, p + n, v.begin());
  } else {
    STRATA_CHECK(t.dtype() == DType::kInt64, BackendError, "op ", ctx.op_name(), ": input ", i,
                 " must be int32 or int64");
    const auto* p = t.host_data<std::int64_t>();
    std::copy(p, p + n, v.begin());
  }
  return v;
}

inline void* stream_of(KernelContext& ctx) { return cuda_device(ctx).stream(); }

}  // namespace strata::cuda
