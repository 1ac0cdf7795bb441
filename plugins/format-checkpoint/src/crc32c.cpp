#include "crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace strata::ckpt {
namespace {

constexpr std::uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

// Slice-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (std::uint32_t b = 0; b < 256; ++b) {
      std::uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
      t[0][b] = c;
    }
    for (std::size_t k = 1; k < 8; ++k) {
      for (std::uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
    }
  }
};
constexpr Tables kTables;

std::uint32_t extend_portable(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  std::uint32_t c = ~crc;
  const auto& t = kTables.t;
  while (n >= 8) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;  // little-endian hosts only (the bundle format is little-endian as well)
    c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^ t[4][lo >> 24] ^
        t[3][hi & 0xffu] ^ t[2][(hi >> 8) & 0xffu] ^ t[1][(hi >> 16) & 0xffu] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xffu];
  return ~c;
}

#if defined(__x86_64__)
// Three independent streams over consecutive blocks hide the crc32 instruction's 3-cycle
// latency. The CRC register is linear in (register, data), so the register after
// A || B || C from r is Z2(reg(r, A)) ^ Z1(reg(0, B)) ^ reg(0, C), where Zk feeds k blocks
// of zero bytes; Z1 and Z2 are tabulated once (4 x 256 entries each).
constexpr std::size_t kBlock = 4096;

__attribute__((target("sse4.2"))) std::uint32_t feed_zeros(std::uint32_t reg, std::size_t n) noexcept {
  std::uint64_t c = reg;
  for (std::size_t i = 0; i < n / 8; ++i) c = _mm_crc32_u64(c, 0);
  return static_cast<std::uint32_t>(c);
}

struct ZeroShift {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  explicit ZeroShift(std::size_t n) {
    for (std::size_t k = 0; k < 4; ++k) {
      for (std::uint32_t b = 0; b < 256; ++b) t[k][b] = feed_zeros(b << (8 * k), n);
    }
  }
  std::uint32_t operator()(std::uint32_t r) const noexcept {
    return t[0][r & 0xffu] ^ t[1][(r >> 8) & 0xffu] ^ t[2][(r >> 16) & 0xffu] ^ t[3][r >> 24];
  }
};

__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc, const unsigned char* p,
                                                               std::size_t n) noexcept {
  std::uint64_t c = ~crc;
  while (n > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7u) != 0) {
    c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
    --n;
  }
  if (n >= 3 * kBlock) {
    static const ZeroShift one(kBlock), two(2 * kBlock);
    while (n >= 3 * kBlock) {
      std::uint64_t a = c, b = 0, d = 0;
      const unsigned char* pb = p + kBlock;
      const unsigned char* pd = p + 2 * kBlock;
      for (std::size_t i = 0; i < kBlock; i += 8) {
        std::uint64_t va, vb, vd;
        std::memcpy(&va, p + i, 8);
        std::memcpy(&vb, pb + i, 8);
        std::memcpy(&vd, pd + i, 8);
        a = _mm_crc32_u64(a, va);
        b = _mm_crc32_u64(b, vb);
        d = _mm_crc32_u64(d, vd);
      }
      c = two(static_cast<std::uint32_t>(a)) ^ one(static_cast<std::uint32_t>(b)) ^ static_cast<std::uint32_t>(d);
      p += 3 * kBlock;
      n -= 3 * kBlock;
    }
  }
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  while (n--) c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
  return ~static_cast<std::uint32_t>(c);
}

bool have_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (have_sse42()) return extend_sse42(crc, p, size);
#endif
  return extend_portable(crc, p, size);
}

}  // namespace strata::ckpt
