// Ref kernels of the element-wise ops: binary arithmetic and comparisons with NumPy
// broadcasting, unary math and activations, and the activation gradient helpers.
// Floating-point functions are evaluated in long double and rounded once to the
// element type.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ref_kernels_util.hpp"

namespace strata::testing::ref {
namespace {

using LD = long double;

constexpr LD kSeluAlpha = 1.6732632423543772848170429916717L;
constexpr LD kSeluScale = 1.0507009873554804934193349852946L;
constexpr LD kPi = 3.141592653589793238462643383279502884L;

// out[i] = f(x[bcast], y[bcast]) over the broadcast output shape.
template <class T, class R, class F>
void binary(KernelContext& ctx, F f) {
  check_num_inputs(ctx, 2);
  const Dims& od = out_dims(ctx, 0);
  const Dims sx = broadcast_strides(ctx, 0, od), sy = broadcast_strides(ctx, 1, od);
  const T* x = in<T>(ctx, 0);
  const T* y = in<T>(ctx, 1);
  R* o = out<R>(ctx, 0);
  const std::int64_t n = num_elements(od);
  for (std::int64_t i = 0; i < n; ++i) {
    o[i] = f(x[kernel_util::broadcast_offset(i, od, sx)], y[kernel_util::broadcast_offset(i, od, sy)]);
  }
}

// out[i] = f(x[i]).
template <class T, class R, class F>
void unary(KernelContext& ctx, F f) {
  check_num_inputs(ctx, 1);
  check_out_dims(ctx, 0, in_dims(ctx, 0));
  const T* x = in<T>(ctx, 0);
  R* o = out<R>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
}

// A floating-point unary op computed in long double.
template <class T, class F>
void unary_math(KernelContext& ctx, F f) {
  unary<T, T>(ctx, [&](T x) { return static_cast<T>(f(static_cast<LD>(x))); });
}

// A gradient helper: out[i] = f(a[i], b[i]) for two inputs of one shape, in long double.
template <class T, class F>
void same_shape_pair(KernelContext& ctx, F f) {
  check_num_inputs(ctx, 2);
  check_same_dims(ctx, 0, 1);
  check_out_dims(ctx, 0, in_dims(ctx, 0));
  const T* a = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(f(static_cast<LD>(a[i]), static_cast<LD>(b[i])));
}

template <class T>
bool is_nan(T v) {
  if constexpr (kIsFloat<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// One IEEE operation in the element type is already correctly rounded; integers wrap.
template <class T>
T plus(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return a + b;
  } else {
    return static_cast<T>(wrap_add(a, b));
  }
}
template <class T>
T minus(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return a - b;
  } else {
    return static_cast<T>(wrap_sub(a, b));
  }
}
template <class T>
T times(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return a * b;
  } else {
    return static_cast<T>(wrap_mul(a, b));
  }
}

// x / y; integers truncate toward zero and division by zero is an error.
template <class T>
T divide(const KernelContext& ctx, T x, T y) {
  if constexpr (kIsFloat<T>) {
    return x / y;  // one IEEE division: correctly rounded, inf/NaN for a zero divisor
  } else {
    STRATA_CHECK(y != 0, BackendError, "op ", ctx.op_name(), ": integer division by zero (", x, " / 0)");
    if (y == -1) return static_cast<T>(wrap_sub(0, x));  // lowest / -1 wraps like negation
    return static_cast<T>(x / y);
  }
}

// x^y. Floats: std::pow. Integers: the exact power (wrapping) for y >= 0; for y < 0 what
// truncating std::pow gives (1 for x = 1, ±1 for x = -1, 0 otherwise), and an error for
// 0 to a negative power, whose std::pow value (inf) has no integer.
template <class T>
T power(const KernelContext& ctx, T x, T y) {
  if constexpr (kIsFloat<T>) {
    return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  } else {
    if (y < 0) {
      STRATA_CHECK(x != 0, BackendError, "op ", ctx.op_name(), ": integer 0 to the negative power ", y);
      if (x == 1) return 1;
      if (x == -1) return (y % 2 == 0) ? 1 : -1;
      return 0;
    }
    // Exponentiation by squaring: result · base^e stays x^y throughout.
    std::int64_t result = 1, base = x;
    for (std::int64_t e = y; e > 0; e /= 2) {
      if (e % 2 == 1) result = wrap_mul(result, base);
      base = wrap_mul(base, base);
    }
    return static_cast<T>(result);
  }
}

// Maximum / minimum with NaN propagating.
template <class T>
T maximum(T a, T b) {
  if (is_nan(a)) return a;
  if (is_nan(b)) return b;
  return a > b ? a : b;
}
template <class T>
T minimum(T a, T b) {
  if (is_nan(a)) return a;
  if (is_nan(b)) return b;
  return a < b ? a : b;
}

LD sigmoid(LD x) {
  if (x >= 0) return 1.0L / (1.0L + std::exp(-x));
  const LD e = std::exp(x);
  return e / (1.0L + e);
}

LD gelu(LD x, bool approximate) {
  if (!approximate) return 0.5L * x * (1.0L + std::erf(x / std::sqrt(2.0L)));
  const LD u = std::sqrt(2.0L / kPi) * (x + 0.044715L * x * x * x);
  return 0.5L * x * (1.0L + std::tanh(u));
}

// d gelu / dx.
LD gelu_derivative(LD x, bool approximate) {
  if (!approximate) {
    // 0.5 (1 + erf(x/√2)) + x φ(x), φ the standard normal density.
    const LD phi = std::exp(-0.5L * x * x) / std::sqrt(2.0L * kPi);
    return 0.5L * (1.0L + std::erf(x / std::sqrt(2.0L))) + x * phi;
  }
  // u = √(2/π)(x + 0.044715 x³): 0.5 (1 + tanh u) + 0.5 x (1 − tanh² u) u'.
  const LD k = std::sqrt(2.0L / kPi);
  const LD u = k * (x + 0.044715L * x * x * x);
  const LD du = k * (1.0L + 3.0L * 0.044715L * x * x);
  const LD t = std::tanh(u);
  return 0.5L * (1.0L + t) + 0.5L * x * (1.0L - t * t) * du;
}

void register_binary(Registrar& r) {
  add_n(r, "AddV2", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, plus<T>); };
  });
  add_n(r, "Sub", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, minus<T>); };
  });
  add_n(r, "Mul", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, times<T>); };
  });
  add_n(r, "RealDiv", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, [&](T x, T y) { return divide<T>(ctx, x, y); }); };
  });
  add_n(r, "Maximum", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, maximum<T>); };
  });
  add_n(r, "Minimum", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, minimum<T>); };
  });
  add_n(r, "Pow", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, T>(ctx, [&](T x, T y) { return power<T>(ctx, x, y); }); };
  });
  add_n(r, "SquaredDifference", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      binary<T, T>(ctx, [](T x, T y) {
        if constexpr (kIsFloat<T>) {
          const LD d = static_cast<LD>(x) - static_cast<LD>(y);
          return static_cast<T>(d * d);
        } else {
          const std::int64_t d = wrap_sub(x, y);
          return static_cast<T>(wrap_mul(d, d));
        }
      });
    };
  });

  // Comparisons: N, and bool for Equal / NotEqual.
  add_n(r, "Greater", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, bool>(ctx, [](T x, T y) { return x > y; }); };
  });
  add_n(r, "GreaterEqual", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, bool>(ctx, [](T x, T y) { return x >= y; }); };
  });
  add_n(r, "Less", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, bool>(ctx, [](T x, T y) { return x < y; }); };
  });
  add_n(r, "LessEqual", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, bool>(ctx, [](T x, T y) { return x <= y; }); };
  });
  add_nb(r, "Equal", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, bool>(ctx, [](T x, T y) { return x == y; }); };
  });
  add_nb(r, "NotEqual", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { binary<T, bool>(ctx, [](T x, T y) { return x != y; }); };
  });
  add_typed<bool>(r, "LogicalAnd", [](auto) {
    return [](KernelContext& ctx) { binary<bool, bool>(ctx, [](bool x, bool y) { return x && y; }); };
  });
  add_typed<bool>(r, "LogicalOr", [](auto) {
    return [](KernelContext& ctx) { binary<bool, bool>(ctx, [](bool x, bool y) { return x || y; }); };
  });

  // SelectV2(condition, t, e): all three broadcast.
  add_nb(r, "SelectV2", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      check_num_inputs(ctx, 3);
      const Dims& od = out_dims(ctx, 0);
      const Dims sc = broadcast_strides(ctx, 0, od), st = broadcast_strides(ctx, 1, od),
                 se = broadcast_strides(ctx, 2, od);
      const bool* c = in<bool>(ctx, 0);
      const T* a = in<T>(ctx, 1);
      const T* b = in<T>(ctx, 2);
      T* o = out<T>(ctx, 0);
      const std::int64_t n = num_elements(od);
      for (std::int64_t i = 0; i < n; ++i) {
        o[i] = c[kernel_util::broadcast_offset(i, od, sc)] ? a[kernel_util::broadcast_offset(i, od, st)]
                                                            : b[kernel_util::broadcast_offset(i, od, se)];
      }
    };
  });

  // AddN: inputs of one shape, summed in input order.
  add_n(r, "AddN", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      STRATA_CHECK(ctx.num_inputs() >= 1, BackendError, "AddN needs at least one input");
      for (std::size_t k = 1; k < ctx.num_inputs(); ++k) check_same_dims(ctx, 0, k);
      check_out_dims(ctx, 0, in_dims(ctx, 0));
      std::vector<const T*> xs;
      for (std::size_t k = 0; k < ctx.num_inputs(); ++k) xs.push_back(in<T>(ctx, k));
      T* o = out<T>(ctx, 0);
      const std::int64_t n = ctx.input(0).num_elements();
      for (std::int64_t i = 0; i < n; ++i) {
        Acc<T> s = 0;
        for (const T* x : xs) s = acc_add<T>(s, static_cast<Acc<T>>(x[i]));
        o[i] = from_acc<T>(s);
      }
    };
  });
}

void register_unary(Registrar& r) {
  add_n(r, "Neg", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      unary<T, T>(ctx, [](T x) {
        if constexpr (kIsFloat<T>) {
          return static_cast<T>(-x);
        } else {
          return static_cast<T>(wrap_sub(0, x));
        }
      });
    };
  });
  add_n(r, "Abs", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      unary<T, T>(ctx, [](T x) {
        if constexpr (kIsFloat<T>) {
          return static_cast<T>(std::fabs(x));
        } else {
          return x < 0 ? static_cast<T>(wrap_sub(0, x)) : x;
        }
      });
    };
  });
  add_n(r, "Sign", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      unary<T, T>(ctx, [](T x) {
        if (is_nan(x)) return x;
        return static_cast<T>(x > 0 ? 1 : (x < 0 ? -1 : 0));
      });
    };
  });
  add_n(r, "Square", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary<T, T>(ctx, [](T x) { return times<T>(x, x); }); };
  });
  add_n(r, "Relu", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary<T, T>(ctx, [](T x) { return maximum<T>(x, T(0)); }); };
  });

  add_f(r, "Sqrt", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::sqrt(x); }); };
  });
  add_f(r, "Rsqrt", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return 1.0L / std::sqrt(x); }); };
  });
  add_f(r, "Reciprocal", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return 1.0L / x; }); };
  });
  add_f(r, "Exp", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::exp(x); }); };
  });
  add_f(r, "Log", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::log(x); }); };
  });
  add_f(r, "Log1p", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::log1p(x); }); };
  });
  add_f(r, "Erf", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::erf(x); }); };
  });
  add_f(r, "Erfc", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::erfc(x); }); };
  });
  add_f(r, "Floor", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::floor(x); }); };
  });
  add_f(r, "Sin", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::sin(x); }); };
  });
  add_f(r, "Cos", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::cos(x); }); };
  });
  add_f(r, "Tan", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::tan(x); }); };
  });
  add_f(r, "Asin", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::asin(x); }); };
  });
  add_f(r, "Acos", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::acos(x); }); };
  });
  add_f(r, "Atan", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::atan(x); }); };
  });
  add_f(r, "Sinh", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::sinh(x); }); };
  });
  add_f(r, "Cosh", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::cosh(x); }); };
  });
  add_f(r, "Asinh", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::asinh(x); }); };
  });
  add_f(r, "Acosh", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::acosh(x); }); };
  });
  add_f(r, "Atanh", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::atanh(x); }); };
  });
  // Atan2(y, x), broadcasting.
  add_f(r, "Atan2", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      binary<T, T>(ctx, [](T y, T x) { return static_cast<T>(std::atan2(static_cast<LD>(y), static_cast<LD>(x))); });
    };
  });
  add_f(r, "Relu6", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary<T, T>(ctx, [](T x) { return minimum<T>(maximum<T>(x, T(0)), T(6)); }); };
  });
  add_f(r, "Elu", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return x > 0 ? x : std::expm1(x); }); };
  });
  add_f(r, "Selu", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      unary_math<T>(ctx, [](LD x) { return kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x)); });
    };
  });
  add_f(r, "Sigmoid", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, sigmoid); };
  });
  add_f(r, "Tanh", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return std::tanh(x); }); };
  });
  add_f(r, "Softplus", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      unary_math<T>(ctx, [](LD x) {
        if (x > 20) return x;
        if (x < -20) return std::exp(x);
        return std::log1p(std::exp(x));
      });
    };
  });
  add_f(r, "Softsign", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](LD x) { return x / (1.0L + std::fabs(x)); }); };
  });
  add_f(r, "Gelu", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      const bool approximate = ctx.attrs().get_or<bool>("approximate", false);
      unary_math<T>(ctx, [&](LD x) { return gelu(x, approximate); });
    };
  });
  add_typed<bool>(r, "LogicalNot", [](auto) {
    return [](KernelContext& ctx) { unary<bool, bool>(ctx, [](bool x) { return !x; }); };
  });

  // Identity and StopGradient (and the reshapes, in ref_kernels_array.cpp) alias the input.
  for (const char* op : {"Identity", "StopGradient"}) {
    add_ref_kernel(r, op, DType::kInvalid, [](KernelContext& ctx) {
      check_num_inputs(ctx, 1);
      ctx.set_output(0, ctx.input(0).reshape(ctx.output_meta(0).shape));
    });
  }
}

void register_gradient_helpers(Registrar& r) {
  add_f(r, "ReluGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD g, LD f) { return f > 0 ? g : 0.0L; }); };
  });
  add_f(r, "Relu6Grad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      same_shape_pair<T>(ctx, [](LD g, LD f) { return (f > 0 && f < 6) ? g : 0.0L; });
    };
  });
  add_f(r, "EluGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD g, LD y) { return y > 0 ? g : g * (y + 1.0L); }); };
  });
  add_f(r, "SeluGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      same_shape_pair<T>(ctx, [](LD g, LD y) { return y > 0 ? g * kSeluScale : g * (y + kSeluScale * kSeluAlpha); });
    };
  });
  add_f(r, "SigmoidGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD y, LD dy) { return dy * y * (1.0L - y); }); };
  });
  add_f(r, "TanhGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD y, LD dy) { return dy * (1.0L - y * y); }); };
  });
  add_f(r, "SoftplusGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD g, LD f) { return g * sigmoid(f); }); };
  });
  add_f(r, "SoftsignGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      same_shape_pair<T>(ctx, [](LD g, LD f) {
        const LD d = 1.0L + std::fabs(f);
        return g / (d * d);
      });
    };
  });
  add_f(r, "RsqrtGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD y, LD dy) { return dy * -0.5L * y * y * y; }); };
  });
  add_f(r, "SqrtGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { same_shape_pair<T>(ctx, [](LD y, LD dy) { return dy * 0.5L / y; }); };
  });
  add_f(r, "GeluGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      const bool approximate = ctx.attrs().get_or<bool>("approximate", false);
      same_shape_pair<T>(ctx, [&](LD g, LD x) { return g * gelu_derivative(x, approximate); });
    };
  });
}

}  // namespace

void register_elementwise_kernels(Registrar& r) {
  register_binary(r);
  register_unary(r);
  register_gradient_helpers(r);
}

}  // namespace strata::testing::ref
