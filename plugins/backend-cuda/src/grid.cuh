// Launch geometry shared by the plugin's .cu files: 256-thread blocks, grid-stride loops
// over 64-bit indices, the launch status as an int (launch.hpp's convention), and
// broadcast indexing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "launch.hpp"

#if defined(STRATA_CUDA_EMULATION)
// The host emulation (tests/ops, strata_cuda_emulation_tests): the same .cu sources
// compiled by the host compiler, each launch a sequential loop over its elements, so the
// kernels and their glue run through the conformance suites on machines without a GPU.
// Not built into the plugin.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#undef __global__
#undef __device__
#undef __host__
#define __global__
#define __device__
#define __host__
// Correctly rounded single operations, as the device intrinsics (the host compiler does
// not contract them into FMAs without -ffp-contract and an FMA target).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
#else
#include <cuda_runtime.h>
#endif

namespace strata::cuda {

inline constexpr int kThreads = 256;

inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

#if defined(STRATA_CUDA_EMULATION)
#define STRATA_GRID_LOOP(i, n) for (std::int64_t i = 0; i < (n); ++i)
// kernel(args...) on the host, in the calling thread (blocks and stream evaluated, unused).
#define STRATA_LAUNCH(kernel, blocks, stream) (void)(blocks), (void)(stream), kernel
inline int status() { return 0; }
inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }
inline int memset_async(void* p, std::size_t bytes, void*) {
  std::memset(p, 0, bytes);
  return 0;
}
template <class T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
#else
#define STRATA_GRID_LOOP(i, n)                                                                      \
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(blockDim.x) * gridDim.x)
// kernel<<<blocks, kThreads, 0, stream>>>: STRATA_LAUNCH(kernel, blocks, stream)(args...).
#define STRATA_LAUNCH(kernel, blocks, stream) kernel<<<(blocks), kThreads, 0, (stream)>>>
inline int status() { return static_cast<int>(cudaGetLastError()); }
inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }
// Zeroes `bytes` at `p` on the stream.
inline int memset_async(void* p, std::size_t bytes, void* s) {
  return static_cast<int>(cudaMemsetAsync(p, 0, bytes, as_stream(s)));
}
#endif

// Where output element `linear` of a broadcast reads input `input`.
__device__ inline std::int64_t bcast_offset(std::int64_t linear, const Bcast& b, int input) {
  std::int64_t off = 0;
  for (int d = b.rank - 1; d >= 0; --d) {
    const std::int64_t dim = b.dims[d];
    off += (linear % dim) * b.strides[input][d];
    linear /= dim;
  }
  return off;
}

__host__ __device__ inline std::int64_t bcast_count(const Bcast& b) {
  std::int64_t n = 1;
  for (int d = 0; d < b.rank; ++d) n *= b.dims[d];
  return n;
}

}  // namespace strata::cuda
