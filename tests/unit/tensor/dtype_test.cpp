#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "strata/dtype.hpp"
#include "strata/error.hpp"

namespace strata {
namespace {

// Names and TensorFlow DataType numbers reach files: pinned here, from
// tensorflow/core/framework/types.proto and the Keras dtype spellings.
struct DTypeRow {
  DType dtype;
  const char* name;
  int tf_code;
  std::size_t size;
};
constexpr DTypeRow kTable[] = {
    {DType::kFloat32, "float32", 1, 4}, {DType::kFloat64, "float64", 2, 8},   {DType::kInt32, "int32", 3, 4},
    {DType::kUInt8, "uint8", 4, 1},     {DType::kInt8, "int8", 6, 1},         {DType::kInt64, "int64", 9, 8},
    {DType::kBool, "bool", 10, 1},      {DType::kBFloat16, "bfloat16", 14, 2}, {DType::kFloat16, "float16", 19, 2},
};

TEST(DType, NamesCodesAndSizesArePinned) {
  for (const auto& row : kTable) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(dtype_name(row.dtype), row.name);
    EXPECT_EQ(dtype_from_name(row.name), row.dtype);
    EXPECT_EQ(dtype_to_tf(row.dtype), row.tf_code);
    EXPECT_EQ(dtype_from_tf(row.tf_code), row.dtype);
    EXPECT_EQ(dtype_size(row.dtype), row.size);
  }
  EXPECT_EQ(dtype_to_tf(DType::kString), 7);
  EXPECT_EQ(dtype_from_tf(7), DType::kString);
  EXPECT_EQ(dtype_name(DType::kString), "string");
}

TEST(DType, AliasesAndErrors) {
  EXPECT_EQ(dtype_from_name("float"), DType::kFloat32);
  EXPECT_EQ(dtype_from_name("double"), DType::kFloat64);
  EXPECT_EQ(dtype_from_name("half"), DType::kFloat16);
  EXPECT_THROW(dtype_from_name("float8"), ValueError);
  EXPECT_THROW(dtype_from_tf(20), FormatError);   // DT_RESOURCE
  EXPECT_THROW(dtype_from_tf(101), FormatError);  // DT_FLOAT_REF
  try {
    dtype_from_tf(8);
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("code 8"), std::string::npos);
  }
}

TEST(DType, Classification) {
  EXPECT_TRUE(is_floating(DType::kBFloat16));
  EXPECT_FALSE(is_floating(DType::kInt32));
  EXPECT_TRUE(is_integer(DType::kUInt8));
  EXPECT_FALSE(is_integer(DType::kBool));
  EXPECT_TRUE(is_numeric(DType::kBool));
  EXPECT_FALSE(is_numeric(DType::kString));
}

float half_value(std::uint16_t bits) {
  // Independent decoding from the IEEE 754 binary16 definition.
  const int sign = bits >> 15;
  const int exp = (bits >> 10) & 0x1f;
  const int mant = bits & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(1024 + mant, exp - 25);
  }
  return static_cast<float>(sign ? -v : v);
}

TEST(Float16, KnownBitPatterns) {
  EXPECT_EQ(float16(1.0f).bits, 0x3c00);
  EXPECT_EQ(float16(-2.0f).bits, 0xc000);
  EXPECT_EQ(float16(65504.0f).bits, 0x7bff);
  EXPECT_EQ(float16(65519.0f).bits, 0x7bff);
  EXPECT_EQ(float16(65520.0f).bits, 0x7c00);  // tie rounds to even: infinity
  EXPECT_EQ(float16(std::ldexp(1.0f, -24)).bits, 0x0001);
  EXPECT_EQ(float16(std::ldexp(1.0f, -25)).bits, 0x0000);  // tie to even (zero)
  EXPECT_EQ(float16(std::ldexp(3.0f, -25)).bits, 0x0002);  // 1.5 ulp: tie to even (2)
  EXPECT_EQ(float16(0.1f).bits, 0x2e66);
  EXPECT_EQ(float16(-0.0f).bits, 0x8000);
  EXPECT_EQ(float16(std::numeric_limits<float>::infinity()).bits, 0x7c00);
  EXPECT_TRUE(std::isnan(static_cast<float>(float16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Float16, EveryValueRoundTripsAndDecodesAsTheStandardSays) {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const float expected = half_value(bits);
    const float got = static_cast<float>(float16::from_bits(bits));
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(got)) << b;
      continue;
    }
    ASSERT_EQ(std::memcmp(&expected, &got, 4), 0) << "bits " << b;
    ASSERT_EQ(float16(got).bits, bits) << "bits " << b;
  }
}

TEST(Float16, MidpointsRoundToEven) {
  // Between consecutive finite positive halves, the midpoint goes to the even one.
  for (std::uint16_t b = 0; b < 0x7bff; ++b) {
    const double lo = half_value(b), hi = half_value(static_cast<std::uint16_t>(b + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact in float
    const std::uint16_t even = (b % 2 == 0) ? b : static_cast<std::uint16_t>(b + 1);
    ASSERT_EQ(float16(mid).bits, even) << "between " << b << " and " << b + 1;
  }
}

TEST(BFloat16, RoundsToNearestEvenAndKeepsNaN) {
  EXPECT_EQ(bfloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(static_cast<float>(bfloat16::from_bits(0x4049)), 3.140625f);
  // 1 + 2^-8 is exactly between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(bfloat16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);
  // 1 + 3*2^-8 is between 1+2^-7 (odd) and 1+2^-6 (even): goes up to even.
  EXPECT_EQ(bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);
  EXPECT_TRUE(std::isnan(static_cast<float>(bfloat16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bfloat16(std::numeric_limits<float>::infinity()).bits, 0x7f80);
}

}  // namespace
}  // namespace strata
