// Element-wise ops: arithmetic, comparisons, activations and their gradient helpers.
#include "ops/defs_common.hpp"

namespace strata::internal {
namespace {

constexpr double kPi = 3.14159265358979323846;

Metas infer_binary(const InferContext& c) {
  require_same_dtypes(c, 0, 2);
  return {{c.dtype(0), broadcast_shapes(c.shape(0), c.shape(1), c.op_name())}};
}

Metas infer_compare(const InferContext& c) {
  require_same_dtypes(c, 0, 2);
  return {{DType::kBool, broadcast_shapes(c.shape(0), c.shape(1), c.op_name())}};
}

Metas infer_same_shape_pair(const InferContext& c) {
  require_same_dtypes(c, 0, 2);
  STRATA_CHECK(c.shape(0).is_compatible_with(c.shape(1)), ShapeError, "op ", c.op_name(),
               " needs inputs of one shape, got ", c.shape(0).to_string(), " and ", c.shape(1).to_string());
  return {{c.dtype(0), c.shape(0).merge_with(c.shape(1))}};
}

Metas infer_float_unary(const InferContext& c) {
  require_dtype(c, 0, is_floating(c.dtype(0)), "a floating-point tensor");
  return same_as_input(c);
}

Metas infer_bool_unary(const InferContext& c) {
  require_dtype(c, 0, c.dtype(0) == DType::kBool, "bool");
  return same_as_input(c);
}

Metas any_numeric(const InferContext& c) {
  require_dtype(c, 0, is_numeric(c.dtype(0)) && c.dtype(0) != DType::kBool, "a number tensor");
  return same_as_input(c);
}

Metas any_dtype(const InferContext& c) { return same_as_input(c); }

OpDef binary(std::string name, decltype(OpDef::gradient) grad) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 2;
  d.infer = infer_binary;
  d.gradient = std::move(grad);
  return d;
}

OpDef compare(std::string name) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 2;
  d.infer = infer_compare;
  d.not_differentiable = true;
  return d;
}

// LogicalAnd, LogicalOr: compare() on bool inputs.
OpDef logical_binary(std::string name) {
  OpDef d = compare(std::move(name));
  d.infer = [](const InferContext& c) -> Metas {
    require_dtype(c, 0, c.dtype(0) == DType::kBool, "bool");
    require_dtype(c, 1, c.dtype(1) == DType::kBool, "bool");
    return {{DType::kBool, broadcast_shapes(c.shape(0), c.shape(1), c.op_name())}};
  };
  return d;
}

OpDef unary(std::string name, decltype(OpDef::infer) infer, decltype(OpDef::gradient) grad) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 1;
  d.infer = std::move(infer);
  d.gradient = std::move(grad);
  return d;
}

OpDef grad_helper(std::string name, decltype(OpDef::gradient) grad) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 2;
  d.infer = infer_same_shape_pair;
  d.gradient = std::move(grad);
  return d;
}

// Shorthands for gradient bodies.
const Tensor& X(const GradientContext& c, std::size_t i = 0) { return c.inputs[i]; }
const Tensor& Y(const GradientContext& c, std::size_t i = 0) { return c.outputs[i]; }
Tensor G(const GradientContext& c) { return grad_or_zeros(c, 0); }

Tensor gelu_grad_expr(const Tensor& g, const Tensor& x, bool approximate) {
  return execute1("GeluGrad", {g, x}, {{"approximate", approximate}});
}

OpDef add_v2_def() {
  return binary("AddV2", [](const GradientContext& c) -> Grads {
    return {unbroadcast(G(c), X(c, 0).shape()), unbroadcast(G(c), X(c, 1).shape())};
  });
}

OpDef sub_def() {
  return binary("Sub", [](const GradientContext& c) -> Grads {
    return {unbroadcast(G(c), X(c, 0).shape()), unbroadcast(neg(G(c)), X(c, 1).shape())};
  });
}

OpDef mul_def() {
  return binary("Mul", [](const GradientContext& c) -> Grads {
    Grads out(2);
    if (c.needs_grad(0)) out[0] = unbroadcast(mul(G(c), X(c, 1)), X(c, 0).shape());
    if (c.needs_grad(1)) out[1] = unbroadcast(mul(X(c, 0), G(c)), X(c, 1).shape());
    return out;
  });
}

OpDef real_div_def() {
  return binary("RealDiv", [](const GradientContext& c) -> Grads {
    Grads out(2);
    if (c.needs_grad(0)) out[0] = unbroadcast(div(G(c), X(c, 1)), X(c, 0).shape());
    if (c.needs_grad(1)) {
      out[1] = unbroadcast(neg(div(mul(G(c), X(c, 0)), square(X(c, 1)))), X(c, 1).shape());
    }
    return out;
  });
}

OpDef maximum_def() {
  return binary("Maximum", [](const GradientContext& c) -> Grads {
    const Tensor pick_x = greater_equal(X(c, 0), X(c, 1));
    const Tensor zero = zeros_like(G(c));
    return {unbroadcast(select(pick_x, G(c), zero), X(c, 0).shape()),
            unbroadcast(select(pick_x, zero, G(c)), X(c, 1).shape())};
  });
}

OpDef minimum_def() {
  return binary("Minimum", [](const GradientContext& c) -> Grads {
    const Tensor pick_x = less_equal(X(c, 0), X(c, 1));
    const Tensor zero = zeros_like(G(c));
    return {unbroadcast(select(pick_x, G(c), zero), X(c, 0).shape()),
            unbroadcast(select(pick_x, zero, G(c)), X(c, 1).shape())};
  });
}

OpDef pow_def() {
  return binary("Pow", [](const GradientContext& c) -> Grads {
    const Tensor& x = X(c, 0);
    const Tensor& y = X(c, 1);
    Grads out(2);
    if (c.needs_grad(0)) out[0] = unbroadcast(mul(G(c), mul(y, pow(x, sub(y, ones_like(y))))), x.shape());
    if (c.needs_grad(1)) {
      const Tensor positive = greater(x, zeros_like(x));
      const Tensor safe_x = select(positive, x, ones_like(x));
      const Tensor log_x = select(positive, log(safe_x), zeros_like(x));
      out[1] = unbroadcast(mul(G(c), mul(Y(c), log_x)), y.shape());
    }
    return out;
  });
}

OpDef squared_difference_def() {
  return binary("SquaredDifference", [](const GradientContext& c) -> Grads {
    const Tensor d = mul(scalar_like(G(c), 2.0), mul(G(c), sub(X(c, 0), X(c, 1))));
    return {unbroadcast(d, X(c, 0).shape()), unbroadcast(neg(d), X(c, 1).shape())};
  });
}

OpDef add_n_def() {
  OpDef d;
  d.name = "AddN";
  d.num_inputs = -1;
  d.min_inputs = 1;
  d.infer = [](const InferContext& c) -> Metas {
    Shape s = c.shape(0);
    for (std::size_t i = 1; i < c.num_inputs(); ++i) {
      STRATA_CHECK(c.dtype(i) == c.dtype(0), ValueError, "AddN needs inputs of one dtype");
      STRATA_CHECK(c.shape(i).is_compatible_with(s), ShapeError, "AddN needs inputs of one shape, got ",
                   s.to_string(), " and ", c.shape(i).to_string());
      s = s.merge_with(c.shape(i));
    }
    return {{c.dtype(0), s}};
  };
  d.gradient = [](const GradientContext& c) -> Grads { return Grads(c.inputs.size(), G(c)); };
  return d;
}

OpDef logical_not_def() {
  OpDef d = unary("LogicalNot", infer_bool_unary, nullptr);
  d.not_differentiable = true;
  return d;
}

OpDef select_v2_def() {
  OpDef d;
  d.name = "SelectV2";
  d.num_inputs = 3;
  d.kernel_dtype_input = 1;
  d.infer = [](const InferContext& c) -> Metas {
    require_dtype(c, 0, c.dtype(0) == DType::kBool, "a bool condition");
    STRATA_CHECK(c.dtype(1) == c.dtype(2), ValueError, "SelectV2 needs both branches of one dtype, got ",
                 dtype_name(c.dtype(1)), " and ", dtype_name(c.dtype(2)));
    const Shape s = broadcast_shapes(broadcast_shapes(c.shape(0), c.shape(1), "SelectV2"), c.shape(2), "SelectV2");
    return {{c.dtype(1), s}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor zero = zeros_like(G(c));
    return {Tensor(), unbroadcast(select(X(c, 0), G(c), zero), X(c, 1).shape()),
            unbroadcast(select(X(c, 0), zero, G(c)), X(c, 2).shape())};
  };
  return d;
}

OpDef neg_def() { return unary("Neg", any_numeric, [](const GradientContext& c) -> Grads { return {neg(G(c))}; }); }

OpDef abs_def() {
  return unary("Abs", any_numeric, [](const GradientContext& c) -> Grads { return {mul(G(c), sign(X(c)))}; });
}

OpDef sign_def() {
  OpDef d = unary("Sign", any_numeric, nullptr);
  d.not_differentiable = true;
  return d;
}

OpDef square_def() {
  return unary("Square", any_numeric, [](const GradientContext& c) -> Grads {
    return {mul(G(c), mul(scalar_like(X(c), 2.0), X(c)))};
  });
}

OpDef sqrt_def() {
  return unary("Sqrt", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("SqrtGrad", {Y(c), G(c)})}; });
}

OpDef rsqrt_def() {
  return unary("Rsqrt", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("RsqrtGrad", {Y(c), G(c)})}; });
}

OpDef reciprocal_def() {
  return unary("Reciprocal", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {neg(mul(G(c), square(Y(c))))}; });
}

OpDef exp_def() {
  return unary("Exp", infer_float_unary, [](const GradientContext& c) -> Grads { return {mul(G(c), Y(c))}; });
}

OpDef log_def() {
  return unary("Log", infer_float_unary, [](const GradientContext& c) -> Grads { return {div(G(c), X(c))}; });
}

OpDef log1p_def() {
  return unary("Log1p", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {div(G(c), add(X(c), ones_like(X(c))))}; });
}

OpDef erf_def() {
  return unary("Erf", infer_float_unary, [](const GradientContext& c) -> Grads {
    const Tensor k = scalar_like(X(c), 2.0 / std::sqrt(kPi));
    return {mul(G(c), mul(k, exp(neg(square(X(c))))))};
  });
}

// Erfc(x) = 1 - erf(x), computed directly (no cancellation for large x).
OpDef erfc_def() {
  return unary("Erfc", infer_float_unary, [](const GradientContext& c) -> Grads {
    const Tensor k = scalar_like(X(c), -2.0 / std::sqrt(kPi));
    return {mul(G(c), mul(k, exp(neg(square(X(c))))))};
  });
}

// ---- trigonometric and hyperbolic functions, with TensorFlow's gradients --------------------

OpDef sin_def() {
  return unary("Sin", infer_float_unary, [](const GradientContext& c) -> Grads { return {mul(G(c), cos(X(c)))}; });
}

OpDef cos_def() {
  return unary("Cos", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {neg(mul(G(c), sin(X(c))))}; });
}

// d tan x = sec^2 x dx
OpDef tan_def() {
  return unary("Tan", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {mul(G(c), square(reciprocal(cos(X(c)))))}; });
}

// d asin x = dx / sqrt(1 - x^2)
OpDef asin_def() {
  return unary("Asin", infer_float_unary, [](const GradientContext& c) -> Grads {
    return {mul(G(c), rsqrt(sub(ones_like(X(c)), square(X(c)))))};
  });
}

// d acos x = -dx / sqrt(1 - x^2)
OpDef acos_def() {
  return unary("Acos", infer_float_unary, [](const GradientContext& c) -> Grads {
    return {neg(mul(G(c), rsqrt(sub(ones_like(X(c)), square(X(c))))))};
  });
}

// d atan x = dx / (1 + x^2)
OpDef atan_def() {
  return unary("Atan", infer_float_unary, [](const GradientContext& c) -> Grads {
    return {div(G(c), add(ones_like(X(c)), square(X(c))))};
  });
}

OpDef sinh_def() {
  return unary("Sinh", infer_float_unary, [](const GradientContext& c) -> Grads { return {mul(G(c), cosh(X(c)))}; });
}

OpDef cosh_def() {
  return unary("Cosh", infer_float_unary, [](const GradientContext& c) -> Grads { return {mul(G(c), sinh(X(c)))}; });
}

// d asinh x = dx / cosh(asinh x)
OpDef asinh_def() {
  return unary("Asinh", infer_float_unary, [](const GradientContext& c) -> Grads { return {div(G(c), cosh(Y(c)))}; });
}

// d acosh x = dx / sinh(acosh x)
OpDef acosh_def() {
  return unary("Acosh", infer_float_unary, [](const GradientContext& c) -> Grads { return {div(G(c), sinh(Y(c)))}; });
}

// d atanh x = dx / (1 - x^2)
OpDef atanh_def() {
  return unary("Atanh", infer_float_unary, [](const GradientContext& c) -> Grads {
    return {div(G(c), sub(ones_like(X(c)), square(X(c))))};
  });
}

// Atan2(y, x), broadcasting: d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2).
OpDef atan2_def() {
  OpDef d = binary("Atan2", [](const GradientContext& c) -> Grads {
    const Tensor& y = X(c, 0);
    const Tensor& x = X(c, 1);
    const Tensor scaled = div(G(c), add(square(x), square(y)));
    Grads out(2);
    if (c.needs_grad(0)) out[0] = unbroadcast(mul(scaled, x), y.shape());
    if (c.needs_grad(1)) out[1] = unbroadcast(neg(mul(scaled, y)), x.shape());
    return out;
  });
  d.infer = [](const InferContext& c) -> Metas {
    require_dtype(c, 0, is_floating(c.dtype(0)), "a floating-point tensor");
    return infer_binary(c);
  };
  return d;
}

OpDef floor_def() {
  OpDef d = unary("Floor", infer_float_unary, nullptr);
  d.not_differentiable = true;
  return d;
}

OpDef identity_def() { return unary("Identity", any_dtype, [](const GradientContext& c) -> Grads { return {G(c)}; }); }

OpDef stop_gradient_def() {
  OpDef d = unary("StopGradient", any_dtype, nullptr);
  d.not_differentiable = true;
  return d;
}

OpDef cast_def() {
  OpDef d = unary("Cast", nullptr, [](const GradientContext& c) -> Grads {
    if (!is_floating(X(c).dtype()) || !is_floating(Y(c).dtype())) return {Tensor()};
    return {cast(G(c), X(c).dtype())};
  });
  d.infer = [](const InferContext& c) -> Metas { return {{c.attrs().get<DType>("DstT"), c.shape(0)}}; };
  return d;
}

OpDef relu_def() {
  return unary("Relu", any_numeric,
               [](const GradientContext& c) -> Grads { return {execute1("ReluGrad", {G(c), X(c)})}; });
}

OpDef relu6_def() {
  return unary("Relu6", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("Relu6Grad", {G(c), X(c)})}; });
}

OpDef elu_def() {
  return unary("Elu", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("EluGrad", {G(c), Y(c)})}; });
}

OpDef selu_def() {
  return unary("Selu", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("SeluGrad", {G(c), Y(c)})}; });
}

OpDef sigmoid_def() {
  return unary("Sigmoid", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("SigmoidGrad", {Y(c), G(c)})}; });
}

OpDef tanh_def() {
  return unary("Tanh", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("TanhGrad", {Y(c), G(c)})}; });
}

OpDef softplus_def() {
  return unary("Softplus", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("SoftplusGrad", {G(c), X(c)})}; });
}

OpDef softsign_def() {
  return unary("Softsign", infer_float_unary,
               [](const GradientContext& c) -> Grads { return {execute1("SoftsignGrad", {G(c), X(c)})}; });
}

OpDef gelu_def() {
  return unary("Gelu", infer_float_unary, [](const GradientContext& c) -> Grads {
    return {gelu_grad_expr(G(c), X(c), c.attrs.get_or<bool>("approximate", false))};
  });
}

OpDef relu_grad_def() {
  return grad_helper("ReluGrad", [](const GradientContext& c) -> Grads {
    return {execute1("ReluGrad", {G(c), X(c, 1)}), zeros_like(X(c, 1))};
  });
}

OpDef relu6_grad_def() {
  return grad_helper("Relu6Grad", [](const GradientContext& c) -> Grads {
    return {execute1("Relu6Grad", {G(c), X(c, 1)}), zeros_like(X(c, 1))};
  });
}

OpDef elu_grad_def() {
  return grad_helper("EluGrad", [](const GradientContext& c) -> Grads {
    // EluGrad(g, y) = y > 0 ? g : g * (y + 1)
    const Tensor& y = X(c, 1);
    const Tensor negative = less_equal(y, zeros_like(y));
    return {execute1("EluGrad", {G(c), y}), select(negative, mul(G(c), X(c, 0)), zeros_like(y))};
  });
}

OpDef selu_grad_def() {
  return grad_helper("SeluGrad", [](const GradientContext& c) -> Grads {
    const Tensor& y = X(c, 1);
    const Tensor negative = less_equal(y, zeros_like(y));
    return {execute1("SeluGrad", {G(c), y}), select(negative, mul(G(c), X(c, 0)), zeros_like(y))};
  });
}

OpDef sigmoid_grad_def() {
  return grad_helper("SigmoidGrad", [](const GradientContext& c) -> Grads {
    // SigmoidGrad(y, dy) = dy * y * (1 - y)
    const Tensor& y = X(c, 0);
    const Tensor gdy = mul(G(c), X(c, 1));
    return {sub(gdy, mul(scalar_like(y, 2.0), mul(gdy, y))), execute1("SigmoidGrad", {y, G(c)})};
  });
}

OpDef tanh_grad_def() {
  return grad_helper("TanhGrad", [](const GradientContext& c) -> Grads {
    // TanhGrad(y, dy) = dy * (1 - y^2)
    const Tensor& y = X(c, 0);
    return {mul(scalar_like(y, -2.0), mul(mul(G(c), X(c, 1)), y)), execute1("TanhGrad", {y, G(c)})};
  });
}

OpDef softplus_grad_def() {
  return grad_helper("SoftplusGrad", [](const GradientContext& c) -> Grads {
    // SoftplusGrad(g, x) = g * sigmoid(x)
    const Tensor s = sigmoid(X(c, 1));
    return {execute1("SoftplusGrad", {G(c), X(c, 1)}),
            mul(mul(G(c), X(c, 0)), mul(s, sub(ones_like(s), s)))};
  });
}

OpDef softsign_grad_def() {
  return grad_helper("SoftsignGrad", [](const GradientContext& c) -> Grads {
    // SoftsignGrad(g, x) = g / (1 + |x|)^2
    const Tensor& x = X(c, 1);
    const Tensor d = add(ones_like(x), abs(x));
    return {execute1("SoftsignGrad", {G(c), x}),
            mul(mul(G(c), X(c, 0)), div(mul(scalar_like(x, -2.0), sign(x)), mul(d, square(d))))};
  });
}

OpDef rsqrt_grad_def() {
  return grad_helper("RsqrtGrad", [](const GradientContext& c) -> Grads {
    // RsqrtGrad(y, dy) = dy * -0.5 * y^3
    const Tensor& y = X(c, 0);
    return {mul(mul(G(c), X(c, 1)), mul(scalar_like(y, -1.5), square(y))), execute1("RsqrtGrad", {y, G(c)})};
  });
}

OpDef sqrt_grad_def() {
  return grad_helper("SqrtGrad", [](const GradientContext& c) -> Grads {
    // SqrtGrad(y, dy) = dy * 0.5 / y
    const Tensor& y = X(c, 0);
    return {neg(div(mul(mul(G(c), X(c, 1)), scalar_like(y, 0.5)), square(y))), execute1("SqrtGrad", {y, G(c)})};
  });
}

OpDef gelu_grad_def() {
  return grad_helper("GeluGrad", [](const GradientContext& c) -> Grads {
    const bool approximate = c.attrs.get_or<bool>("approximate", false);
    const Tensor& x = X(c, 1);
    const Tensor upstream = mul(G(c), X(c, 0));
    Tensor second;
    if (!approximate) {
      // gelu''(x) = phi(x) * (2 - x^2)
      const Tensor phi = mul(scalar_like(x, 1.0 / std::sqrt(2.0 * kPi)), exp(mul(scalar_like(x, -0.5), square(x))));
      second = mul(phi, sub(scalar_like(x, 2.0), square(x)));
    } else {
      const double k = std::sqrt(2.0 / kPi), a = 0.044715;
      const Tensor x2 = square(x);
      const Tensor u = mul(scalar_like(x, k), add(x, mul(scalar_like(x, a), mul(x2, x))));
      const Tensor du = mul(scalar_like(x, k), add(ones_like(x), mul(scalar_like(x, 3 * a), x2)));
      const Tensor ddu = mul(scalar_like(x, 6 * a * k), x);
      const Tensor t = tanh(u);
      const Tensor sech2 = sub(ones_like(t), square(t));
      // (1-t^2) u' - x t (1-t^2) u'^2 + 0.5 x (1-t^2) u''
      second = add(sub(mul(sech2, du), mul(mul(x, t), mul(sech2, square(du)))),
                   mul(mul(scalar_like(x, 0.5), x), mul(sech2, ddu)));
    }
    return {gelu_grad_expr(G(c), x, approximate), mul(upstream, second)};
  });
}

}  // namespace

void register_math_ops(Registrar& r) {
  // ---- binary arithmetic -------------------------------------------------------------------
  add_op(r, add_v2_def());
  add_op(r, sub_def());
  add_op(r, mul_def());
  add_op(r, real_div_def());
  add_op(r, maximum_def());
  add_op(r, minimum_def());
  add_op(r, pow_def());
  add_op(r, squared_difference_def());
  add_op(r, add_n_def());

  // ---- comparisons and logic ---------------------------------------------------------------
  for (const char* name : {"Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"}) {
    add_op(r, compare(name));
  }
  for (const char* name : {"LogicalAnd", "LogicalOr"}) add_op(r, logical_binary(name));
  add_op(r, logical_not_def());
  add_op(r, select_v2_def());

  // ---- unary arithmetic --------------------------------------------------------------------
  add_op(r, neg_def());
  add_op(r, abs_def());
  add_op(r, sign_def());
  add_op(r, square_def());
  add_op(r, sqrt_def());
  add_op(r, rsqrt_def());
  add_op(r, reciprocal_def());
  add_op(r, exp_def());
  add_op(r, log_def());
  add_op(r, log1p_def());
  add_op(r, erf_def());
  add_op(r, erfc_def());
  add_op(r, floor_def());
  add_op(r, sin_def());
  add_op(r, cos_def());
  add_op(r, tan_def());
  add_op(r, asin_def());
  add_op(r, acos_def());
  add_op(r, atan_def());
  add_op(r, sinh_def());
  add_op(r, cosh_def());
  add_op(r, asinh_def());
  add_op(r, acosh_def());
  add_op(r, atanh_def());
  add_op(r, atan2_def());
  add_op(r, identity_def());
  add_op(r, stop_gradient_def());
  add_op(r, cast_def());

  // ---- activations -------------------------------------------------------------------------
  add_op(r, relu_def());
  add_op(r, relu6_def());
  add_op(r, elu_def());
  add_op(r, selu_def());
  add_op(r, sigmoid_def());
  add_op(r, tanh_def());
  add_op(r, softplus_def());
  add_op(r, softsign_def());
  add_op(r, gelu_def());

  // ---- gradient helpers and their own gradients (for higher-order derivatives) ------------
  add_op(r, relu_grad_def());
  add_op(r, relu6_grad_def());
  add_op(r, elu_grad_def());
  add_op(r, selu_grad_def());
  add_op(r, sigmoid_grad_def());
  add_op(r, tanh_grad_def());
  add_op(r, softplus_grad_def());
  add_op(r, softsign_grad_def());
  add_op(r, rsqrt_grad_def());
  add_op(r, sqrt_grad_def());
  add_op(r, gelu_grad_def());
}

}  // namespace strata::internal
