// Launch geometry shared by the plugin's .cu files: 256-thread blocks, grid-stride loops
// over 64-bit indices, the launch status as an int (launch.hpp's convention), and
// broadcast indexing.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "launch.hpp"

namespace strata::cuda {

inline constexpr int kThreads = 256;

inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

#define STRATA_GRID_LOOP(i, n)                                                                      \
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(blockDim.x) * gridDim.x)

inline int status() { return static_cast<int>(cudaGetLastError()); }
inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

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
