// Counter-based random numbers shared by every backend. A random op's element i is a
// pure function of (seed, seed2, i), so the same op gives the same values on cpu, cuda
// and the tests' ref device, whatever the threading. The generator is Philox4x32-10
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011); how its words
// become values is Strata's own convention (documented in docs/OPS.md) and does not
// reproduce TensorFlow's streams.
#pragma once

#include "strata/export.hpp"
#include <array>
#include <cmath>
#include <cstdint>

STRATA_API_BEGIN

#if defined(__CUDACC__)
#define STRATA_HOST_DEVICE __host__ __device__
#else
#define STRATA_HOST_DEVICE
#endif

namespace strata::philox {

using Words = std::array<std::uint32_t, 4>;

STRATA_HOST_DEVICE inline Words philox4x32_10(Words c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = Words{hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

// The four words for element `index`, draw `attempt` (truncated normal redraws).
STRATA_HOST_DEVICE inline Words draw(std::int64_t seed, std::int64_t seed2, std::uint64_t index,
                                     std::uint32_t attempt = 0) {
  const auto s = static_cast<std::uint64_t>(seed), s2 = static_cast<std::uint64_t>(seed2);
  const auto k0 = static_cast<std::uint32_t>(s) ^ static_cast<std::uint32_t>(s2 >> 32);
  const auto k1 = static_cast<std::uint32_t>(s2) ^ static_cast<std::uint32_t>(s >> 32);
  return philox4x32_10(Words{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32), attempt, 0u},
                       k0, k1);
}

// 53 random bits from two words, as a double in [0, 1).
STRATA_HOST_DEVICE inline double unit_double(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

// Uniform in [0, 1): float32 from the top 24 bits of word 0, float64 from words 0-1.
STRATA_HOST_DEVICE inline float uniform_float(std::int64_t seed, std::int64_t seed2, std::uint64_t index) {
  return static_cast<float>(draw(seed, seed2, index)[0] >> 8) * (1.0f / 16777216.0f);
}
STRATA_HOST_DEVICE inline double uniform_double(std::int64_t seed, std::int64_t seed2, std::uint64_t index) {
  const Words w = draw(seed, seed2, index);
  return unit_double(w[0], w[1]);
}

// Standard normal by Box-Muller on draw `attempt` of element `index` (computed in double).
STRATA_HOST_DEVICE inline double normal(std::int64_t seed, std::int64_t seed2, std::uint64_t index,
                                        std::uint32_t attempt = 0) {
  const Words w = draw(seed, seed2, index, attempt);
  const double u1 = 1.0 - unit_double(w[0], w[1]);  // (0, 1]
  const double u2 = unit_double(w[2], w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
}

// Standard normal redrawn (attempt 1, 2, ...) until |z| <= 2; after 64 draws, 0.
STRATA_HOST_DEVICE inline double truncated_normal(std::int64_t seed, std::int64_t seed2, std::uint64_t index) {
  for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
    const double z = normal(seed, seed2, index, attempt);
    if (z >= -2.0 && z <= 2.0) return z;
  }
  return 0.0;
}

}  // namespace strata::philox

STRATA_API_END
