// Ref kernels of Cast between every pair of numeric dtypes. Every value passes through a
// long double (which holds any float16, bfloat16, float, double and int64 value exactly)
// or an int64, and is rounded once into the destination. float16 and bfloat16 are
// decoded and rounded here from their bit layouts (IEEE 754 binary16; the top half of a
// binary32), not through the SDK's conversions, so that Cast also checks those.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ref_kernels_util.hpp"

namespace strata::testing::ref {
namespace {

using LD = long double;

LD half_value(float16 h) {
  const unsigned sign = h.bits >> 15, exponent = (h.bits >> 10) & 0x1fu, fraction = h.bits & 0x3ffu;
  LD magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<LD>(fraction), -24);  // subnormal: fraction · 2^-24
  } else if (exponent == 31) {
    magnitude = fraction == 0 ? std::numeric_limits<LD>::infinity() : std::numeric_limits<LD>::quiet_NaN();
  } else {
    magnitude = std::ldexp(static_cast<LD>(1024 + fraction), static_cast<int>(exponent) - 25);  // 1.f · 2^(e-15)
  }
  return sign ? -magnitude : magnitude;
}

LD bfloat16_value(bfloat16 b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// `x` rounded to the nearest number of a binary format with `fraction_bits` stored
// fraction bits, smallest normal exponent `min_exponent` (below it the spacing stays
// 2^(min_exponent - fraction_bits): subnormals) and largest finite value `max_finite`;
// ties to even; a result beyond max_finite is infinity.
LD round_to_format(LD x, int fraction_bits, int min_exponent, LD max_finite) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  int e = 0;
  std::frexp(x, &e);  // |x| in [2^(e-1), 2^e)
  const int exponent = std::max(e - 1, min_exponent);
  const LD spacing = std::ldexp(1.0L, exponent - fraction_bits);
  const LD rounded = std::nearbyint(x / spacing) * spacing;  // the default mode rounds ties to even
  if (std::fabs(rounded) > max_finite) return std::copysign(std::numeric_limits<LD>::infinity(), x);
  return rounded;
}

float16 to_half(LD x) {
  const LD r = round_to_format(x, 10, -14, 65504.0L);
  const std::uint16_t sign = std::signbit(r) ? 0x8000u : 0u;
  if (std::isnan(r)) return float16::from_bits(static_cast<std::uint16_t>(sign | 0x7e00u));
  if (std::isinf(r)) return float16::from_bits(static_cast<std::uint16_t>(sign | 0x7c00u));
  const LD magnitude = std::fabs(r);
  if (magnitude < std::ldexp(1.0L, -14)) {  // zero or subnormal: magnitude / 2^-24 is the fraction
    return float16::from_bits(static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::ldexp(magnitude, 24))));
  }
  int e = 0;
  std::frexp(magnitude, &e);
  const int exponent = e - 1;
  const auto fraction = static_cast<std::uint16_t>((std::ldexp(magnitude, -exponent) - 1.0L) * 1024.0L);
  return float16::from_bits(static_cast<std::uint16_t>(sign | ((exponent + 15) << 10) | fraction));
}

bfloat16 to_bfloat16(LD x) {
  const LD r = round_to_format(x, 7, -126, std::ldexp(255.0L, 120));  // (2 - 2^-7) · 2^127
  if (std::isnan(r)) return bfloat16::from_bits(static_cast<std::uint16_t>(std::signbit(r) ? 0xffc0u : 0x7fc0u));
  const auto f = static_cast<float>(r);  // exact: r is a bfloat16 value, hence a float
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return bfloat16::from_bits(static_cast<std::uint16_t>(u >> 16));
}

// Float → integer: truncation toward zero. Values the type cannot hold (which C++ and
// OPS.md leave undefined) saturate, and NaN becomes 0.
template <class D>
D float_to_int(LD x) {
  if (std::isnan(x)) return 0;
  const LD t = std::trunc(x);
  if (t <= static_cast<LD>(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
  if (t >= static_cast<LD>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
  return static_cast<D>(t);
}

// One source value: a floating-point value or an integer (bool as 0/1).
struct Number {
  bool floating = false;
  LD f = 0;
  std::int64_t i = 0;
};

template <class S>
Number read(S v) {
  if constexpr (std::is_same_v<S, float16>) {
    return {true, half_value(v), 0};
  } else if constexpr (std::is_same_v<S, bfloat16>) {
    return {true, bfloat16_value(v), 0};
  } else if constexpr (std::is_floating_point_v<S>) {
    return {true, static_cast<LD>(v), 0};
  } else if constexpr (std::is_same_v<S, bool>) {
    return {false, 0, v ? 1 : 0};
  } else {
    return {false, 0, static_cast<std::int64_t>(v)};
  }
}

template <class D>
D write(const Number& n) {
  const LD as_ld = n.floating ? n.f : static_cast<LD>(n.i);  // exact for int64
  if constexpr (std::is_same_v<D, float16>) {
    return to_half(as_ld);
  } else if constexpr (std::is_same_v<D, bfloat16>) {
    return to_bfloat16(as_ld);
  } else if constexpr (std::is_floating_point_v<D>) {
    return n.floating ? static_cast<D>(n.f) : static_cast<D>(n.i);  // one rounding either way
  } else if constexpr (std::is_same_v<D, bool>) {
    return n.floating ? n.f != 0 : n.i != 0;  // NaN != 0
  } else {
    return n.floating ? float_to_int<D>(n.f) : static_cast<D>(n.i);  // integers wrap (modular)
  }
}

template <class S, class D>
void cast_loop(KernelContext& ctx) {
  check_out_dims(ctx, 0, in_dims(ctx, 0));
  const S* x = in<S>(ctx, 0);
  D* o = out<D>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  for (std::int64_t i = 0; i < n; ++i) o[i] = write<D>(read<S>(x[i]));
}

template <class S>
void cast_from(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const DType dst = ctx.output_meta(0).dtype;
  if (ctx.attrs().has("DstT")) {
    STRATA_CHECK(ctx.attrs().get<DType>("DstT") == dst, BackendError, "Cast: DstT ",
                 dtype_name(ctx.attrs().get<DType>("DstT")), " but the output was inferred as ", dtype_name(dst));
  }
  switch (dst) {
    case DType::kFloat16: return cast_loop<S, float16>(ctx);
    case DType::kBFloat16: return cast_loop<S, bfloat16>(ctx);
    case DType::kFloat32: return cast_loop<S, float>(ctx);
    case DType::kFloat64: return cast_loop<S, double>(ctx);
    case DType::kInt8: return cast_loop<S, std::int8_t>(ctx);
    case DType::kUInt8: return cast_loop<S, std::uint8_t>(ctx);
    case DType::kInt32: return cast_loop<S, std::int32_t>(ctx);
    case DType::kInt64: return cast_loop<S, std::int64_t>(ctx);
    case DType::kBool: return cast_loop<S, bool>(ctx);
    default: break;
  }
  STRATA_THROW(BackendError, "Cast: no ref kernel from ", dtype_name(dtype_of<S>), " to ", dtype_name(dst));
}

}  // namespace

void register_cast_kernels(Registrar& r) {
  add_typed<float16, bfloat16, float, double, std::int8_t, std::uint8_t, std::int32_t, std::int64_t, bool>(
      r, "Cast", [](auto t) {
        using S = typename decltype(t)::type;
        return [](KernelContext& ctx) { cast_from<S>(ctx); };
      });
}

}  // namespace strata::testing::ref
