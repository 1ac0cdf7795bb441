// Launch geometry shared by the plugin's .cu files: 256-thread blocks, grid-stride loops
// over 64-bit indices, and the launch status as an int (launch.hpp's convention).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

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

}  // namespace strata::cuda
