// Helpers private to the ref kernels (ref_kernels_*.cpp): element access through the
// ref device's scrambled addresses, reading host inputs, index arithmetic, accumulator
// types and per-dtype registration. Nothing here is clever on purpose.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ref_backend.hpp"
#include "strata/error.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/tensor.hpp"

namespace strata::testing::ref {

using Dims = std::vector<std::int64_t>;

// ---- registration ------------------------------------------------------------------------

template <class T>
struct Tag {
  using type = T;
};

// Registers make(Tag<T>{}) as the ref kernel of `op` for every T in Ts.
template <class... Ts, class Make>
void add_typed(Registrar& r, std::string_view op, Make make) {
  (add_ref_kernel(r, op, dtype_of<Ts>, make(Tag<Ts>{})), ...);
}
// F = float32, float64; N = F + int32, int64; NB = N + bool.
template <class Make>
void add_f(Registrar& r, std::string_view op, Make make) {
  add_typed<float, double>(r, op, make);
}
template <class Make>
void add_n(Registrar& r, std::string_view op, Make make) {
  add_typed<float, double, std::int32_t, std::int64_t>(r, op, make);
}
template <class Make>
void add_nb(Registrar& r, std::string_view op, Make make) {
  add_typed<float, double, std::int32_t, std::int64_t, bool>(r, op, make);
}

// ---- arithmetic --------------------------------------------------------------------------

template <class T>
inline constexpr bool kIsFloat = std::is_floating_point_v<T>;

// Sums and products: long double for floating point, int64 (wrapping) for integers.
template <class T>
using Acc = std::conditional_t<kIsFloat<T>, long double, std::int64_t>;

// Two's-complement wrap-around (TensorFlow's integer overflow behaviour) without signed
// overflow: the arithmetic is done on uint64 and converted back (modular since C++20).
inline std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
inline std::int64_t wrap_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
inline std::int64_t wrap_mul(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
}

template <class T>
Acc<T> acc_add(Acc<T> a, Acc<T> b) {
  if constexpr (kIsFloat<T>) {
    return a + b;
  } else {
    return wrap_add(a, b);
  }
}
template <class T>
Acc<T> acc_mul(Acc<T> a, Acc<T> b) {
  if constexpr (kIsFloat<T>) {
    return a * b;
  } else {
    return wrap_mul(a, b);
  }
}
// An accumulator converted to the element type (integers wrap to the narrower type).
template <class T>
T from_acc(Acc<T> v) {
  return static_cast<T>(v);
}

// ---- shapes and indices ------------------------------------------------------------------

inline std::int64_t num_elements(const Dims& dims) {
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// The multi-index of row-major position `linear` in `dims`. REQUIRES: linear < numel.
inline Dims unravel(std::int64_t linear, const Dims& dims) {
  Dims idx(dims.size(), 0);
  for (std::size_t d = dims.size(); d-- > 0;) {
    idx[d] = linear % dims[d];
    linear /= dims[d];
  }
  return idx;
}

// Row-major position of multi-index `idx` in `dims`.
inline std::int64_t ravel(const Dims& idx, const Dims& dims) {
  std::int64_t linear = 0;
  for (std::size_t d = 0; d < dims.size(); ++d) linear = linear * dims[d] + idx[d];
  return linear;
}

inline std::int64_t normalize_axis(const KernelContext& ctx, std::int64_t axis, std::int64_t rank) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  STRATA_CHECK(a >= 0 && a < rank, BackendError, "ref kernel ", ctx.op_name(), ": axis ", axis,
               " is out of range for rank ", rank);
  return a;
}

// ---- inputs and outputs ------------------------------------------------------------------

inline void check_num_inputs(const KernelContext& ctx, std::size_t n) {
  STRATA_CHECK(ctx.num_inputs() == n, BackendError, "ref kernel ", ctx.op_name(), " takes ", n, " inputs, got ",
               ctx.num_inputs());
}

inline const Dims& in_dims(const KernelContext& ctx, std::size_t i) { return ctx.input(i).shape().dims(); }
inline const Dims& out_dims(const KernelContext& ctx, std::size_t i) { return ctx.output_meta(i).shape.dims(); }

// Host address of the elements of device input i, which must be a ref tensor of dtype T.
template <class T>
const T* in(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  STRATA_CHECK(t.dtype() == dtype_of<T>, BackendError, "ref kernel ", ctx.op_name(), ": input ", i, " is ",
               dtype_name(t.dtype()), ", the kernel reads ", dtype_name(dtype_of<T>));
  STRATA_CHECK(t.device().type() == "ref", BackendError, "ref kernel ", ctx.op_name(), ": input ", i, " is on ",
               t.device().to_string(), ", not on the ref device");
  return static_cast<const T*>(ref_host_pointer(t.data()));
}

// Raw bytes of device input i (any dtype), for kernels that only move elements.
inline const std::byte* in_bytes(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  STRATA_CHECK(t.device().type() == "ref", BackendError, "ref kernel ", ctx.op_name(), ": input ", i, " is on ",
               t.device().to_string(), ", not on the ref device");
  return static_cast<const std::byte*>(ref_host_pointer(t.data()));
}

// Allocates output i (dtype and shape as inferred) and returns the host address of its
// elements. REQUIRES: the inferred dtype is T.
template <class T>
T* out(KernelContext& ctx, std::size_t i) {
  STRATA_CHECK(ctx.output_meta(i).dtype == dtype_of<T>, BackendError, "ref kernel ", ctx.op_name(), ": output ", i,
               " was inferred as ", dtype_name(ctx.output_meta(i).dtype), ", the kernel writes ",
               dtype_name(dtype_of<T>));
  Tensor& t = ctx.allocate_output(i);
  STRATA_CHECK(t.device().type() == "ref", BackendError, "ref kernel ", ctx.op_name(), " must run on the ref device, not ",
               t.device().to_string());
  return static_cast<T*>(ref_host_pointer(t.mutable_data()));
}

inline std::byte* out_bytes(KernelContext& ctx, std::size_t i) {
  Tensor& t = ctx.allocate_output(i);
  STRATA_CHECK(t.device().type() == "ref", BackendError, "ref kernel ", ctx.op_name(), " must run on the ref device, not ",
               t.device().to_string());
  return static_cast<std::byte*>(ref_host_pointer(t.mutable_data()));
}

// The values of host input i (int32 or int64, on the cpu).
inline Dims host_ints(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  Dims v;
  if (t.dtype() == DType::kInt64) {
    const auto* p = t.host_data<std::int64_t>();
    v.assign(p, p + t.num_elements());
  } else if (t.dtype() == DType::kInt32) {
    const auto* p = t.host_data<std::int32_t>();
    v.assign(p, p + t.num_elements());
  } else {
    STRATA_THROW(BackendError, "ref kernel ", ctx.op_name(), ": host input ", i, " must be int32 or int64, got ",
                 dtype_name(t.dtype()));
  }
  return v;
}

// The single value of host input i.
inline std::int64_t host_scalar(const KernelContext& ctx, std::size_t i) {
  const Dims v = host_ints(ctx, i);
  STRATA_CHECK(v.size() == 1, BackendError, "ref kernel ", ctx.op_name(), ": host input ", i,
               " must hold one value, got ", v.size());
  return v[0];
}

// The values of device input i, an int32 or int64 index tensor on the ref device.
inline Dims device_ints(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  const auto n = static_cast<std::size_t>(t.num_elements());
  Dims v(n);
  if (t.dtype() == DType::kInt64) {
    const auto* p = in<std::int64_t>(ctx, i);
    for (std::size_t k = 0; k < n; ++k) v[k] = p[k];
  } else if (t.dtype() == DType::kInt32) {
    const auto* p = in<std::int32_t>(ctx, i);
    for (std::size_t k = 0; k < n; ++k) v[k] = p[k];
  } else {
    STRATA_THROW(BackendError, "ref kernel ", ctx.op_name(), ": input ", i, " must be int32 or int64 indices, got ",
                 dtype_name(t.dtype()));
  }
  return v;
}

// Strides to read input i broadcast (NumPy rules) to `out`; BackendError when it does
// not broadcast to exactly that shape.
inline Dims broadcast_strides(const KernelContext& ctx, std::size_t i, const Dims& out) {
  const Dims& d = in_dims(ctx, i);
  bool ok = d.size() <= out.size();
  for (std::size_t k = 0; ok && k < d.size(); ++k) {
    const std::int64_t o = out[out.size() - d.size() + k];
    ok = d[k] == 1 || d[k] == o;
  }
  STRATA_CHECK(ok, BackendError, "ref kernel ", ctx.op_name(), ": input ", i, " of shape ",
               ctx.input(i).shape().to_string(), " does not broadcast to the output shape ", Shape(out).to_string());
  return kernel_util::broadcast_strides(d, out);
}

// BackendError unless `got` (what the kernel computed from its inputs) is the inferred
// shape of output i.
inline void check_out_dims(const KernelContext& ctx, std::size_t i, const Dims& got) {
  STRATA_CHECK(got == out_dims(ctx, i), BackendError, "ref kernel ", ctx.op_name(), " computes output ", i,
               " of shape ", Shape(got).to_string(), " but ", ctx.output_meta(i).shape.to_string(),
               " was inferred");
}

inline void check_same_dims(const KernelContext& ctx, std::size_t a, std::size_t b) {
  STRATA_CHECK(in_dims(ctx, a) == in_dims(ctx, b), BackendError, "ref kernel ", ctx.op_name(), " needs inputs ", a,
               " and ", b, " of one shape, got ", ctx.input(a).shape().to_string(), " and ",
               ctx.input(b).shape().to_string());
}

// ---- registration entry points of the kernel files ---------------------------------------

void register_elementwise_kernels(Registrar& r);
void register_cast_kernels(Registrar& r);
void register_reduction_kernels(Registrar& r);
void register_array_kernels(Registrar& r);
void register_nn_kernels(Registrar& r);
void register_random_kernels(Registrar& r);

}  // namespace strata::testing::ref
