#include "strata/dtype.hpp"

#include <cmath>
#include <string>

#include "strata/error.hpp"

namespace strata {

std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt32: return 4;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kString: return sizeof(std::string);
    case DType::kInt64: return 8;
    case DType::kBool: return 1;
    case DType::kBFloat16: return 2;
    case DType::kFloat16: return 2;
    case DType::kInvalid: return 0;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt32: return "int32";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kString: return "string";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat16: return "float16";
    case DType::kInvalid: return "invalid";
  }
  return "invalid";
}

DType dtype_from_name(std::string_view name) {
  static constexpr DType kAll[] = {DType::kFloat32, DType::kFloat64, DType::kInt32,
                                   DType::kUInt8,   DType::kInt8,    DType::kString,
                                   DType::kInt64,   DType::kBool,    DType::kBFloat16,
                                   DType::kFloat16};
  for (DType d : kAll) {
    if (dtype_name(d) == name) return d;
  }
  if (name == "float") return DType::kFloat32;
  if (name == "double") return DType::kFloat64;
  if (name == "half") return DType::kFloat16;
  STRATA_THROW(ValueError, "unknown dtype '", name,
               "': expected one of float32, float64, float16, bfloat16, int8, uint8, int32, "
               "int64, bool, string");
}

DType dtype_from_tf(int code) {
  switch (code) {
    case 1: return DType::kFloat32;
    case 2: return DType::kFloat64;
    case 3: return DType::kInt32;
    case 4: return DType::kUInt8;
    case 6: return DType::kInt8;
    case 7: return DType::kString;
    case 9: return DType::kInt64;
    case 10: return DType::kBool;
    case 14: return DType::kBFloat16;
    case 19: return DType::kFloat16;
    default: break;
  }
  STRATA_THROW(FormatError, "TensorFlow dtype code ", code,
               " is not supported by Strata (supported: 1 float32, 2 float64, 3 int32, 4 uint8, "
               "6 int8, 7 string, 9 int64, 10 bool, 14 bfloat16, 19 float16)");
}

bool is_floating(DType d) noexcept {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 || d == DType::kBFloat16;
}
bool is_integer(DType d) noexcept {
  return d == DType::kInt32 || d == DType::kInt64 || d == DType::kInt8 || d == DType::kUInt8;
}
bool is_numeric(DType d) noexcept { return is_floating(d) || is_integer(d) || d == DType::kBool; }

float16::float16(float value) noexcept {
  std::uint32_t f;
  std::memcpy(&f, &value, 4);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  std::uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // Inf or NaN; NaN keeps its top payload bits and stays quiet
    bits = static_cast<std::uint16_t>(sign | 0x7c00u |
                                      (abs > 0x7f800000u ? (0x200u | ((abs >> 13) & 0x3ffu)) : 0u));
  } else if (abs >= 0x477ff000u) {  // >= 65520 rounds to infinity
    bits = static_cast<std::uint16_t>(sign | 0x7c00u);
  } else if (abs < 0x38800000u) {  // below 2^-14: subnormal (or zero) in binary16
    // Adding 0.5 (ulp 2^-24) lets the FPU round |x| to a multiple of 2^-24, nearest even.
    float fabs_v;
    std::memcpy(&fabs_v, &abs, 4);
    fabs_v += 0.5f;
    std::uint32_t u;
    std::memcpy(&u, &fabs_v, 4);
    bits = static_cast<std::uint16_t>(sign | (u - 0x3f000000u));
  } else {
    const std::uint32_t odd = (abs >> 13) & 1u;
    abs += 0xc8000fffu + odd;  // rebias exponent 127 -> 15, round to nearest even
    bits = static_cast<std::uint16_t>(sign | (abs >> 13));
  }
}

float16::operator float() const noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exp = (bits >> 10) & 0x1fu;
  const std::uint32_t mant = bits & 0x3ffu;
  std::uint32_t out;
  if (exp == 0x1f) {
    out = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    float v = std::ldexp(static_cast<float>(mant), -24);
    std::memcpy(&out, &v, 4);
    out |= sign;
  } else {
    out = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float result;
  std::memcpy(&result, &out, 4);
  return result;
}

}  // namespace strata
