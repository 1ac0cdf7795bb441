// The backend-cuda plugin's own CUDA kernels: element-wise with broadcasting, unary math
// and activations, gradient helpers, fills, reductions, bias, softmax and transpose (casts,
// integer and bool ops: exact.cu).
// Simple, one thread per output element with grid-stride loops; transcendental functions
// and accumulations in double so results stay within the float32 conformance tolerance
// of the ref kernels (docs/OPS.md). Launchers are declared in launch.hpp.

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "element_math.cuh"
#include "grid.cuh"
#include "launch.hpp"

namespace strata::cuda {
namespace {

template <class T>
__global__ void binary_kernel(Binary op, Bcast b, const T* x, const T* y, T* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_GRID_LOOP(i, n) { out[i] = binary_op(op, x[bcast_offset(i, b, 0)], y[bcast_offset(i, b, 1)]); }
}

template <class T>
__global__ void compare_kernel(Compare op, Bcast b, const T* x, const T* y, bool* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_GRID_LOOP(i, n) {
    const T u = x[bcast_offset(i, b, 0)], v = y[bcast_offset(i, b, 1)];
    bool r = false;
    switch (op) {
      case Compare::kEqual: r = u == v; break;
      case Compare::kNotEqual: r = u != v; break;
      case Compare::kGreater: r = u > v; break;
      case Compare::kGreaterEqual: r = u >= v; break;
      case Compare::kLess: r = u < v; break;
      case Compare::kLessEqual: r = u <= v; break;
    }
    out[i] = r;
  }
}

template <class T>
__global__ void select_kernel(Bcast b, const bool* c, const T* t, const T* e, T* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_GRID_LOOP(i, n) { out[i] = c[bcast_offset(i, b, 0)] ? t[bcast_offset(i, b, 1)] : e[bcast_offset(i, b, 2)]; }
}


template <class T>
__global__ void unary_kernel(Unary op, std::int64_t n, const T* x, T* out) {
  STRATA_GRID_LOOP(i, n) { out[i] = unary_op(op, x[i]); }
}


template <class T>
__global__ void pair_kernel(Pair op, std::int64_t n, const T* a, const T* b, T* out) {
  STRATA_GRID_LOOP(i, n) { out[i] = pair_op(op, a[i], b[i]); }
}

template <class T>
__global__ void fill_kernel(std::int64_t n, T value, T* out) {
  STRATA_GRID_LOOP(i, n) { out[i] = value; }
}

template <class T>
__global__ void reduce_kernel(Reduce op, ReducePlan p, const T* in, T* out) {
  // Floats accumulate in double; integers in their own type, wrapping like the cpu.
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  STRATA_GRID_LOOP(o, p.outputs) {
    std::int64_t base = 0, rest = o;
    for (int d = p.kept_rank - 1; d >= 0; --d) {
      base += (rest % p.kept_dims[d]) * p.kept_strides[d];
      rest /= p.kept_dims[d];
    }
    Acc acc = Acc(0);
    if (op == Reduce::kProd) acc = Acc(1);
    bool first = true;
    for (std::int64_t r = 0; r < p.reduced_count; ++r) {
      std::int64_t off = base, k = r;
      for (int d = p.reduced_rank - 1; d >= 0; --d) {
        off += (k % p.reduced_dims[d]) * p.reduced_strides[d];
        k /= p.reduced_dims[d];
      }
      const Acc v = static_cast<Acc>(in[off]);
      switch (op) {
        case Reduce::kSum:
        case Reduce::kMean: acc = wrap_add(acc, v); break;
        case Reduce::kProd: acc = wrap_mul(acc, v); break;
        case Reduce::kMax: acc = first ? v : ((is_nan(v) || is_nan(acc)) ? v + acc : (v > acc ? v : acc)); break;
        case Reduce::kMin: acc = first ? v : ((is_nan(v) || is_nan(acc)) ? v + acc : (v < acc ? v : acc)); break;
      }
      first = false;
    }
    if (first && (op == Reduce::kMax || op == Reduce::kMin)) {
      // An empty reduction: the identity (infinities for floats, the type's limits for ints).
      if constexpr (std::is_floating_point_v<T>) {
        acc = op == Reduce::kMax ? -INFINITY : INFINITY;
      } else {
        using U = std::make_unsigned_t<T>;
        const T lowest = static_cast<T>(U(1) << (sizeof(T) * 8 - 1));
        acc = op == Reduce::kMax ? lowest : static_cast<T>(~static_cast<U>(lowest));
      }
    }
    if (op == Reduce::kMean) {
      if constexpr (std::is_floating_point_v<T>) {
        acc /= static_cast<double>(p.reduced_count);  // empty: NaN, as TensorFlow
      } else if (p.reduced_count > 0) {
        acc = static_cast<Acc>(acc / static_cast<Acc>(p.reduced_count));
      }
    }
    out[o] = static_cast<T>(acc);
  }
}

template <class T>
__global__ void bias_add_kernel(std::int64_t rows, std::int64_t c, const T* x, const T* bias, T* out) {
  STRATA_GRID_LOOP(i, rows * c) { out[i] = x[i] + bias[i % c]; }
}

template <class T>
__global__ void bias_add_grad_kernel(std::int64_t rows, std::int64_t c, const T* g, T* out) {
  STRATA_GRID_LOOP(j, c) {
    double acc = 0;
    for (std::int64_t r = 0; r < rows; ++r) acc += static_cast<double>(g[r * c + j]);
    out[j] = static_cast<T>(acc);
  }
}

template <class T>
__global__ void softmax_kernel(bool log_softmax, std::int64_t rows, std::int64_t cols, const T* x, T* out) {
  STRATA_GRID_LOOP(r, rows) {
    const T* row = x + r * cols;
    T* o = out + r * cols;
    double m = -INFINITY;
    for (std::int64_t j = 0; j < cols; ++j) m = static_cast<double>(row[j]) > m ? static_cast<double>(row[j]) : m;
    double sum = 0;
    for (std::int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(row[j]) - m);
    for (std::int64_t j = 0; j < cols; ++j) {
      const double v = static_cast<double>(row[j]);
      o[j] = static_cast<T>(log_softmax ? (v - m) - std::log(sum) : std::exp(v - m) / sum);
    }
  }
}

template <class T>
__global__ void softmax_grad_kernel(std::int64_t rows, std::int64_t cols, const T* s, const T* g, T* out) {
  STRATA_GRID_LOOP(r, rows) {
    double dot = 0;
    for (std::int64_t j = 0; j < cols; ++j) dot += static_cast<double>(g[r * cols + j]) * static_cast<double>(s[r * cols + j]);
    for (std::int64_t j = 0; j < cols; ++j) {
      out[r * cols + j] =
          static_cast<T>((static_cast<double>(g[r * cols + j]) - dot) * static_cast<double>(s[r * cols + j]));
    }
  }
}

template <class T>
__global__ void cumprod_kernel(bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner,
                               const T* in, T* out) {
  STRATA_GRID_LOOP(line, outer * inner) {
    const std::int64_t o = line / inner, k = line % inner;
    double p = 1.0;
    for (std::int64_t step = 0; step < len; ++step) {
      const std::int64_t j = reverse ? len - 1 - step : step;
      const std::int64_t at = (o * len + j) * inner + k;
      if (exclusive) {
        out[at] = static_cast<T>(p);
        p *= static_cast<double>(in[at]);
      } else {
        p *= static_cast<double>(in[at]);
        out[at] = static_cast<T>(p);
      }
    }
  }
}

// Floats accumulate in double; integers in 64 bits modulo 2^64 (wrapping, as the cpu's).
template <class T>
using CumsumAcc = std::conditional_t<std::is_floating_point_v<T>, double, unsigned long long>;

template <class T>
__global__ void cumsum_kernel(bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner,
                              const T* in, T* out) {
  STRATA_GRID_LOOP(line, outer * inner) {
    const std::int64_t o = line / inner, k = line % inner;
    CumsumAcc<T> total = 0;
    for (std::int64_t step = 0; step < len; ++step) {
      const std::int64_t j = reverse ? len - 1 - step : step;
      const std::int64_t at = (o * len + j) * inner + k;
      const auto v = static_cast<CumsumAcc<T>>(in[at]);
      if (exclusive) {
        out[at] = static_cast<T>(total);
        total += v;
      } else {
        total += v;
        out[at] = static_cast<T>(total);
      }
    }
  }
}

struct Perm {
  int rank;
  std::int64_t dims[kMaxRank], strides[kMaxRank];
};

template <class T>
__global__ void transpose_kernel(Perm p, std::int64_t n, const T* in, T* out) {
  STRATA_GRID_LOOP(i, n) {
    std::int64_t off = 0, rest = i;
    for (int d = p.rank - 1; d >= 0; --d) {
      off += (rest % p.dims[d]) * p.strides[d];
      rest /= p.dims[d];
    }
    out[i] = in[off];
  }
}

template <class T>
__global__ void strided_copy_kernel(StridedCopy p, std::int64_t n, const T* in, T* out) {
  STRATA_GRID_LOOP(i, n) {
    std::int64_t src = p.src_base, dst = p.dst_base, rest = i;
    for (int d = p.rank - 1; d >= 0; --d) {
      const std::int64_t c = rest % p.dims[d];
      rest /= p.dims[d];
      src += (p.src_mod[d] > 0 ? c % p.src_mod[d] : c) * p.src_strides[d];
      dst += c * p.dst_strides[d];
    }
    out[dst] = in[src];
  }
}

template <class T, class I>
__global__ void gather_kernel(std::int64_t outer, std::int64_t per_batch, std::int64_t limit, std::int64_t inner,
                              std::int64_t m, const T* params, const I* indices, T* out, std::int64_t* bad) {
  STRATA_GRID_LOOP(i, outer * m * inner) {
    const std::int64_t n = i % inner, k = (i / inner) % m, o = i / (inner * m);
    const std::int64_t at = (o / per_batch) * m + k;  // batch o / per_batch's indices
    const std::int64_t idx = static_cast<std::int64_t>(indices[at]);
    if (idx < 0 || idx >= limit) {
      *bad = at + 1;
      out[i] = T{};
    } else {
      out[i] = params[(o * limit + idx) * inner + n];
    }
  }
}

template <class T, class O>
__global__ void arg_max_kernel(std::int64_t outer, std::int64_t n, std::int64_t inner, const T* in, O* out) {
  STRATA_GRID_LOOP(i, outer * inner) {
    const std::int64_t o = i / inner, k = i % inner;
    std::int64_t best = 0;
    T best_v = n > 0 ? in[o * n * inner + k] : T(0);
    for (std::int64_t j = 1; j < n; ++j) {
      const T v = in[(o * n + j) * inner + k];
      if (v > best_v || (is_nan(v) && !is_nan(best_v))) {
        best_v = v;
        best = j;
      }
    }
    out[i] = static_cast<O>(best);
  }
}

}  // namespace

namespace {


template <class T>
int binary_t(void* s, Binary op, const Bcast& b, const T* x, const T* y, T* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_LAUNCH(binary_kernel, blocks_for(n), as_stream(s))(op, b, x, y, out);
  return status();
}
template <class T>
int compare_t(void* s, Compare op, const Bcast& b, const T* x, const T* y, bool* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_LAUNCH(compare_kernel, blocks_for(n), as_stream(s))(op, b, x, y, out);
  return status();
}
template <class T>
int select_t(void* s, const Bcast& b, const bool* c, const T* t, const T* e, T* out) {
  const std::int64_t n = bcast_count(b);
  STRATA_LAUNCH(select_kernel, blocks_for(n), as_stream(s))(b, c, t, e, out);
  return status();
}
template <class T>
int unary_t(void* s, Unary op, std::int64_t n, const T* x, T* out) {
  STRATA_LAUNCH(unary_kernel, blocks_for(n), as_stream(s))(op, n, x, out);
  return status();
}
template <class T>
int pair_t(void* s, Pair op, std::int64_t n, const T* a, const T* b, T* out) {
  STRATA_LAUNCH(pair_kernel, blocks_for(n), as_stream(s))(op, n, a, b, out);
  return status();
}
template <class T>
int fill_t(void* s, std::int64_t n, T value, T* out) {
  STRATA_LAUNCH(fill_kernel, blocks_for(n), as_stream(s))(n, value, out);
  return status();
}

}  // namespace


namespace {

template <class T>
int reduce_t(void* s, Reduce op, const ReducePlan& plan, const T* in, T* out) {
  STRATA_LAUNCH(reduce_kernel, blocks_for(plan.outputs), as_stream(s))(op, plan, in, out);
  return status();
}
template <class T>
int bias_add_t(void* s, std::int64_t rows, std::int64_t c, const T* x, const T* bias, T* out) {
  STRATA_LAUNCH(bias_add_kernel, blocks_for(rows * c), as_stream(s))(rows, c, x, bias, out);
  return status();
}
template <class T>
int bias_add_grad_t(void* s, std::int64_t rows, std::int64_t c, const T* g, T* out) {
  STRATA_LAUNCH(bias_add_grad_kernel, blocks_for(c), as_stream(s))(rows, c, g, out);
  return status();
}
template <class T>
int softmax_t(void* s, bool log, std::int64_t rows, std::int64_t cols, const T* x, T* out) {
  STRATA_LAUNCH(softmax_kernel, blocks_for(rows), as_stream(s))(log, rows, cols, x, out);
  return status();
}
template <class T>
int softmax_grad_t(void* s, std::int64_t rows, std::int64_t cols, const T* sm, const T* g, T* out) {
  STRATA_LAUNCH(softmax_grad_kernel, blocks_for(rows), as_stream(s))(rows, cols, sm, g, out);
  return status();
}
template <class T>
int cumprod_t(void* s, bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner,
              const T* in, T* out) {
  if (outer * inner == 0) return 0;
  STRATA_LAUNCH(cumprod_kernel, blocks_for(outer * inner), as_stream(s))(exclusive, reverse, outer, len, inner, in, out);
  return status();
}
template <class T>
int cumsum_t(void* s, bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner,
             const T* in, T* out) {
  if (outer * inner == 0) return 0;
  STRATA_LAUNCH(cumsum_kernel, blocks_for(outer * inner), as_stream(s))(exclusive, reverse, outer, len, inner, in, out);
  return status();
}
template <class T>
int arg_max_t(void* s, bool out_int64, std::int64_t outer, std::int64_t n, std::int64_t inner, const T* in, void* out) {
  if (outer * inner == 0) return 0;
  if (out_int64) {
    STRATA_LAUNCH(arg_max_kernel, blocks_for(outer * inner), as_stream(s))(outer, n, inner, in, static_cast<std::int64_t*>(out));
  } else {
    STRATA_LAUNCH(arg_max_kernel, blocks_for(outer * inner), as_stream(s))(outer, n, inner, in, static_cast<std::int32_t*>(out));
  }
  return status();
}

}  // namespace


// Every numeric type: arithmetic that cannot fault (integer division and powers are not
// registered for integers).
#define STRATA_CUDA_NUMBER_LAUNCHERS(T)                                                                         \
  int binary(void* s, Binary op, const Bcast& b, const T* x, const T* y, T* out) {                              \
    return binary_t(s, op, b, x, y, out);                                                                       \
  }                                                                                                             \
  int compare(void* s, Compare op, const Bcast& b, const T* x, const T* y, bool* out) {                         \
    return compare_t(s, op, b, x, y, out);                                                                      \
  }                                                                                                             \
  int select(void* s, const Bcast& b, const bool* c, const T* t, const T* e, T* out) {                          \
    return select_t(s, b, c, t, e, out);                                                                        \
  }                                                                                                             \
  int unary(void* s, Unary op, std::int64_t n, const T* x, T* out) { return unary_t(s, op, n, x, out); }        \
  int fill(void* s, std::int64_t n, T value, T* out) { return fill_t(s, n, value, out); }                      \
  int reduce(void* s, Reduce op, const ReducePlan& plan, const T* in, T* out) { return reduce_t(s, op, plan, in, out); } \
  int arg_max(void* s, bool out_int64, std::int64_t outer, std::int64_t n, std::int64_t inner, const T* in, void* out) { \
    return arg_max_t(s, out_int64, outer, n, inner, in, out);                                                   \
  }                                                                                                             \
  int cumsum(void* s, bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner,    \
             const T* in, T* out) {                                                                             \
    return cumsum_t(s, exclusive, reverse, outer, len, inner, in, out);                                         \
  }

// Floating point only.
#define STRATA_CUDA_FLOAT_LAUNCHERS(T)                                                                          \
  int pair(void* s, Pair op, std::int64_t n, const T* a, const T* b, T* out) { return pair_t(s, op, n, a, b, out); } \
  int bias_add(void* s, std::int64_t rows, std::int64_t c, const T* x, const T* bias, T* out) {                 \
    return bias_add_t(s, rows, c, x, bias, out);                                                                \
  }                                                                                                             \
  int bias_add_grad(void* s, std::int64_t rows, std::int64_t c, const T* g, T* out) {                           \
    return bias_add_grad_t(s, rows, c, g, out);                                                                 \
  }                                                                                                             \
  int softmax(void* s, bool log, std::int64_t rows, std::int64_t cols, const T* x, T* out) {                    \
    return softmax_t(s, log, rows, cols, x, out);                                                               \
  }                                                                                                             \
  int softmax_grad(void* s, std::int64_t rows, std::int64_t cols, const T* sm, const T* g, T* out) {            \
    return softmax_grad_t(s, rows, cols, sm, g, out);                                                           \
  }                                                                                                             \
  int cumprod(void* s, bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner,   \
              const T* in, T* out) {                                                                            \
    return cumprod_t(s, exclusive, reverse, outer, len, inner, in, out);                                        \
  }

STRATA_CUDA_NUMBER_LAUNCHERS(float)
STRATA_CUDA_NUMBER_LAUNCHERS(double)
STRATA_CUDA_NUMBER_LAUNCHERS(std::int32_t)
STRATA_CUDA_NUMBER_LAUNCHERS(std::int64_t)
STRATA_CUDA_FLOAT_LAUNCHERS(float)
STRATA_CUDA_FLOAT_LAUNCHERS(double)
int select(void* s, const Bcast& b, const bool* c, const bool* t, const bool* e, bool* out) {
  return select_t(s, b, c, t, e, out);
}
int fill(void* s, std::int64_t n, bool value, bool* out) { return fill_t(s, n, value, out); }

int transpose(void* s, int element_bytes, int rank, const std::int64_t* dims, const std::int64_t* strides,
              std::int64_t n, const void* in, void* out) {
  Perm p{};
  p.rank = rank;
  for (int d = 0; d < rank; ++d) {
    p.dims[d] = dims[d];
    p.strides[d] = strides[d];
  }
  switch (element_bytes) {
    case 1: STRATA_LAUNCH(transpose_kernel, blocks_for(n), as_stream(s))(p, n, static_cast<const std::uint8_t*>(in), static_cast<std::uint8_t*>(out)); break;
    case 4: STRATA_LAUNCH(transpose_kernel, blocks_for(n), as_stream(s))(p, n, static_cast<const std::uint32_t*>(in), static_cast<std::uint32_t*>(out)); break;
    case 8: STRATA_LAUNCH(transpose_kernel, blocks_for(n), as_stream(s))(p, n, static_cast<const std::uint64_t*>(in), static_cast<std::uint64_t*>(out)); break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  return status();
}

int strided_copy(void* s, int element_bytes, const StridedCopy& plan, const void* in, void* out) {
  std::int64_t n = 1;
  for (int d = 0; d < plan.rank; ++d) n *= plan.dims[d];
  if (n == 0) return 0;
  const unsigned blocks = blocks_for(n);
  switch (element_bytes) {
    case 1: STRATA_LAUNCH(strided_copy_kernel, blocks, as_stream(s))(plan, n, static_cast<const std::uint8_t*>(in), static_cast<std::uint8_t*>(out)); break;
    case 4: STRATA_LAUNCH(strided_copy_kernel, blocks, as_stream(s))(plan, n, static_cast<const std::uint32_t*>(in), static_cast<std::uint32_t*>(out)); break;
    case 8: STRATA_LAUNCH(strided_copy_kernel, blocks, as_stream(s))(plan, n, static_cast<const std::uint64_t*>(in), static_cast<std::uint64_t*>(out)); break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  return status();
}

template <class T>
int gather_typed(cudaStream_t s, bool i64, std::int64_t outer, std::int64_t per_batch, std::int64_t limit,
                 std::int64_t inner, std::int64_t m, const void* params, const void* indices, void* out, std::int64_t* bad) {
  const unsigned blocks = blocks_for(outer * m * inner);
  if (i64) {
    STRATA_LAUNCH(gather_kernel, blocks, s)(outer, per_batch, limit, inner, m, static_cast<const T*>(params),
                                              static_cast<const std::int64_t*>(indices), static_cast<T*>(out), bad);
  } else {
    STRATA_LAUNCH(gather_kernel, blocks, s)(outer, per_batch, limit, inner, m, static_cast<const T*>(params),
                                              static_cast<const std::int32_t*>(indices), static_cast<T*>(out), bad);
  }
  return status();
}

int gather(void* s, int element_bytes, bool i64, std::int64_t outer, std::int64_t per_batch, std::int64_t limit,
           std::int64_t inner, std::int64_t m, const void* params, const void* indices, void* out, std::int64_t* bad) {
  if (outer * m * inner == 0) return 0;
  switch (element_bytes) {
    case 1: return gather_typed<std::uint8_t>(as_stream(s), i64, outer, per_batch, limit, inner, m, params, indices, out, bad);
    case 4: return gather_typed<std::uint32_t>(as_stream(s), i64, outer, per_batch, limit, inner, m, params, indices, out, bad);
    case 8: return gather_typed<std::uint64_t>(as_stream(s), i64, outer, per_batch, limit, inner, m, params, indices, out, bad);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace strata::cuda
