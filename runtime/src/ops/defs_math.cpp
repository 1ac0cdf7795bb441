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

}  // namespace

void register_math_ops(Registrar& r) {
  // ---- binary arithmetic -------------------------------------------------------------------
  add_op(r, binary("AddV2", [](const GradientContext& c) -> Grads {
           return {unbroadcast(G(c), X(c, 0).shape()), unbroadcast(G(c), X(c, 1).shape())};
         }));
  add_op(r, binary("Sub", [](const GradientContext& c) -> Grads {
           return {unbroadcast(G(c), X(c, 0).shape()), unbroadcast(neg(G(c)), X(c, 1).shape())};
         }));
  add_op(r, binary("Mul", [](const GradientContext& c) -> Grads {
           Grads out(2);
           if (c.needs_grad(0)) out[0] = unbroadcast(mul(G(c), X(c, 1)), X(c, 0).shape());
           if (c.needs_grad(1)) out[1] = unbroadcast(mul(X(c, 0), G(c)), X(c, 1).shape());
           return out;
         }));
  add_op(r, binary("RealDiv", [](const GradientContext& c) -> Grads {
           Grads out(2);
           if (c.needs_grad(0)) out[0] = unbroadcast(div(G(c), X(c, 1)), X(c, 0).shape());
           if (c.needs_grad(1)) {
             out[1] = unbroadcast(neg(div(mul(G(c), X(c, 0)), square(X(c, 1)))), X(c, 1).shape());
           }
           return out;
         }));
  add_op(r, binary("Maximum", [](const GradientContext& c) -> Grads {
           const Tensor pick_x = greater_equal(X(c, 0), X(c, 1));
           const Tensor zero = zeros_like(G(c));
           return {unbroadcast(select(pick_x, G(c), zero), X(c, 0).shape()),
                   unbroadcast(select(pick_x, zero, G(c)), X(c, 1).shape())};
         }));
  add_op(r, binary("Minimum", [](const GradientContext& c) -> Grads {
           const Tensor pick_x = less_equal(X(c, 0), X(c, 1));
           const Tensor zero = zeros_like(G(c));
           return {unbroadcast(select(pick_x, G(c), zero), X(c, 0).shape()),
                   unbroadcast(select(pick_x, zero, G(c)), X(c, 1).shape())};
         }));
  add_op(r, binary("Pow", [](const GradientContext& c) -> Grads {
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
         }));
  add_op(r, binary("SquaredDifference", [](const GradientContext& c) -> Grads {
           const Tensor d = mul(scalar_like(G(c), 2.0), mul(G(c), sub(X(c, 0), X(c, 1))));
           return {unbroadcast(d, X(c, 0).shape()), unbroadcast(neg(d), X(c, 1).shape())};
         }));
  {
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
    add_op(r, std::move(d));
  }

  // ---- comparisons and logic ---------------------------------------------------------------
  for (const char* name : {"Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"}) {
    add_op(r, compare(name));
  }
  for (const char* name : {"LogicalAnd", "LogicalOr"}) {
    OpDef d = compare(name);
    d.infer = [](const InferContext& c) -> Metas {
      require_dtype(c, 0, c.dtype(0) == DType::kBool, "bool");
      require_dtype(c, 1, c.dtype(1) == DType::kBool, "bool");
      return {{DType::kBool, broadcast_shapes(c.shape(0), c.shape(1), c.op_name())}};
    };
    add_op(r, std::move(d));
  }
  {
    OpDef d = unary("LogicalNot", infer_bool_unary, nullptr);
    d.not_differentiable = true;
    add_op(r, std::move(d));
  }
  {
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
    add_op(r, std::move(d));
  }

  // ---- unary arithmetic --------------------------------------------------------------------
  auto any_numeric = [](const InferContext& c) -> Metas {
    require_dtype(c, 0, is_numeric(c.dtype(0)) && c.dtype(0) != DType::kBool, "a number tensor");
    return same_as_input(c);
  };
  add_op(r, unary("Neg", any_numeric, [](const GradientContext& c) -> Grads { return {neg(G(c))}; }));
  add_op(r, unary("Abs", any_numeric, [](const GradientContext& c) -> Grads { return {mul(G(c), sign(X(c)))}; }));
  {
    OpDef d = unary("Sign", any_numeric, nullptr);
    d.not_differentiable = true;
    add_op(r, std::move(d));
  }
  add_op(r, unary("Square", any_numeric, [](const GradientContext& c) -> Grads {
           return {mul(G(c), mul(scalar_like(X(c), 2.0), X(c)))};
         }));
  add_op(r, unary("Sqrt", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("SqrtGrad", {Y(c), G(c)})}; }));
  add_op(r, unary("Rsqrt", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("RsqrtGrad", {Y(c), G(c)})}; }));
  add_op(r, unary("Reciprocal", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {neg(mul(G(c), square(Y(c))))}; }));
  add_op(r, unary("Exp", infer_float_unary, [](const GradientContext& c) -> Grads { return {mul(G(c), Y(c))}; }));
  add_op(r, unary("Log", infer_float_unary, [](const GradientContext& c) -> Grads { return {div(G(c), X(c))}; }));
  add_op(r, unary("Log1p", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {div(G(c), add(X(c), ones_like(X(c))))}; }));
  add_op(r, unary("Erf", infer_float_unary, [](const GradientContext& c) -> Grads {
           const Tensor k = scalar_like(X(c), 2.0 / std::sqrt(kPi));
           return {mul(G(c), mul(k, exp(neg(square(X(c))))))};
         }));
  {
    OpDef d = unary("Floor", infer_float_unary, nullptr);
    d.not_differentiable = true;
    add_op(r, std::move(d));
  }
  auto any_dtype = [](const InferContext& c) -> Metas { return same_as_input(c); };
  add_op(r, unary("Identity", any_dtype, [](const GradientContext& c) -> Grads { return {G(c)}; }));
  {
    OpDef d = unary("StopGradient", any_dtype, nullptr);
    d.not_differentiable = true;
    add_op(r, std::move(d));
  }
  {
    OpDef d = unary("Cast", nullptr, [](const GradientContext& c) -> Grads {
      if (!is_floating(X(c).dtype()) || !is_floating(Y(c).dtype())) return {Tensor()};
      return {cast(G(c), X(c).dtype())};
    });
    d.infer = [](const InferContext& c) -> Metas { return {{c.attrs().get<DType>("DstT"), c.shape(0)}}; };
    add_op(r, std::move(d));
  }

  // ---- activations -------------------------------------------------------------------------
  add_op(r, unary("Relu", any_numeric,
                  [](const GradientContext& c) -> Grads { return {execute1("ReluGrad", {G(c), X(c)})}; }));
  add_op(r, unary("Relu6", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("Relu6Grad", {G(c), X(c)})}; }));
  add_op(r, unary("Elu", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("EluGrad", {G(c), Y(c)})}; }));
  add_op(r, unary("Selu", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("SeluGrad", {G(c), Y(c)})}; }));
  add_op(r, unary("Sigmoid", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("SigmoidGrad", {Y(c), G(c)})}; }));
  add_op(r, unary("Tanh", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("TanhGrad", {Y(c), G(c)})}; }));
  add_op(r, unary("Softplus", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("SoftplusGrad", {G(c), X(c)})}; }));
  add_op(r, unary("Softsign", infer_float_unary,
                  [](const GradientContext& c) -> Grads { return {execute1("SoftsignGrad", {G(c), X(c)})}; }));
  add_op(r, unary("Gelu", infer_float_unary, [](const GradientContext& c) -> Grads {
           return {gelu_grad_expr(G(c), X(c), c.attrs.get_or<bool>("approximate", false))};
         }));

  // ---- gradient helpers and their own gradients (for higher-order derivatives) ------------
  add_op(r, grad_helper("ReluGrad", [](const GradientContext& c) -> Grads {
           return {execute1("ReluGrad", {G(c), X(c, 1)}), zeros_like(X(c, 1))};
         }));
  add_op(r, grad_helper("Relu6Grad", [](const GradientContext& c) -> Grads {
           return {execute1("Relu6Grad", {G(c), X(c, 1)}), zeros_like(X(c, 1))};
         }));
  add_op(r, grad_helper("EluGrad", [](const GradientContext& c) -> Grads {
           // EluGrad(g, y) = y > 0 ? g : g * (y + 1)
           const Tensor& y = X(c, 1);
           const Tensor negative = less_equal(y, zeros_like(y));
           return {execute1("EluGrad", {G(c), y}), select(negative, mul(G(c), X(c, 0)), zeros_like(y))};
         }));
  add_op(r, grad_helper("SeluGrad", [](const GradientContext& c) -> Grads {
           const Tensor& y = X(c, 1);
           const Tensor negative = less_equal(y, zeros_like(y));
           return {execute1("SeluGrad", {G(c), y}), select(negative, mul(G(c), X(c, 0)), zeros_like(y))};
         }));
  add_op(r, grad_helper("SigmoidGrad", [](const GradientContext& c) -> Grads {
           // SigmoidGrad(y, dy) = dy * y * (1 - y)
           const Tensor& y = X(c, 0);
           const Tensor gdy = mul(G(c), X(c, 1));
           return {sub(gdy, mul(scalar_like(y, 2.0), mul(gdy, y))), execute1("SigmoidGrad", {y, G(c)})};
         }));
  add_op(r, grad_helper("TanhGrad", [](const GradientContext& c) -> Grads {
           // TanhGrad(y, dy) = dy * (1 - y^2)
           const Tensor& y = X(c, 0);
           return {mul(scalar_like(y, -2.0), mul(mul(G(c), X(c, 1)), y)), execute1("TanhGrad", {y, G(c)})};
         }));
  add_op(r, grad_helper("SoftplusGrad", [](const GradientContext& c) -> Grads {
           // SoftplusGrad(g, x) = g * sigmoid(x)
           const Tensor s = sigmoid(X(c, 1));
           return {execute1("SoftplusGrad", {G(c), X(c, 1)}),
                   mul(mul(G(c), X(c, 0)), mul(s, sub(ones_like(s), s)))};
         }));
  add_op(r, grad_helper("SoftsignGrad", [](const GradientContext& c) -> Grads {
           // SoftsignGrad(g, x) = g / (1 + |x|)^2
           const Tensor& x = X(c, 1);
           const Tensor d = add(ones_like(x), abs(x));
           return {execute1("SoftsignGrad", {G(c), x}),
                   mul(mul(G(c), X(c, 0)), div(mul(scalar_like(x, -2.0), sign(x)), mul(d, square(d))))};
         }));
  add_op(r, grad_helper("RsqrtGrad", [](const GradientContext& c) -> Grads {
           // RsqrtGrad(y, dy) = dy * -0.5 * y^3
           const Tensor& y = X(c, 0);
           return {mul(mul(G(c), X(c, 1)), mul(scalar_like(y, -1.5), square(y))), execute1("RsqrtGrad", {y, G(c)})};
         }));
  add_op(r, grad_helper("SqrtGrad", [](const GradientContext& c) -> Grads {
           // SqrtGrad(y, dy) = dy * 0.5 / y
           const Tensor& y = X(c, 0);
           return {neg(div(mul(mul(G(c), X(c, 1)), scalar_like(y, 0.5)), square(y))), execute1("SqrtGrad", {y, G(c)})};
         }));
  add_op(r, grad_helper("GeluGrad", [](const GradientContext& c) -> Grads {
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
         }));
}

}  // namespace strata::internal
