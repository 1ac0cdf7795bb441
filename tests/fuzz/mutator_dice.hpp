// The random choices of the fuzzers' structure-aware mutators (json_mutator.hpp,
// proto_mutator.hpp), seeded by libFuzzer for each mutation so that runs reproduce.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace strata::fuzz {

class Dice {
 public:
  void seed(unsigned seed) { rng_.seed(seed); }
  // 0 .. n-1 (0 when n <= 1).
  std::size_t pick(std::size_t n) { return n <= 1 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  // 1 .. max, log-uniform (small and huge counts alike), at most 1024 seven times in eight so
  // that most inputs stay small and fast.
  std::size_t count(std::size_t max) {
    if (pick(8) != 0) max = std::min<std::size_t>(max, 1024);
    if (max <= 1) return 1;
    const unsigned bits = 64 - static_cast<unsigned>(__builtin_clzll(max));
    const std::size_t c = std::size_t{1} << pick(bits);
    return std::min(max, c + pick(c));
  }

 private:
  std::minstd_rand rng_;
};

// Puts a mutated input into libFuzzer's buffer (the caller checked it fits); its size.
inline std::size_t put_input(std::uint8_t* data, const std::string& input) {
  std::memcpy(data, input.data(), input.size());
  return input.size();
}

}  // namespace strata::fuzz
