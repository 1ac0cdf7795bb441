// Launchers of the backend-cuda plugin's own CUDA kernels (kernels.cu). Plain types only:
// kernels.cu is compiled by nvcc without Strata's C++20 headers, the kernel glue
// (kernels.cpp) by the host compiler. Every launcher enqueues on `stream` and returns the
// launch status (cudaError_t as int); nothing synchronises.
#pragma once

#include <cstdint>
#include <utility>

namespace strata::cuda {

inline constexpr int kMaxRank = 8;

// Output dims and, per input, the element strides to read it broadcast (0 on broadcast dims).
struct Bcast {
  int rank = 0;
  std::int64_t dims[kMaxRank] = {};
  std::int64_t strides[3][kMaxRank] = {};
};

// kAtan2 (y, x) is floating point only.
enum class Binary : int { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow, kSquaredDifference, kAtan2 };
enum class Compare : int { kEqual, kNotEqual, kGreater, kGreaterEqual, kLess, kLessEqual };
enum class Unary : int {
  kNeg, kAbs, kSign, kSquare, kSqrt, kRsqrt, kReciprocal, kExp, kLog, kLog1p, kErf, kFloor,
  kRelu, kRelu6, kElu, kSelu, kSigmoid, kTanh, kSoftplus, kSoftsign, kGelu, kGeluApprox, kErfc,
  kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh
};
// Same-shape pairs (a, b) as docs/OPS.md "Gradient helpers" lists their inputs.
enum class Pair : int {
  kReluGrad, kRelu6Grad, kEluGrad, kSeluGrad, kSigmoidGrad, kTanhGrad, kSoftplusGrad, kSoftsignGrad,
  kRsqrtGrad, kSqrtGrad, kGeluGrad, kGeluApproxGrad  // Gelu*Grad: (gradients, features)
};
// The ops of each kind by name (the kernel glue registers them; tests/ops checks the
// element math of each against the ref kernels). Gelu and GeluGrad pick kGelu/kGeluApprox
// and kGeluGrad/kGeluApproxGrad from their `approximate` attr.
inline constexpr std::pair<const char*, Binary> kBinaryOps[] = {
    {"AddV2", Binary::kAdd},   {"Sub", Binary::kSub},     {"Mul", Binary::kMul},
    {"RealDiv", Binary::kDiv}, {"Maximum", Binary::kMax}, {"Minimum", Binary::kMin},
    {"Pow", Binary::kPow},     {"SquaredDifference", Binary::kSquaredDifference}, {"Atan2", Binary::kAtan2}};
inline constexpr std::pair<const char*, Unary> kUnaryOps[] = {
    {"Neg", Unary::kNeg},         {"Abs", Unary::kAbs},           {"Sign", Unary::kSign},
    {"Square", Unary::kSquare},   {"Sqrt", Unary::kSqrt},         {"Rsqrt", Unary::kRsqrt},
    {"Reciprocal", Unary::kReciprocal}, {"Exp", Unary::kExp},     {"Log", Unary::kLog},
    {"Log1p", Unary::kLog1p},     {"Erf", Unary::kErf},           {"Floor", Unary::kFloor},
    {"Relu", Unary::kRelu},       {"Relu6", Unary::kRelu6},       {"Elu", Unary::kElu},
    {"Selu", Unary::kSelu},       {"Sigmoid", Unary::kSigmoid},   {"Tanh", Unary::kTanh},
    {"Softplus", Unary::kSoftplus}, {"Softsign", Unary::kSoftsign}, {"Erfc", Unary::kErfc},
    {"Sin", Unary::kSin},         {"Cos", Unary::kCos},           {"Tan", Unary::kTan},
    {"Asin", Unary::kAsin},       {"Acos", Unary::kAcos},         {"Atan", Unary::kAtan},
    {"Sinh", Unary::kSinh},       {"Cosh", Unary::kCosh},         {"Asinh", Unary::kAsinh},
    {"Acosh", Unary::kAcosh},     {"Atanh", Unary::kAtanh}};
inline constexpr std::pair<const char*, Pair> kPairOps[] = {
    {"ReluGrad", Pair::kReluGrad},       {"Relu6Grad", Pair::kRelu6Grad},   {"EluGrad", Pair::kEluGrad},
    {"SeluGrad", Pair::kSeluGrad},       {"SigmoidGrad", Pair::kSigmoidGrad}, {"TanhGrad", Pair::kTanhGrad},
    {"SoftplusGrad", Pair::kSoftplusGrad}, {"SoftsignGrad", Pair::kSoftsignGrad}, {"RsqrtGrad", Pair::kRsqrtGrad},
    {"SqrtGrad", Pair::kSqrtGrad},       {"GeluGrad", Pair::kGeluGrad}};
enum class Reduce : int { kSum, kMean, kMax, kMin, kProd };
enum class Elem : int { kFloat32, kFloat64, kInt32, kInt64, kBool, kFloat16, kBFloat16, kInt8, kUInt8 };
// Element-wise ops on bool: And, Or, Equal, NotEqual (broadcasting).
enum class Logical : int { kAnd, kOr, kEqual, kNotEqual };

// Launchers overloaded on the element type. Every numeric type (float32, float64, int32,
// int64; integers: wrapping Add/Sub/Mul, Maximum/Minimum/SquaredDifference, comparisons,
// select, Neg/Abs/Sign/Square, fills, reductions accumulated in the integer type, ArgMax):
#define STRATA_CUDA_DECLARE_NUMBER_LAUNCHERS(T)                                                        \
  int binary(void* stream, Binary op, const Bcast& b, const T* x, const T* y, T* out);                 \
  int compare(void* stream, Compare op, const Bcast& b, const T* x, const T* y, bool* out);            \
  int select(void* stream, const Bcast& b, const bool* cond, const T* t, const T* e, T* out);          \
  int unary(void* stream, Unary op, std::int64_t n, const T* x, T* out);                               \
  int fill(void* stream, std::int64_t n, T value, T* out);                                             \
  int reduce(void* stream, Reduce op, const ReducePlan& plan, const T* in, T* out);                    \
  /* ArgMax over the middle axis of [outer, n, inner] (first maximum), int32 or int64 output. */       \
  int arg_max(void* stream, bool out_int64, std::int64_t outer, std::int64_t n, std::int64_t inner, const T* in, void* out); \
  /* Running sum along the middle axis of [outer, len, inner] (floats in double, integers wrapping). */ \
  int cumsum(void* stream, bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner, \
             const T* in, T* out);
// Floating point only (float32, float64):
#define STRATA_CUDA_DECLARE_FLOAT_LAUNCHERS(T)                                                         \
  int pair(void* stream, Pair op, std::int64_t n, const T* a, const T* b, T* out);                     \
  /* y[..., c] = x[..., c] + bias[c]; d bias[c] = sum over rows of g[..., c]. */                        \
  int bias_add(void* stream, std::int64_t rows, std::int64_t channels, const T* x, const T* bias, T* out); \
  int bias_add_grad(void* stream, std::int64_t rows, std::int64_t channels, const T* g, T* out);       \
  /* Row-wise over the last axis. */                                                                    \
  int softmax(void* stream, bool log, std::int64_t rows, std::int64_t cols, const T* x, T* out);       \
  int softmax_grad(void* stream, std::int64_t rows, std::int64_t cols, const T* softmax, const T* grad, T* out); \
  /* out[ids[i], c] += data[i, c] for data [n, inner], ids int32/int64 (outside [0, segments): dropped); out zeroed by the caller. */ \
  int segment_sum(void* stream, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments,      \
                  const T* data, const void* ids, T* out);                                             \
  /* Running product along the middle axis of [outer, len, inner]. */                                  \
  int cumprod(void* stream, bool exclusive, bool reverse, std::int64_t outer, std::int64_t len, std::int64_t inner, \
              const T* in, T* out);

// Cast between any pair of Elem types with the cpu's rules: float -> integer truncates
// toward zero, saturates and maps NaN to 0; integers wrap; -> float16/bfloat16 rounds once
// to nearest even; -> bool is x != 0.
int cast(void* stream, Elem from, Elem to, std::int64_t n, const void* in, void* out);

// bool element-wise ops, select and fill.
int logical(void* stream, Logical op, const Bcast& b, const bool* x, const bool* y, bool* out);
int logical_not(void* stream, std::int64_t n, const bool* x, bool* out);
int select(void* stream, const Bcast& b, const bool* cond, const bool* t, const bool* e, bool* out);
int fill(void* stream, std::int64_t n, bool value, bool* out);

// Integer RealDiv (truncating; lowest / -1 wraps) and Pow (exact, wrapping; a negative
// exponent gives what truncating std::pow gives), int32 and int64. An element that has no
// integer result (a zero divisor, 0 to a negative power) sets *bad (device memory) to its
// position + 1.
#define STRATA_CUDA_DECLARE_INTEGER_LAUNCHERS(T)                                                       \
  int checked_binary(void* stream, Binary op, const Bcast& b, const T* x, const T* y, T* out, std::int64_t* bad); \
  /* Row-major C[m, n] = op(A) op(B), products and sums wrapping. */                                   \
  int matmul(void* stream, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* b, T* c); \
  int segment_sum(void* stream, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments, \
                  const T* data, const void* ids, T* out);
STRATA_CUDA_DECLARE_INTEGER_LAUNCHERS(std::int32_t)
STRATA_CUDA_DECLARE_INTEGER_LAUNCHERS(std::int64_t)
// bool UnsortedSegmentSum: logical or (out zeroed by the caller).
int segment_sum(void* stream, bool ids_int64, std::int64_t n, std::int64_t inner, std::int64_t segments,
                const bool* data, const void* ids, bool* out);

// Reduces an input viewed as [outer, reduced, inner]-like index spaces: `kept` describes
// the output's dims with the input strides of those dims, `reduced` the reduced dims with
// their input strides.
struct ReducePlan {
  int kept_rank = 0, reduced_rank = 0;
  std::int64_t kept_dims[kMaxRank] = {}, kept_strides[kMaxRank] = {};
  std::int64_t reduced_dims[kMaxRank] = {}, reduced_strides[kMaxRank] = {};
  std::int64_t outputs = 1, reduced_count = 1;
};
STRATA_CUDA_DECLARE_NUMBER_LAUNCHERS(float)
STRATA_CUDA_DECLARE_NUMBER_LAUNCHERS(double)
STRATA_CUDA_DECLARE_NUMBER_LAUNCHERS(std::int32_t)
STRATA_CUDA_DECLARE_NUMBER_LAUNCHERS(std::int64_t)
STRATA_CUDA_DECLARE_FLOAT_LAUNCHERS(float)
STRATA_CUDA_DECLARE_FLOAT_LAUNCHERS(double)

// out[j] = in[offset(j)] with out dims `dims` and permuted input strides `strides`.
int transpose(void* stream, int element_bytes, int rank, const std::int64_t* dims, const std::int64_t* strides,
              std::int64_t n, const void* in, void* out);

// out[dst_base + sum c_d * dst_strides_d] = in[src_base + sum s_d * src_strides_d] for every
// coordinate c of `dims`, with s_d = c_d % src_mod_d when src_mod_d > 0, else c_d. Covers
// slices (strides may be negative), concatenation, tiling, broadcasting and padding.
struct StridedCopy {
  int rank = 0;
  std::int64_t dims[kMaxRank] = {}, src_strides[kMaxRank] = {}, dst_strides[kMaxRank] = {},
               src_mod[kMaxRank] = {};
  std::int64_t src_base = 0, dst_base = 0;
};
int strided_copy(void* stream, int element_bytes, const StridedCopy& plan, const void* in, void* out);

// GatherV2: out[o, i, n] = params[o, indices[o / per_batch, i], n] for params viewed as
// [outer, limit, inner] and indices as [outer / per_batch, m] (batch_dims: the leading
// outer / per_batch rows of params share a row of indices; per_batch = outer without
// batch dims). An index outside [0, limit) sets *bad (device memory) to its position in
// indices + 1 and writes zeros.
int gather(void* stream, int element_bytes, bool indices_int64, std::int64_t outer, std::int64_t per_batch,
           std::int64_t limit, std::int64_t inner, std::int64_t num_indices, const void* params, const void* indices,
           void* out, std::int64_t* bad);
// OneHot: out[o, d, n] = indices[o, n] == d ? *on : *off, out viewed as [outer, depth, inner];
// on/off are device scalars of the output's type (1, 4 or 8 bytes: copied, not interpreted).
int one_hot(void* stream, int element_bytes, bool indices_int64, std::int64_t outer, std::int64_t depth,
            std::int64_t inner, const void* indices, const void* on, const void* off, void* out);

// An NHWC pooling window (pool.cu): input [n, h, w, c], output [n, oh, ow, c], window
// kh x kw moved by sh, sw, with TensorFlow's SAME/VALID padding (pad_top/pad_left before
// the first input element; padding never takes part).
struct PoolWindow {
  std::int64_t n = 0, h = 0, w = 0, c = 0, oh = 0, ow = 0;
  std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, pad_top = 0, pad_left = 0;
};
// dx (zeroed here) gets each output's gradient at its window's first maximum of x, or its
// share of each window's average.
#define STRATA_CUDA_DECLARE_POOL_LAUNCHERS(T)                                           \
  int max_pool(void* stream, const PoolWindow& p, const T* x, T* y);                    \
  int max_pool_grad(void* stream, const PoolWindow& p, const T* x, const T* g, T* dx);  \
  int avg_pool(void* stream, const PoolWindow& p, const T* x, T* y);                    \
  int avg_pool_grad(void* stream, const PoolWindow& p, const T* g, T* dx);
STRATA_CUDA_DECLARE_POOL_LAUNCHERS(float)
STRATA_CUDA_DECLARE_POOL_LAUNCHERS(double)

// NHWC image resizing (pool.cu) with TensorFlow's arithmetic: input [n, h, w, c], output
// [n, oh, ow, c]; scale_h/scale_w as TensorFlow's CalculateResizeScale gives them (float32),
// source coordinates computed in float32 without contraction, so that float32 results equal
// the cpu's. The gradients zero dx ([n, h, w, c]) and add into it with atomicAdd.
struct ResizeGeometry {
  std::int64_t n = 0, h = 0, w = 0, c = 0, oh = 0, ow = 0;
  float scale_h = 1.f, scale_w = 1.f;
  bool align_corners = false, half_pixel_centers = false;
};
#define STRATA_CUDA_DECLARE_RESIZE_LAUNCHERS(T)                                         \
  int resize_bilinear(void* stream, const ResizeGeometry& g, const T* x, T* y);         \
  int resize_bilinear_grad(void* stream, const ResizeGeometry& g, const T* dy, T* dx);  \
  int resize_nearest(void* stream, const ResizeGeometry& g, const T* x, T* y);          \
  int resize_nearest_grad(void* stream, const ResizeGeometry& g, const T* dy, T* dx);
STRATA_CUDA_DECLARE_RESIZE_LAUNCHERS(float)
STRATA_CUDA_DECLARE_RESIZE_LAUNCHERS(double)

// Element i of a random op from (seed, seed2, i), as strata/plugin/philox.hpp defines it
// (random.cu): the same values as every other backend.
enum class RandomKind : int { kUniform, kNormal, kTruncatedNormal };
int random_values(void* stream, RandomKind kind, std::int64_t seed, std::int64_t seed2, std::int64_t n, float* out);
int random_values(void* stream, RandomKind kind, std::int64_t seed, std::int64_t seed2, std::int64_t n, double* out);

// Fused optimizer updates (optimizer_update.cu): the kernels of the runtime's
// ResourceApplyAdam and ResourceApplyKerasMomentum ops, one kernel per variable. Every
// hyperparameter is a device scalar (beta1_power ... epsilon, lr, momentum).
#define STRATA_CUDA_DECLARE_OPTIMIZER_LAUNCHERS(T)                                                           \
  int adam_update(void* stream, std::int64_t n, const T* var, const T* m, const T* v, const T* beta1_power,   \
                  const T* beta2_power, const T* lr, const T* beta1, const T* beta2, const T* epsilon,        \
                  const T* g, bool nesterov, T* new_var, T* new_m, T* new_v);                                 \
  int momentum_update(void* stream, std::int64_t n, const T* var, const T* accum, const T* lr, const T* g,    \
                      const T* momentum, bool nesterov, T* new_var, T* new_accum);
STRATA_CUDA_DECLARE_OPTIMIZER_LAUNCHERS(float)
STRATA_CUDA_DECLARE_OPTIMIZER_LAUNCHERS(double)

}  // namespace strata::cuda
