// Helpers shared by the kernels of the backend-onednn plugin: reading inputs and host
// inputs, allocating outputs, per-dtype registration, integer arithmetic that wraps the
// way TensorFlow's does, and a small OpenMP parallel-for that stays out of the way for
// small tensors. Nothing here knows about oneDNN (see dnnl_util.hpp for that).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

#include <omp.h>

#include "strata/error.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/tensor.hpp"
#include "threads.hpp"

namespace strata::onednn {

using Dims = std::vector<std::int64_t>;

inline constexpr std::string_view kDevice = "cpu";

// ---- registration ------------------------------------------------------------------------

template <class T>
struct Tag {
  using type = T;
};

// Registers make(Tag<T>{}) as the cpu kernel of `op` for every T of the SDK's element-type
// list (strata/plugin/kernel.hpp: FloatTypes = float32, float64; NumberTypes = those +
// int32, int64; NumberAndBoolTypes = those + bool). The factory form (one plain kernel
// per type, made once) is this plugin's; add_kernels takes a templated kernel instead.
template <class... Ts, class Make>
void add_typed(Registrar& r, std::string_view op, ElementTypes<Ts...>, Make make) {
  (add_kernel(r, op, kDevice, dtype_of<Ts>, make(Tag<Ts>{})), ...);
}
template <class... Ts, class Make>
void add_typed(Registrar& r, std::string_view op, Make make) {
  add_typed(r, op, ElementTypes<Ts...>{}, make);
}
template <class Make>
void add_f(Registrar& r, std::string_view op, Make make) {
  add_typed(r, op, FloatTypes{}, make);
}
template <class Make>
void add_n(Registrar& r, std::string_view op, Make make) {
  add_typed(r, op, NumberTypes{}, make);
}
template <class Make>
void add_nb(Registrar& r, std::string_view op, Make make) {
  add_typed(r, op, NumberAndBoolTypes{}, make);
}

// ---- arithmetic --------------------------------------------------------------------------

template <class T>
inline constexpr bool kIsFloat = std::is_floating_point_v<T>;

// Integer arithmetic wraps around (two's complement, as TensorFlow's does) without
// signed-overflow UB: computed in the unsigned type of the same width.
template <class T>
using Unsigned = std::make_unsigned_t<std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>>;

template <class T>
inline T add_wrap(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return a + b;
  } else {
    return static_cast<T>(static_cast<Unsigned<T>>(a) + static_cast<Unsigned<T>>(b));
  }
}
template <class T>
inline T sub_wrap(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return a - b;
  } else {
    return static_cast<T>(static_cast<Unsigned<T>>(a) - static_cast<Unsigned<T>>(b));
  }
}
template <class T>
inline T mul_wrap(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return a * b;
  } else {
    // uint32 * uint32 would promote to (signed) int for narrow types; go through uint64.
    return static_cast<T>(static_cast<std::uint64_t>(static_cast<Unsigned<T>>(a)) *
                          static_cast<std::uint64_t>(static_cast<Unsigned<T>>(b)));
  }
}

template <class T>
inline bool is_nan(T v) {
  if constexpr (kIsFloat<T>) {
    return v != v;
  } else {
    return false;
  }
}

// Accumulator of sums: double for float32 (and float64), wrapping uint64 for integers.
template <class T>
using SumAcc = std::conditional_t<kIsFloat<T>, double, std::uint64_t>;

// ---- shapes ------------------------------------------------------------------------------

inline std::int64_t product(const Dims& d, std::size_t begin = 0, std::size_t end = std::size_t(-1)) {
  std::int64_t n = 1;
  end = std::min(end, d.size());
  for (std::size_t i = begin; i < end; ++i) n *= d[i];
  return n;
}

inline const Dims& in_dims(const KernelContext& ctx, std::size_t i) { return ctx.input(i).shape().dims(); }
inline const Dims& out_dims(const KernelContext& ctx, std::size_t i) { return ctx.output_meta(i).shape.dims(); }

inline std::int64_t normalize_axis(const KernelContext& ctx, std::int64_t axis, std::int64_t rank) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  STRATA_CHECK(a >= 0 && a < rank, BackendError, "op ", ctx.op_name(), ": axis ", axis, " is out of range for rank ",
               rank);
  return a;
}

// The SDK's kernel-side checks (strata/plugin/kernel_util.hpp).
using kernel_util::check_num_inputs;
using kernel_util::check_output_dims;

inline void check_same_dims(const KernelContext& ctx, std::size_t a, std::size_t b) {
  STRATA_CHECK(in_dims(ctx, a) == in_dims(ctx, b), BackendError, "op ", ctx.op_name(), " needs inputs ", a, " and ",
               b, " of one shape, got ", ctx.input(a).shape().to_string(), " and ", ctx.input(b).shape().to_string());
}

// ---- inputs and outputs ------------------------------------------------------------------

// Host address of the elements of input i. Bool tensors are read as bytes (0/1).
template <class T>
const T* in(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  STRATA_CHECK(t.dtype() == dtype_of<T>, BackendError, "op ", ctx.op_name(), ": input ", i, " is ",
               dtype_name(t.dtype()), ", the cpu kernel reads ", dtype_name(dtype_of<T>));
  return static_cast<const T*>(t.data());
}
inline const std::byte* in_bytes(const KernelContext& ctx, std::size_t i) {
  return static_cast<const std::byte*>(ctx.input(i).data());
}

// Allocates output i and returns its host address. REQUIRES: the inferred dtype is T.
template <class T>
T* out(KernelContext& ctx, std::size_t i) {
  STRATA_CHECK(ctx.output_meta(i).dtype == dtype_of<T>, BackendError, "op ", ctx.op_name(), ": output ", i,
               " was inferred as ", dtype_name(ctx.output_meta(i).dtype), ", the cpu kernel writes ",
               dtype_name(dtype_of<T>));
  return static_cast<T*>(ctx.allocate_output(i).mutable_data());
}
inline std::byte* out_bytes(KernelContext& ctx, std::size_t i) {
  return static_cast<std::byte*>(ctx.allocate_output(i).mutable_data());
}

// The values of host input i (int32 or int64).
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
    STRATA_THROW(BackendError, "op ", ctx.op_name(), ": host input ", i, " must be int32 or int64, got ",
                 dtype_name(t.dtype()));
  }
  return v;
}

inline std::int64_t host_scalar(const KernelContext& ctx, std::size_t i) {
  const Dims v = host_ints(ctx, i);
  STRATA_CHECK(v.size() == 1, BackendError, "op ", ctx.op_name(), ": host input ", i, " must hold one value, got ",
               v.size());
  return v[0];
}

// The values of input i, an int32 or int64 index tensor (device input on the cpu).
inline Dims index_values(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  const auto n = static_cast<std::size_t>(t.num_elements());
  Dims v(n);
  if (t.dtype() == DType::kInt64) {
    const auto* p = static_cast<const std::int64_t*>(t.data());
    std::copy(p, p + n, v.begin());
  } else if (t.dtype() == DType::kInt32) {
    const auto* p = static_cast<const std::int32_t*>(t.data());
    std::copy(p, p + n, v.begin());
  } else {
    STRATA_THROW(BackendError, "op ", ctx.op_name(), ": input ", i, " must hold int32 or int64 indices, got ",
                 dtype_name(t.dtype()));
  }
  return v;
}

// ---- threads -----------------------------------------------------------------------------

// Work sizes (in elements) below which a loop runs on the calling thread: an OpenMP
// fork/join costs a microsecond or two, which is what a whole small op should take.
inline constexpr std::int64_t kGrainCheap = 1 << 15;      // copies, adds, compares
inline constexpr std::int64_t kGrainExpensive = 1 << 12;  // exp, tanh, erf, pow, ...

// Calls f(begin, end) over [0, n) split into contiguous chunks, one per thread of the
// team (team_threads(): the Strata thread setting, or the governor's count), when n is at
// least twice `grain` and the team has more than one thread; otherwise on the calling
// thread in one piece, without opening an OpenMP region. Check inputs before the loop
// where you can; if f throws anyway (a STRATA_CHECK in a loop, an allocation), the first exception is rethrown on
// the calling thread after the region instead of terminating the process.
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  int threads = 1;
  if (n >= 2 * grain) {
    before_region();
    threads = static_cast<int>(std::min<std::int64_t>(team_threads(), n / grain));
  }
  if (threads <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
  kernel_util::RegionErrors errors;
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const std::int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) errors.run([&] { f(begin, end); });
  }
  errors.rethrow_if_any();
}

}  // namespace strata::onednn
