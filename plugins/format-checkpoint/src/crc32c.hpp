// CRC-32C (Castagnoli) and TensorFlow's CRC masking, as the tensor bundle format uses
// them (docs FORMATS.md §3.6): block trailers, entry checksums and string-length
// checksums all store Mask(crc32c(bytes)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::ckpt {

// Extends `crc` (the CRC-32C of some earlier bytes; 0 for none) by `size` bytes at
// `data`. Uses the SSE4.2 crc32 instruction when the CPU has it.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept;
inline std::uint32_t crc32c(const void* data, std::size_t size) noexcept { return crc32c_extend(0, data, size); }
inline std::uint32_t crc32c(std::string_view bytes) noexcept { return crc32c(bytes.data(), bytes.size()); }

inline constexpr std::uint32_t kCrcMaskDelta = 0xa282ead8u;

// Rotate right by 15 bits, then add kCrcMaskDelta (mod 2^32).
constexpr std::uint32_t mask_crc(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta;
}
constexpr std::uint32_t unmask_crc(std::uint32_t masked) noexcept {
  const std::uint32_t rot = masked - kCrcMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace strata::ckpt
