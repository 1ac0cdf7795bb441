// The backend-cuda plugin's kernels whose results are exact or rule-bound rather than
// rounded arithmetic: casts between every dtype the cpu casts (float16, bfloat16, int8
// and uint8 included), bool logic, integer division, powers and matrix products, segment
// sums of every dtype, and OneHot of any element type. Each follows the rule docs/OPS.md
// gives and the ref kernels implement (tests/support/ref_kernels_*.cpp), so results are
// bit-equal to the cpu's (float segment sums excepted: atomic adds sum in a run-dependent
// order). Launchers are declared in launch.hpp.

#include <cstdint>
#include <type_traits>

#include "element_math.cuh"
#include "grid.cuh"
#include "launch.hpp"

namespace strata::cuda {
namespace {

// ---- casts (the rules: element_math.cuh) ------------------------------------------------

template <class From, class To>
__global__ void cast_kernel(std::int64_t n, const From* in, To* out) {
  STRATA_GRID_LOOP(i, n) { out[i] = write_num<To>(read_num(in[i])); }
}

template <class From>
int cast_from(cudaStream_t s, Elem to, std::int64_t n, const From* in, void* out) {
  const unsigned blocks = blocks_for(n);
  switch (to) {
    case Elem::kFloat32: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<float*>(out)); break;
    case Elem::kFloat64: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<double*>(out)); break;
    case Elem::kInt32: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<std::int32_t*>(out)); break;
    case Elem::kInt64: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<std::int64_t*>(out)); break;
    case Elem::kBool: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<bool*>(out)); break;
    case Elem::kFloat16: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<__half*>(out)); break;
    case Elem::kBFloat16: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<__nv_bfloat16*>(out)); break;
    case Elem::kInt8: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<std::int8_t*>(out)); break;
    case Elem::kUInt8: STRATA_LAUNCH(cast_kernel, blocks, s)(n, in, static_cast<std::uint8_t*>(out)); break;
  }
  return status();
}

// ---- bool ---------------------------------------------------------------------------------

__global__ void logical_kernel(Logical op, Bcast b, const bool* x, const bool* y, bool* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_GRID_LOOP(i, n) {
    const bool u = x[bcast_offset(i, b, 0)], v = y[bcast_offset(i, b, 1)];
    switch (op) {
      case Logical::kAnd: out[i] = u && v; break;
      case Logical::kOr: out[i] = u || v; break;
      case Logical::kEqual: out[i] = u == v; break;
      case Logical::kNotEqual: out[i] = u != v; break;
    }
  }
}

__global__ void logical_not_kernel(std::int64_t n, const bool* x, bool* out) {
  STRATA_GRID_LOOP(i, n) { out[i] = !x[i]; }
}

// ---- integers -----------------------------------------------------------------------------

template <class T>
__global__ void checked_binary_kernel(Binary op, Bcast b, const T* x, const T* y, T* out, std::int64_t* bad) {
  const std::int64_t n = bcast_count(b);
  STRATA_GRID_LOOP(i, n) {
    const T u = x[bcast_offset(i, b, 0)], v = y[bcast_offset(i, b, 1)];
    T r = T(0);
    const bool ok = op == Binary::kPow ? int_power(u, v, r) : int_divide(u, v, r);
    if (!ok) *bad = i + 1;
    out[i] = r;
  }
}

template <class T>
__global__ void matmul_kernel(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
                              const T* b, T* c) {
  STRATA_GRID_LOOP(i, m * n) {
    const std::int64_t row = i / n, col = i % n;
    unsigned long long acc = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const T av = ta ? a[j * m + row] : a[row * k + j];
      const T bv = tb ? b[col * k + j] : b[j * n + col];
      acc += static_cast<unsigned long long>(static_cast<long long>(av)) *
             static_cast<unsigned long long>(static_cast<long long>(bv));
    }
    c[i] = wrapping<T>(acc);
  }
}

// out[ids[row], c] += data[row, c]: floats by atomic adds, integers by wrapping atomic
// adds, bool as logical or. Ids outside [0, segments) are dropped.
template <class T, class I>
__global__ void segment_sum_kernel(std::int64_t n, std::int64_t inner, std::int64_t segments, const T* data,
                                   const I* ids, T* out) {
  STRATA_GRID_LOOP(i, n * inner) {
    const std::int64_t row = i / inner, c = i % inner;
    const std::int64_t id = static_cast<std::int64_t>(ids[row]);
    if (id < 0 || id >= segments) continue;
    T* at = out + id * inner + c;
    if constexpr (std::is_same_v<T, bool>) {
      if (data[i]) *at = true;  // every writer stores the same value
    } else if constexpr (std::is_floating_point_v<T>) {
      atomicAdd(at, data[i]);
    } else if constexpr (sizeof(T) == 4) {
      atomicAdd(reinterpret_cast<unsigned int*>(at), static_cast<unsigned int>(data[i]));
    } else {
      atomicAdd(reinterpret_cast<unsigned long long*>(at), static_cast<unsigned long long>(data[i]));
    }
  }
}

template <class T>
int segment_sum_t(void* s, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments, const T* data,
                  const void* ids, T* out) {
  if (n * inner == 0) return 0;
  const unsigned blocks = blocks_for(n * inner);
  if (ids_int64) {
    STRATA_LAUNCH(segment_sum_kernel, blocks, as_stream(s))(n, inner, segments, data,
                                                             static_cast<const std::int64_t*>(ids), out);
  } else {
    STRATA_LAUNCH(segment_sum_kernel, blocks, as_stream(s))(n, inner, segments, data,
                                                             static_cast<const std::int32_t*>(ids), out);
  }
  return status();
}

// ---- OneHot -------------------------------------------------------------------------------

template <class T, class I>
__global__ void one_hot_kernel(std::int64_t outer, std::int64_t depth, std::int64_t inner, const I* indices,
                               const T* on, const T* off, T* out) {
  STRATA_GRID_LOOP(i, outer * depth * inner) {
    const std::int64_t n = i % inner, d = (i / inner) % depth, o = i / (inner * depth);
    out[i] = static_cast<std::int64_t>(indices[o * inner + n]) == d ? *on : *off;
  }
}

template <class T>
int one_hot_t(cudaStream_t s, bool i64, std::int64_t outer, std::int64_t depth, std::int64_t inner,
              const void* indices, const void* on, const void* off, void* out) {
  const unsigned blocks = blocks_for(outer * depth * inner);
  const auto* on_v = static_cast<const T*>(on);
  const auto* off_v = static_cast<const T*>(off);
  if (i64) {
    STRATA_LAUNCH(one_hot_kernel, blocks, s)(outer, depth, inner, static_cast<const std::int64_t*>(indices), on_v,
                                               off_v, static_cast<T*>(out));
  } else {
    STRATA_LAUNCH(one_hot_kernel, blocks, s)(outer, depth, inner, static_cast<const std::int32_t*>(indices), on_v,
                                               off_v, static_cast<T*>(out));
  }
  return status();
}

}  // namespace

int cast(void* s, Elem from, Elem to, std::int64_t n, const void* in, void* out) {
  const cudaStream_t st = as_stream(s);
  switch (from) {
    case Elem::kFloat32: return cast_from(st, to, n, static_cast<const float*>(in), out);
    case Elem::kFloat64: return cast_from(st, to, n, static_cast<const double*>(in), out);
    case Elem::kInt32: return cast_from(st, to, n, static_cast<const std::int32_t*>(in), out);
    case Elem::kInt64: return cast_from(st, to, n, static_cast<const std::int64_t*>(in), out);
    case Elem::kBool: return cast_from(st, to, n, static_cast<const bool*>(in), out);
    case Elem::kFloat16: return cast_from(st, to, n, static_cast<const __half*>(in), out);
    case Elem::kBFloat16: return cast_from(st, to, n, static_cast<const __nv_bfloat16*>(in), out);
    case Elem::kInt8: return cast_from(st, to, n, static_cast<const std::int8_t*>(in), out);
    case Elem::kUInt8: return cast_from(st, to, n, static_cast<const std::uint8_t*>(in), out);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

int logical(void* s, Logical op, const Bcast& b, const bool* x, const bool* y, bool* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_LAUNCH(logical_kernel, blocks_for(n), as_stream(s))(op, b, x, y, out);
  return status();
}

int logical_not(void* s, std::int64_t n, const bool* x, bool* out) {
  STRATA_LAUNCH(logical_not_kernel, blocks_for(n), as_stream(s))(n, x, out);
  return status();
}

#define STRATA_CUDA_INTEGER_LAUNCHERS(T)                                                                          \
  int checked_binary(void* s, Binary op, const Bcast& b, const T* x, const T* y, T* out, std::int64_t* bad) {    \
    const std::int64_t n = bcast_count(b);                                                                        \
    STRATA_LAUNCH(checked_binary_kernel, blocks_for(n), as_stream(s))(op, b, x, y, out, bad);                  \
    return status();                                                                                              \
  }                                                                                                               \
  int matmul(void* s, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* b, T* c) { \
    STRATA_LAUNCH(matmul_kernel, blocks_for(m * n), as_stream(s))(ta, tb, m, n, k, a, b, c);                   \
    return status();                                                                                              \
  }                                                                                                               \
  int segment_sum(void* s, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments, const T* data, \
                  const void* ids, T* out) {                                                                      \
    return segment_sum_t(s, ids_int64, n, inner, segments, data, ids, out);                                       \
  }
STRATA_CUDA_INTEGER_LAUNCHERS(std::int32_t)
STRATA_CUDA_INTEGER_LAUNCHERS(std::int64_t)

int segment_sum(void* s, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments, const float* data,
                const void* ids, float* out) {
  return segment_sum_t(s, ids_int64, n, inner, segments, data, ids, out);
}
int segment_sum(void* s, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments, const double* data,
                const void* ids, double* out) {
  return segment_sum_t(s, ids_int64, n, inner, segments, data, ids, out);
}

int segment_sum(void* s, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments, const bool* data,
                const void* ids, bool* out) {
  return segment_sum_t(s, ids_int64, n, inner, segments, data, ids, out);
}

int one_hot(void* s, int element_bytes, bool indices_int64, std::int64_t outer, std::int64_t depth, std::int64_t inner,
            const void* indices, const void* on, const void* off, void* out) {
  if (outer * depth * inner == 0) return 0;
  const cudaStream_t st = as_stream(s);
  switch (element_bytes) {
    case 1: return one_hot_t<std::uint8_t>(st, indices_int64, outer, depth, inner, indices, on, off, out);
    case 4: return one_hot_t<std::uint32_t>(st, indices_int64, outer, depth, inner, indices, on, off, out);
    case 8: return one_hot_t<std::uint64_t>(st, indices_int64, outer, depth, inner, indices, on, off, out);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace strata::cuda
