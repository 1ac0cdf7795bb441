// Cast between every pair of numeric dtypes (float16, bfloat16, float32, float64, int8,
// uint8, int32, int64, bool). Large float32 <-> bfloat16 conversions are oneDNN
// reorders (round to nearest even, as OPS.md asks); everything else is plain C++ with
// exactly one rounding per value: float16/bfloat16 are rounded from the float or double
// bits directly, and int64 values beyond 2^53 reach them through a round-to-odd double so
// that the second rounding is still correct. float -> integer truncates toward zero;
// values the integer type cannot hold saturate and NaN becomes 0 (OPS.md leaves those to
// the backend; this is what the ref kernels do). The loops are cloned per CPU feature level
// (dispatch.hpp), each rounding as the baseline build does.
#include <bit>
#include <cmath>

#include "common.hpp"
#include "dispatch.hpp"
#include "dnnl_util.hpp"
#include "kernels.hpp"

namespace strata::onednn {
namespace {

STRATA_CPU_INLINE float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float f = static_cast<float>(mantissa) * (1.0f / 16777216.0f);  // mantissa · 2^-24, exact
    return sign ? -f : f;
  }
  const std::uint32_t bits =
      exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13)) : (sign | ((exponent + 112) << 23) | (mantissa << 13));
  return std::bit_cast<float>(bits);
}

STRATA_CPU_INLINE float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

STRATA_CPU_INLINE std::uint16_t float_to_half(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 (ties to even go up): infinity
  if (x < 0x38800000u) {                        // below 2^-14: a subnormal half or zero
    const float scaled = std::bit_cast<float>(x) * 16777216.0f;  // exact: |f| / 2^-24
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  x += 0xfffu + ((x >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | ((x >> 13) - (112u << 10)));
}

STRATA_CPU_INLINE std::uint16_t double_to_half(double d) {
  std::uint64_t x = std::bit_cast<std::uint64_t>(d);
  const auto sign = static_cast<std::uint16_t>((x >> 48) & 0x8000u);
  x &= 0x7fffffffffffffffull;
  if (x > 0x7ff0000000000000ull) return sign | 0x7e00u;
  if (x >= 0x40effe0000000000ull) return sign | 0x7c00u;  // >= 65520
  if (x < 0x3f10000000000000ull) {                        // below 2^-14
    const double scaled = std::bit_cast<double>(x) * 16777216.0;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  x += (1ull << 41) - 1 + ((x >> 42) & 1u);
  return static_cast<std::uint16_t>(sign | ((x >> 42) - (1008ull << 10)));
}

STRATA_CPU_INLINE std::uint16_t float_to_bfloat16(float f) { return bfloat16(f).bits; }

STRATA_CPU_INLINE std::uint16_t double_to_bfloat16(double d) {
  std::uint64_t x = std::bit_cast<std::uint64_t>(d);
  const auto sign = static_cast<std::uint16_t>((x >> 48) & 0x8000u);
  x &= 0x7fffffffffffffffull;
  if (x > 0x7ff0000000000000ull) return sign | 0x7fc0u;
  if (x >= 0x47eff00000000000ull) return sign | 0x7f80u;  // >= (2 - 2^-8) · 2^127
  if (x < 0x3810000000000000ull) {                        // below 2^-126: subnormal
    const double scaled = std::bit_cast<double>(x) * 0x1p133;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  x += (1ull << 44) - 1 + ((x >> 45) & 1u);
  return static_cast<std::uint16_t>(sign | ((x >> 45) - (896ull << 7)));
}

// An int64 as a double rounded to odd: exact below 2^53; above, the dropped bits are
// folded into the lowest kept bit, so rounding that double to fewer than 52 bits gives
// the correctly rounded value of the integer.
STRATA_CPU_INLINE double int_to_double_odd(std::int64_t v) {
  const std::uint64_t magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  if (magnitude <= (1ull << 53)) return static_cast<double>(v);
  const int shift = 64 - std::countl_zero(magnitude) - 53;
  std::uint64_t kept = magnitude >> shift;
  if (magnitude & ((1ull << shift) - 1)) kept |= 1;
  const double d = std::ldexp(static_cast<double>(kept), shift);
  return v < 0 ? -d : d;
}

template <class D>
STRATA_CPU_INLINE D float_to_int(double x) {
  if (x != x) return 0;
  const double t = std::trunc(x);
  if (t <= static_cast<double>(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
  if (t >= static_cast<double>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
  return static_cast<D>(t);
}

// One value, converted. Sources: float16/bfloat16 are first decoded (exactly) to float;
// bool is read as a byte.
template <class S, class D>
STRATA_CPU_INLINE D convert(S s) {
  if constexpr (std::is_same_v<S, float16>) {
    return convert<float, D>(half_to_float(s.bits));
  } else if constexpr (std::is_same_v<S, bfloat16>) {
    return convert<float, D>(bfloat16_to_float(s.bits));
  } else if constexpr (std::is_same_v<D, float16>) {
    if constexpr (std::is_same_v<S, float>) {
      return float16::from_bits(float_to_half(s));
    } else if constexpr (std::is_same_v<S, double>) {
      return float16::from_bits(double_to_half(s));
    } else {
      return float16::from_bits(double_to_half(int_to_double_odd(static_cast<std::int64_t>(s))));
    }
  } else if constexpr (std::is_same_v<D, bfloat16>) {
    if constexpr (std::is_same_v<S, float>) {
      return bfloat16::from_bits(float_to_bfloat16(s));
    } else if constexpr (std::is_same_v<S, double>) {
      return bfloat16::from_bits(double_to_bfloat16(s));
    } else {
      return bfloat16::from_bits(double_to_bfloat16(int_to_double_odd(static_cast<std::int64_t>(s))));
    }
  } else if constexpr (std::is_same_v<D, bool>) {
    return s != S(0);
  } else if constexpr (std::is_floating_point_v<D>) {
    return static_cast<D>(s);  // one rounding (int64 -> float included)
  } else if constexpr (std::is_floating_point_v<S>) {
    return float_to_int<D>(static_cast<double>(s));
  } else {
    return static_cast<D>(s);  // integers wrap (modular); bool is 0/1
  }
}

// Large float32 <-> bfloat16 conversions as a oneDNN reorder. float16 stays in the cloned
// C++ loop: oneDNN 2.6's float16 reorder ran 35-60 ns per value on an AVX-512 VM where the
// loop takes ~1 ns (issue 22), and the loop rounds exactly as the reference kernels.
bool dnnl_cast(KernelContext& ctx, DType src, DType dst) {
  if (src == DType::kFloat16 || dst == DType::kFloat16) return false;
  auto dnnl_type = [](DType d) {
    switch (d) {
      case DType::kFloat32: return dnnl::memory::data_type::f32;
      case DType::kBFloat16: return dnnl::memory::data_type::bf16;
      case DType::kFloat16: return dnnl::memory::data_type::f16;
      default: return dnnl::memory::data_type::undef;
    }
  };
  const auto s = dnnl_type(src), d = dnnl_type(dst);
  if (s == dnnl::memory::data_type::undef || d == dnnl::memory::data_type::undef || s == d) return false;
  if (src != DType::kFloat32 && dst != DType::kFloat32) return false;
  const std::int64_t n = ctx.input(0).num_elements();
  if (n < kDnnlMinElements) return false;
  KeyBuilder key("cast");
  key.add(static_cast<std::int64_t>(src)).add(static_cast<std::int64_t>(dst)).add(n);
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto s_md = plain({n}, s), d_md = plain({n}, d);
    const dnnl::reorder::primitive_desc pd(engine(), s_md, engine(), d_md, user_scratchpad());
    return PrimitiveSpec{dnnl::reorder(pd), {{DNNL_ARG_FROM, s_md}, {DNNL_ARG_TO, d_md}}, pd.scratchpad_desc()};
  });
  const void* x = ctx.input(0).data();
  void* y = ctx.allocate_output(0).mutable_data();
  prim->execute({x, y});
  return true;
}

template <class S, class D>
STRATA_CPU_INLINE void cast_range(const S* __restrict x, D* __restrict o, std::int64_t begin, std::int64_t end) {
  if constexpr (std::is_same_v<S, bool>) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(x);
    for (std::int64_t i = begin; i < end; ++i) o[i] = convert<std::uint8_t, D>(b[i] != 0 ? 1 : 0);
  } else {
    for (std::int64_t i = begin; i < end; ++i) o[i] = convert<S, D>(x[i]);
  }
}

// One cloned (dispatch.hpp) overload per source and destination type: target_clones does
// not apply to templates.
#define STRATA_CAST_CLONE(S, D)                                                                  \
  STRATA_CPU_CLONES void cast_cloned(const S* x, D* o, std::int64_t begin, std::int64_t end) { \
    cast_range<S, D>(x, o, begin, end);                                                        \
  }
#define STRATA_CAST_CLONES_FROM(S)                                                                             \
  STRATA_CAST_CLONE(S, float16)                                                                                \
  STRATA_CAST_CLONE(S, bfloat16)                                                                               \
  STRATA_CAST_CLONE(S, float)                                                                                  \
  STRATA_CAST_CLONE(S, double) STRATA_CAST_CLONE(S, std::int8_t) STRATA_CAST_CLONE(S, std::uint8_t)          \
      STRATA_CAST_CLONE(S, std::int32_t) STRATA_CAST_CLONE(S, std::int64_t) STRATA_CAST_CLONE(S, bool)
STRATA_CAST_CLONES_FROM(float16)
STRATA_CAST_CLONES_FROM(bfloat16)
STRATA_CAST_CLONES_FROM(float)
STRATA_CAST_CLONES_FROM(double)
STRATA_CAST_CLONES_FROM(std::int8_t)
STRATA_CAST_CLONES_FROM(std::uint8_t)
STRATA_CAST_CLONES_FROM(std::int32_t)
STRATA_CAST_CLONES_FROM(std::int64_t)
STRATA_CAST_CLONES_FROM(bool)
#undef STRATA_CAST_CLONES_FROM
#undef STRATA_CAST_CLONE

template <class S, class D>
void cast_loop(KernelContext& ctx) {
  const S* x = static_cast<const S*>(ctx.input(0).data());
  D* o = out<D>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  parallel_for(n, kGrainCheap, [&](std::int64_t begin, std::int64_t end) { cast_cloned(x, o, begin, end); });
}

template <class S>
void cast_from(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  STRATA_CHECK(ctx.input(0).dtype() == dtype_of<S>, BackendError, "Cast: the input is ",
               dtype_name(ctx.input(0).dtype()));
  const DType dst = ctx.output_meta(0).dtype;
  if (dst == dtype_of<S>) {
    ctx.set_output(0, ctx.input(0));
    return;
  }
  if (dnnl_cast(ctx, dtype_of<S>, dst)) return;
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
  STRATA_THROW(BackendError, "Cast: no cpu kernel from ", dtype_name(dtype_of<S>), " to ", dtype_name(dst));
}

}  // namespace

void register_cast_kernels(Registrar& r) {
  add_typed<float16, bfloat16, float, double, std::int8_t, std::uint8_t, std::int32_t, std::int64_t, bool>(
      r, "Cast", [](auto tag) {
        using S = typename decltype(tag)::type;
        return [](KernelContext& ctx) { cast_from<S>(ctx); };
      });
}

}  // namespace strata::onednn
