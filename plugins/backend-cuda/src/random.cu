// Random ops on cuda: RandomUniform, RandomStandardNormal, TruncatedNormal. Element i is the
// pure function of (seed, seed2, i) that strata/plugin/philox.hpp defines for every backend,
// so cuda draws the very values the cpu draws (docs/OPS.md). One thread per element.

#include <cstdint>
#include <type_traits>

#include "grid.cuh"
#include "launch.hpp"
#include "strata/plugin/philox.hpp"

namespace strata::cuda {
namespace {

template <class T>
__global__ void random_kernel(RandomKind kind, std::int64_t seed, std::int64_t seed2, std::int64_t n, T* out) {
  STRATA_GRID_LOOP(i, n) {
    const auto index = static_cast<std::uint64_t>(i);
    switch (kind) {
      case RandomKind::kUniform:
        if constexpr (std::is_same_v<T, float>) {
          out[i] = philox::uniform_float(seed, seed2, index);
        } else {
          out[i] = philox::uniform_double(seed, seed2, index);
        }
        break;
      case RandomKind::kNormal: out[i] = static_cast<T>(philox::normal(seed, seed2, index)); break;
      case RandomKind::kTruncatedNormal: out[i] = static_cast<T>(philox::truncated_normal(seed, seed2, index)); break;
    }
  }
}

template <class T>
int random_t(void* s, RandomKind kind, std::int64_t seed, std::int64_t seed2, std::int64_t n, T* out) {
  if (n == 0) return 0;
  STRATA_LAUNCH(random_kernel, blocks_for(n), as_stream(s))(kind, seed, seed2, n, out);
  return status();
}

}  // namespace

int random_values(void* s, RandomKind kind, std::int64_t seed, std::int64_t seed2, std::int64_t n, float* out) {
  return random_t(s, kind, seed, seed2, n, out);
}
int random_values(void* s, RandomKind kind, std::int64_t seed, std::int64_t seed2, std::int64_t n, double* out) {
  return random_t(s, kind, seed, seed2, n, out);
}

}  // namespace strata::cuda
