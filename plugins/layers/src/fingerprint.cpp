// FarmHash Fingerprint64, SipHash-2-4 and FingerprintCat64 (fingerprint.hpp), written from
// the published algorithms. Byte loads are little-endian whatever the host, as the
// fingerprints are defined on bytes.
#include "fingerprint.hpp"

#include <cstddef>
#include <utility>

namespace strata::layers {
namespace {

constexpr std::uint64_t kK0 = 0xc3a5c85c97cb3127ULL;
constexpr std::uint64_t kK1 = 0xb492b66fbe98f273ULL;
constexpr std::uint64_t kK2 = 0x9ae16a3b2f90404fULL;

std::uint64_t load64(const char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t load32(const char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint64_t rotr(std::uint64_t v, int shift) noexcept {
  return shift == 0 ? v : (v >> shift) | (v << (64 - shift));
}
std::uint64_t rotl(std::uint64_t v, int shift) noexcept {
  return (v << shift) | (v >> (64 - shift));
}
std::uint64_t shift_mix(std::uint64_t v) noexcept {
  return v ^ (v >> 47);
}

std::uint64_t hash16(std::uint64_t u, std::uint64_t v, std::uint64_t mul) noexcept {
  std::uint64_t a = (u ^ v) * mul;
  a ^= a >> 47;
  std::uint64_t b = (v ^ a) * mul;
  b ^= b >> 47;
  return b * mul;
}

std::uint64_t hash_0_to_16(const char* s, std::size_t len) noexcept {
  if (len >= 8) {
    const std::uint64_t mul = kK2 + len * 2;
    const std::uint64_t a = load64(s) + kK2;
    const std::uint64_t b = load64(s + len - 8);
    const std::uint64_t c = rotr(b, 37) * mul + a;
    const std::uint64_t d = (rotr(a, 25) + b) * mul;
    return hash16(c, d, mul);
  }
  if (len >= 4) {
    const std::uint64_t mul = kK2 + len * 2;
    const std::uint64_t a = load32(s);
    return hash16(len + (a << 3), load32(s + len - 4), mul);
  }
  if (len > 0) {
    const auto a = static_cast<unsigned char>(s[0]);
    const auto b = static_cast<unsigned char>(s[len >> 1]);
    const auto c = static_cast<unsigned char>(s[len - 1]);
    const std::uint32_t y = static_cast<std::uint32_t>(a) + (static_cast<std::uint32_t>(b) << 8);
    const std::uint32_t z = static_cast<std::uint32_t>(len) + (static_cast<std::uint32_t>(c) << 2);
    return shift_mix(y * kK2 ^ z * kK0) * kK2;
  }
  return kK2;
}

std::uint64_t hash_17_to_32(const char* s, std::size_t len) noexcept {
  const std::uint64_t mul = kK2 + len * 2;
  const std::uint64_t a = load64(s) * kK1;
  const std::uint64_t b = load64(s + 8);
  const std::uint64_t c = load64(s + len - 8) * mul;
  const std::uint64_t d = load64(s + len - 16) * kK2;
  return hash16(rotr(a + b, 43) + rotr(c, 30) + d, a + rotr(b + kK2, 18) + c, mul);
}

std::uint64_t hash_33_to_64(const char* s, std::size_t len) noexcept {
  const std::uint64_t mul = kK2 + len * 2;
  const std::uint64_t a = load64(s) * kK2;
  const std::uint64_t b = load64(s + 8);
  const std::uint64_t c = load64(s + len - 8) * mul;
  const std::uint64_t d = load64(s + len - 16) * kK2;
  const std::uint64_t y = rotr(a + b, 43) + rotr(c, 30) + d;
  const std::uint64_t z = hash16(y, a + rotr(b + kK2, 18) + c, mul);
  const std::uint64_t e = load64(s + 16) * mul;
  const std::uint64_t f = load64(s + 24);
  const std::uint64_t g = (y + load64(s + len - 32)) * mul;
  const std::uint64_t h = (z + load64(s + len - 24)) * mul;
  return hash16(rotr(e + f, 43) + rotr(g, 30) + h, e + rotr(f + a, 18) + g, mul);
}

// Two 64-bit lanes from 32 bytes and two seeds (FarmHash's WeakHashLen32WithSeeds).
std::pair<std::uint64_t, std::uint64_t> weak32(const char* s, std::uint64_t a, std::uint64_t b) noexcept {
  const std::uint64_t w = load64(s), x = load64(s + 8), y = load64(s + 16), z = load64(s + 24);
  a += w;
  b = rotr(b + a + z, 21);
  const std::uint64_t c = a;
  a += x;
  a += y;
  b += rotr(a, 44);
  return {a + z, b + c};
}

void sip_round(std::uint64_t& v0, std::uint64_t& v1, std::uint64_t& v2, std::uint64_t& v3) noexcept {
  v0 += v1;
  v1 = rotl(v1, 13);
  v1 ^= v0;
  v0 = rotl(v0, 32);
  v2 += v3;
  v3 = rotl(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = rotl(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = rotl(v1, 17);
  v1 ^= v2;
  v2 = rotl(v2, 32);
}

}  // namespace

std::uint64_t fingerprint64(std::string_view text) noexcept {
  const char* s = text.data();
  const std::size_t len = text.size();
  if (len <= 16) return hash_0_to_16(s, len);
  if (len <= 32) return hash_17_to_32(s, len);
  if (len <= 64) return hash_33_to_64(s, len);

  constexpr std::uint64_t seed = 81;
  std::uint64_t x = seed;
  std::uint64_t y = seed * kK1 + 113;
  std::uint64_t z = shift_mix(y * kK2 + 113) * kK2;
  std::pair<std::uint64_t, std::uint64_t> v{0, 0}, w{0, 0};
  x = x * kK2 + load64(s);
  const char* const end = s + ((len - 1) / 64) * 64;
  const char* const last64 = end + ((len - 1) & 63) - 63;
  do {
    x = rotr(x + y + v.first + load64(s + 8), 37) * kK1;
    y = rotr(y + v.second + load64(s + 48), 42) * kK1;
    x ^= w.second;
    y += v.first + load64(s + 40);
    z = rotr(z + w.first, 33) * kK1;
    v = weak32(s, v.second * kK1, x + w.first);
    w = weak32(s + 32, z + w.second, y + load64(s + 16));
    std::swap(z, x);
    s += 64;
  } while (s != end);
  const std::uint64_t mul = kK1 + ((z & 0xff) << 1);
  s = last64;
  w.first += ((len - 1) & 63);
  v.first += w.first;
  w.first += v.first;
  x = rotr(x + y + v.first + load64(s + 8), 37) * mul;
  y = rotr(y + v.second + load64(s + 48), 42) * mul;
  x ^= w.second * 9;
  y += v.first * 9 + load64(s + 40);
  z = rotr(z + w.first, 33) * mul;
  v = weak32(s, v.second * mul, x + w.first);
  w = weak32(s + 32, z + w.second, y + load64(s + 16));
  std::swap(z, x);
  return hash16(hash16(v.first, w.first, mul) + shift_mix(y) * kK0 + z, hash16(v.second, w.second, mul) + x, mul);
}

std::uint64_t siphash24(std::uint64_t key0, std::uint64_t key1, std::string_view text) noexcept {
  std::uint64_t v0 = key0 ^ 0x736f6d6570736575ULL;
  std::uint64_t v1 = key1 ^ 0x646f72616e646f6dULL;
  std::uint64_t v2 = key0 ^ 0x6c7967656e657261ULL;
  std::uint64_t v3 = key1 ^ 0x7465646279746573ULL;
  const char* s = text.data();
  const std::size_t len = text.size();
  const std::size_t full = len - len % 8;
  for (std::size_t i = 0; i < full; i += 8) {
    const std::uint64_t m = load64(s + i);
    v3 ^= m;
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(len & 0xff) << 56;
  for (std::size_t i = full; i < len; ++i) {
    last |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (8 * (i - full));
  }
  v3 ^= last;
  sip_round(v0, v1, v2, v3);
  sip_round(v0, v1, v2, v3);
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) sip_round(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

std::uint64_t fingerprint_cat64(std::uint64_t first, std::uint64_t second) noexcept {
  constexpr std::uint64_t kCatMul = 0xc6a4a7935bd1e995ULL;
  std::uint64_t result = first ^ kCatMul;
  result ^= shift_mix(second * kCatMul) * kCatMul;
  result *= kCatMul;
  result = shift_mix(result) * kCatMul;
  return shift_mix(result);
}

}  // namespace strata::layers
