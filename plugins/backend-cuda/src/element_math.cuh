// The per-element math of the backend-cuda kernels: binary, unary and gradient-helper
// functions, integer division and powers, and the cast rules. Compiled by nvcc for the
// device (kernels.cu, exact.cu) and by the host compiler for tests/ops
// (CudaElementMath), which checks it against the ref kernels on machines without a GPU.
// Plain C++17 plus CUDA's half types; no Strata headers.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "launch.hpp"

#if defined(__CUDACC__)
#define STRATA_HD __host__ __device__ inline
#else
#define STRATA_HD inline
#endif

namespace strata::cuda {

inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;
inline constexpr double kPi = 3.141592653589793238462643383279502884;

template <class T>
STRATA_HD T nan_of() {
  if constexpr (std::is_floating_point_v<T>) {
    return std::numeric_limits<T>::quiet_NaN();
  } else {
    return T(0);
  }
}
template <class T>
STRATA_HD bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// Integer + - * and negation wrap around (two's complement), as on the cpu.
template <class T>
STRATA_HD T wrap_add(T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(x) + static_cast<U>(y));
  } else {
    return x + y;
  }
}
template <class T>
STRATA_HD T wrap_sub(T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(x) - static_cast<U>(y));
  } else {
    return x - y;
  }
}
template <class T>
STRATA_HD T wrap_mul(T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(x) * static_cast<U>(y));
  } else {
    return x * y;
  }
}

// Element-wise binaries that cannot fault. Integer division and powers go through
// int_divide / int_power (checked_binary) instead.
template <class T>
STRATA_HD T binary_op(Binary op, T x, T y) {
  switch (op) {
    case Binary::kAdd: return wrap_add(x, y);
    case Binary::kSub: return wrap_sub(x, y);
    case Binary::kMul: return wrap_mul(x, y);
    case Binary::kDiv: return y == T(0) && std::is_integral_v<T> ? T(0) : x / y;
    case Binary::kMax: return (is_nan(x) || is_nan(y)) ? nan_of<T>() : (x > y ? x : y);
    case Binary::kMin: return (is_nan(x) || is_nan(y)) ? nan_of<T>() : (x < y ? x : y);
    case Binary::kPow: return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
    case Binary::kSquaredDifference: {
      const T d = wrap_sub(x, y);
      return wrap_mul(d, d);
    }
    case Binary::kAtan2: return static_cast<T>(std::atan2(static_cast<double>(x), static_cast<double>(y)));
  }
  return nan_of<T>();
}

STRATA_HD double sigmoid_d(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// Transcendentals in double, rounded once to T.
template <class T>
STRATA_HD T unary_op(Unary op, T xf) {
  const double x = static_cast<double>(xf);
  switch (op) {
    case Unary::kNeg: return wrap_sub(T(0), xf);
    case Unary::kAbs: return xf < T(0) ? wrap_sub(T(0), xf) : xf;
    case Unary::kSign: return is_nan(xf) ? xf : static_cast<T>((xf > T(0)) - (xf < T(0)));
    case Unary::kSquare: return wrap_mul(xf, xf);
    case Unary::kSqrt: return static_cast<T>(std::sqrt(x));
    case Unary::kRsqrt: return static_cast<T>(1.0 / std::sqrt(x));
    case Unary::kReciprocal: return static_cast<T>(1.0 / x);
    case Unary::kExp: return static_cast<T>(std::exp(x));
    case Unary::kLog: return static_cast<T>(std::log(x));
    case Unary::kLog1p: return static_cast<T>(std::log1p(x));
    case Unary::kErf: return static_cast<T>(std::erf(x));
    case Unary::kErfc: return static_cast<T>(std::erfc(x));
    case Unary::kFloor: return static_cast<T>(std::floor(x));
    case Unary::kRelu: return xf < 0 ? T(0) : xf;
    case Unary::kRelu6: return xf < 0 ? T(0) : (xf > 6 ? T(6) : xf);
    case Unary::kElu: return xf > 0 ? xf : static_cast<T>(std::expm1(x));
    case Unary::kSelu: return static_cast<T>(kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x)));
    case Unary::kSigmoid: return static_cast<T>(sigmoid_d(x));
    case Unary::kTanh: return static_cast<T>(std::tanh(x));
    case Unary::kSoftplus: return static_cast<T>(x > 20 ? x : (x < -20 ? std::exp(x) : std::log1p(std::exp(x))));
    case Unary::kSoftsign: return static_cast<T>(x / (1.0 + std::fabs(x)));
    case Unary::kGelu: return static_cast<T>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
    case Unary::kSin: return static_cast<T>(std::sin(x));
    case Unary::kCos: return static_cast<T>(std::cos(x));
    case Unary::kTan: return static_cast<T>(std::tan(x));
    case Unary::kAsin: return static_cast<T>(std::asin(x));
    case Unary::kAcos: return static_cast<T>(std::acos(x));
    case Unary::kAtan: return static_cast<T>(std::atan(x));
    case Unary::kSinh: return static_cast<T>(std::sinh(x));
    case Unary::kCosh: return static_cast<T>(std::cosh(x));
    case Unary::kAsinh: return static_cast<T>(std::asinh(x));
    case Unary::kAcosh: return static_cast<T>(std::acosh(x));
    case Unary::kAtanh: return static_cast<T>(std::atanh(x));
    case Unary::kGeluApprox:
      return static_cast<T>(0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (x + 0.044715 * x * x * x))));
  }
  return nan_of<T>();
}

// Gradient helpers, inputs as docs/OPS.md lists them.
template <class T>
STRATA_HD T pair_op(Pair op, T af, T bf) {
  const double a = static_cast<double>(af), b = static_cast<double>(bf);
  switch (op) {
    case Pair::kReluGrad: return bf > 0 ? af : T(0);
    case Pair::kRelu6Grad: return (bf > 0 && bf < 6) ? af : T(0);
    case Pair::kEluGrad: return bf > 0 ? af : static_cast<T>(a * (b + 1.0));
    case Pair::kSeluGrad:
      return static_cast<T>(bf > 0 ? a * kSeluScale : a * (b + kSeluScale * kSeluAlpha));
    case Pair::kSigmoidGrad: return static_cast<T>(b * a * (1.0 - a));   // (y, dy)
    case Pair::kTanhGrad: return static_cast<T>(b * (1.0 - a * a));      // (y, dy)
    case Pair::kSoftplusGrad: return static_cast<T>(a * sigmoid_d(b));
    case Pair::kSoftsignGrad: {
      const double d = 1.0 + std::fabs(b);
      return static_cast<T>(a / (d * d));
    }
    case Pair::kRsqrtGrad: return static_cast<T>(b * -0.5 * a * a * a);  // (y, dy)
    case Pair::kSqrtGrad: return static_cast<T>(b * 0.5 / a);            // (y, dy)
    case Pair::kGeluGrad: {  // (gradients, features): 0.5 (1 + erf(x/√2)) + x φ(x)
      const double phi = std::exp(-0.5 * b * b) / std::sqrt(2.0 * kPi);
      return static_cast<T>(a * (0.5 * (1.0 + std::erf(b / std::sqrt(2.0))) + b * phi));
    }
    case Pair::kGeluApproxGrad: {  // u = √(2/π)(x + 0.044715 x³)
      const double k = std::sqrt(2.0 / kPi);
      const double u = k * (b + 0.044715 * b * b * b), du = k * (1.0 + 3.0 * 0.044715 * b * b);
      const double t = std::tanh(u);
      return static_cast<T>(a * (0.5 * (1.0 + t) + 0.5 * b * (1.0 - t * t) * du));
    }
  }
  return nan_of<T>();
}

// ---- integers -----------------------------------------------------------------------------

template <class T>
STRATA_HD T wrapping(unsigned long long v) {
  return static_cast<T>(static_cast<std::make_unsigned_t<T>>(v));
}

// x / y truncating, lowest / -1 wrapping; false for a zero divisor.
template <class T>
STRATA_HD bool int_divide(T x, T y, T& r) {
  if (y == T(0)) return false;
  r = y == T(-1) ? wrapping<T>(0ull - static_cast<unsigned long long>(x)) : static_cast<T>(x / y);
  return true;
}

// x^y: exact and wrapping for y >= 0; for y < 0 what truncating pow gives (1 for x = 1,
// ±1 for x = -1, else 0); false for 0 to a negative power.
template <class T>
STRATA_HD bool int_power(T x, T y, T& r) {
  if (y < T(0)) {
    if (x == T(0)) return false;
    r = x == T(1) ? T(1) : (x == T(-1) ? ((y % 2 == 0) ? T(1) : T(-1)) : T(0));
    return true;
  }
  unsigned long long result = 1, base = static_cast<unsigned long long>(static_cast<long long>(x));
  for (long long e = y; e > 0; e /= 2) {
    if (e % 2 == 1) result *= base;
    base *= base;
  }
  r = wrapping<T>(result);
  return true;
}

// ---- casts --------------------------------------------------------------------------------

// One source value: floating (exactly, as a double: every float16, bfloat16, float and
// double is one) or an integer (bool as 0/1).
struct Num {
  bool floating;
  double f;
  long long i;
};

template <class S>
STRATA_HD Num read_num(S v) {
  if constexpr (std::is_same_v<S, __half>) {
    return {true, static_cast<double>(__half2float(v)), 0};
  } else if constexpr (std::is_same_v<S, __nv_bfloat16>) {
    return {true, static_cast<double>(__bfloat162float(v)), 0};
  } else if constexpr (std::is_floating_point_v<S>) {
    return {true, static_cast<double>(v), 0};
  } else if constexpr (std::is_same_v<S, bool>) {
    return {false, 0.0, v ? 1 : 0};
  } else {
    return {false, 0.0, static_cast<long long>(v)};
  }
}

// Float -> integer: toward zero, saturating, NaN -> 0.
template <class D>
STRATA_HD D float_to_int(double x) {
  using U = std::make_unsigned_t<D>;
  constexpr bool is_signed = std::is_signed_v<D>;
  const D lowest = is_signed ? static_cast<D>(U(1) << (sizeof(D) * 8 - 1)) : D(0);
  const D highest = is_signed ? static_cast<D>(~static_cast<U>(lowest)) : static_cast<D>(~U(0));
  if (std::isnan(x)) return D(0);
  const double t = std::trunc(x);
  if (t <= static_cast<double>(lowest)) return lowest;
  if (t >= static_cast<double>(highest)) return highest;
  return static_cast<D>(t);
}

template <class D>
STRATA_HD D write_num(const Num& n) {
  // Each branch rounds once: a double holds every source value exactly except int64
  // beyond 2^53, which goes to float16/bfloat16 through the integer conversions.
  if constexpr (std::is_same_v<D, __half>) {
    return n.floating ? __double2half(n.f) : __ll2half_rn(n.i);
  } else if constexpr (std::is_same_v<D, __nv_bfloat16>) {
    return n.floating ? __double2bfloat16(n.f) : __ll2bfloat16_rn(n.i);
  } else if constexpr (std::is_floating_point_v<D>) {
    return n.floating ? static_cast<D>(n.f) : static_cast<D>(n.i);
  } else if constexpr (std::is_same_v<D, bool>) {
    return n.floating ? n.f != 0.0 : n.i != 0;
  } else {
    // Integers wrap (modular), floats saturate.
    return n.floating ? float_to_int<D>(n.f) : static_cast<D>(static_cast<std::make_unsigned_t<D>>(n.i));
  }
}

}  // namespace strata::cuda
