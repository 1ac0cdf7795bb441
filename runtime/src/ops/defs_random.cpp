// Random ops, the seed policy, and the shared helpers broadcast_shapes / unbroadcast.
#include <atomic>
#include <mutex>
#include <random>

#include "ops/defs_common.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"

namespace strata {

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  if (!a.has_known_rank() || !b.has_known_rank()) return Shape::unknown_rank();
  const auto& ad = a.dims();
  const auto& bd = b.dims();
  const std::size_t rank = std::max(ad.size(), bd.size());
  std::vector<std::int64_t> out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t x = i < rank - ad.size() ? 1 : ad[i - (rank - ad.size())];
    const std::int64_t y = i < rank - bd.size() ? 1 : bd[i - (rank - bd.size())];
    if (x == 1) {
      out[i] = y;
    } else if (y == 1) {
      out[i] = x;
    } else if (x == Shape::kUnknown || y == Shape::kUnknown) {
      out[i] = x == Shape::kUnknown ? y : x;
      if (x == Shape::kUnknown && y == Shape::kUnknown) out[i] = Shape::kUnknown;
    } else {
      STRATA_CHECK(x == y, ShapeError, op.empty() ? std::string_view("broadcast") : op, ": shapes ", a.to_string(),
                   " and ", b.to_string(), " do not broadcast (dimension ", i, ": ", x, " vs ", y, ")");
      out[i] = x;
    }
  }
  return Shape(std::move(out));
}

namespace internal {

Tensor unbroadcast(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  STRATA_CHECK(shape.is_fully_defined() && grad.shape().is_fully_defined(), ShapeError,
               "cannot reduce a broadcast gradient of shape ", grad.shape().to_string(), " to ", shape.to_string(),
               " while shapes are unknown");
  const auto& g = grad.shape().dims();
  const auto& s = shape.dims();
  const std::size_t lead = g.size() - s.size();
  std::vector<std::int64_t> axes;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (i < lead || (s[i - lead] == 1 && g[i] != 1)) axes.push_back(static_cast<std::int64_t>(i));
  }
  Tensor reduced = axes.empty() ? grad : sum(grad, axes, true);
  return reshape(reduced, shape);
}

namespace {

struct SeedState {
  std::mutex mutex;
  bool has_global = false;
  std::int64_t global = 0;
  std::int64_t counter = 0;
  std::mt19937_64 entropy{std::random_device{}()};
};
SeedState& seed_state() {
  static SeedState* state = new SeedState();
  return *state;
}

OpDef random_op(std::string name) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 1;
  d.host_inputs = {0};
  d.kernel_dtype_input = -1;
  d.kernel_dtype_attr = "dtype";
  d.stateful = true;
  d.not_differentiable = true;
  d.infer = [](const InferContext& c) -> Metas {
    const DType dtype = c.attrs().get<DType>("dtype");
    STRATA_CHECK(is_floating(dtype), ValueError, "op ", c.op_name(), " makes floating-point values, not ",
                 dtype_name(dtype));
    const auto dims = c.int_values(0);
    if (dims) return {{dtype, Shape(*dims)}};
    // A shape known only at run time (dropout's noise shape [batch, 1, 1, c] from the
    // input's shape): its length still gives the rank.
    const Shape& of_shape = c.shape(0);
    if (of_shape.has_known_rank() && of_shape.rank() == 1 && of_shape[0] != Shape::kUnknown) {
      return {{dtype, Shape(std::vector<std::int64_t>(static_cast<std::size_t>(of_shape[0]), Shape::kUnknown))}};
    }
    return {{dtype, Shape::unknown_rank()}};
  };
  return d;
}

}  // namespace

std::pair<std::int64_t, std::int64_t> resolve_seeds(std::int64_t seed, std::int64_t seed2) {
  if (seed != 0 || seed2 != 0) return {seed, seed2};
  auto& s = seed_state();
  std::lock_guard lock(s.mutex);
  if (s.has_global) return {s.global, 2 + s.counter++};
  return {static_cast<std::int64_t>(s.entropy()), static_cast<std::int64_t>(s.entropy())};
}

void register_random_ops(Registrar& r) {
  for (const char* name : {"RandomStandardNormal", "RandomUniform", "TruncatedNormal"}) add_op(r, random_op(name));
}

// Kernels that only move metadata work on every device and dtype: the runtime provides
// them once (backends may still register faster or device-specific ones).
void register_generic_kernels(Registrar& r) {
  auto alias = [](KernelContext& ctx) { ctx.set_output(0, ctx.input(0).reshape(ctx.output_meta(0).shape)); };
  for (const char* op : {"Reshape", "ExpandDims", "Squeeze", "Identity", "StopGradient"}) add_kernel(r, op, "*", DType::kInvalid, alias);
  add_kernel(r, "Shape", "*", DType::kInvalid, [](KernelContext& ctx) {
    const auto& dims = ctx.input(0).shape().dims();
    const DType out = ctx.output_meta(0).dtype;
    Tensor t;
    if (out == DType::kInt64) {
      t = Tensor::from_vector<std::int64_t>(dims, Shape{static_cast<std::int64_t>(dims.size())}, Device::cpu());
    } else {
      std::vector<std::int32_t> d32(dims.begin(), dims.end());
      t = Tensor::from_vector<std::int32_t>(d32, Shape{static_cast<std::int64_t>(dims.size())}, Device::cpu());
    }
    ctx.set_output(0, std::move(t));
  });
}

void register_builtin_ops(Registrar& r) {
  register_math_ops(r);
  register_array_ops(r);
  register_reduction_ops(r);
  register_nn_ops(r);
  register_random_ops(r);
  register_optimizer_ops(r);
  register_generic_kernels(r);
}

}  // namespace internal

void set_random_seed(std::int64_t seed) {
  auto& s = internal::seed_state();
  std::lock_guard lock(s.mutex);
  s.has_global = true;
  s.global = seed;
  s.counter = 0;
}

}  // namespace strata
