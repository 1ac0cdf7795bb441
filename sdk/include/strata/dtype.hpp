// Element types. The enumerator values are TensorFlow's DataType numbers
// (tensorflow/core/framework/types.proto), so a dtype code read from or written to a
// TensorFlow file needs no table; names are the Keras spellings ("float32", "int64").
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

STRATA_API_BEGIN

namespace strata {

enum class DType : std::uint8_t {
  kInvalid = 0,
  kFloat32 = 1,
  kFloat64 = 2,
  kInt32 = 3,
  kUInt8 = 4,
  kInt8 = 6,
  kString = 7,
  kInt64 = 9,
  kBool = 10,
  kBFloat16 = 14,
  kFloat16 = 19,
};

// Size in bytes of one element as stored in a tensor buffer. For kString the element is
// a std::string object (string tensors live in host memory only). 0 for kInvalid.
std::size_t dtype_size(DType dtype) noexcept;
// "float32", "float64", "float16", "bfloat16", "int8", "uint8", "int32", "int64",
// "bool", "string"; "invalid" for kInvalid.
std::string_view dtype_name(DType dtype) noexcept;
// Inverse of dtype_name; also accepts "float" (float32), "double" (float64) and
// "half" (float16) as Keras configs sometimes do. Throws ValueError naming the
// accepted spellings for anything else.
DType dtype_from_name(std::string_view name);
// Maps a TensorFlow DataType number onto a dtype; throws FormatError for numbers Strata
// does not support (naming the number), including the _REF variants.
DType dtype_from_tf(int code);
inline int dtype_to_tf(DType dtype) noexcept { return static_cast<int>(dtype); }

bool is_floating(DType dtype) noexcept;  // float16, bfloat16, float32, float64
bool is_integer(DType dtype) noexcept;   // int8, uint8, int32, int64
bool is_numeric(DType dtype) noexcept;   // floating, integer or bool

// IEEE 754 binary16, stored as bits. Conversions round to nearest even.
struct float16 {
  std::uint16_t bits = 0;
  float16() = default;
  explicit float16(float value) noexcept;
  explicit operator float() const noexcept;
  static float16 from_bits(std::uint16_t b) noexcept { float16 h; h.bits = b; return h; }
};

// bfloat16: the upper 16 bits of a float32. Conversions round to nearest even; NaN
// stays NaN.
struct bfloat16 {
  std::uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float value) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &value, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<std::uint16_t>(u >> 16);
    }
  }
  explicit operator float() const noexcept {
    std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static bfloat16 from_bits(std::uint16_t b) noexcept { bfloat16 h; h.bits = b; return h; }
};

// The dtype of a C++ element type: dtype_of<float> == DType::kFloat32.
template <class T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kFloat32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kFloat64; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::kInt32; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::kInt64; };
template <> struct DTypeOf<std::int8_t> { static constexpr DType value = DType::kInt8; };
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::kUInt8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };
template <> struct DTypeOf<float16> { static constexpr DType value = DType::kFloat16; };
template <> struct DTypeOf<bfloat16> { static constexpr DType value = DType::kBFloat16; };
template <> struct DTypeOf<std::string> { static constexpr DType value = DType::kString; };
template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace strata

STRATA_API_END
