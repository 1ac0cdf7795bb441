// strata::all_reduce (strata/distribute.hpp) as an op, so the tape differentiates it:
// "strata.CrossReplicaAllReduce" combines its input across the replicas of the strategy whose
// step runs on this thread (the identity without one); its gradient is the same all-reduce
// of the upstream gradient (sum, mean), or the summed gradient where this replica held the
// extreme (max, min). One device-agnostic kernel: the values travel through the strategy's
// communicator and come back on the input's device.
#include "distribute/replica.hpp"
#include "ops/defs_common.hpp"
#include "ops/internal.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata {
namespace internal {
namespace {

constexpr const char* kOp = "strata.CrossReplicaAllReduce";

ReduceOp parse_op(const Attrs& attrs) {
  const std::string name = attrs.get_or<std::string>("reduce_op", "sum");
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kMin}) {
    if (reduce_op_name(op) == name) return op;
  }
  STRATA_THROW(ValueError, "op ", kOp, ": reduce_op must be sum, mean, max or min, got '", name, "'");
}

Tensor apply(const Tensor& x, ReduceOp op) {
  return run_op(op_def(kOp), {x}, Attrs{{"reduce_op", std::string(reduce_op_name(op))}})[0];
}

}  // namespace

void register_distribute_ops(Registrar& r) {
  OpDef d;
  d.name = kOp;
  d.num_inputs = 1;
  d.stateful = true;  // it communicates: never folded or deduplicated
  d.infer = [](const InferContext& c) -> Metas {
    parse_op(c.attrs());
    return same_as_input(c);
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const ReduceOp op = parse_op(c.attrs);
    const Tensor& g = c.output_grads[0];
    if (!g.defined()) return {Tensor()};
    if (op == ReduceOp::kSum || op == ReduceOp::kMean) return {apply(g, op)};
    // max/min: the gradient flows to the replicas that held the extreme.
    const Tensor held = cast(equal(c.inputs[0], c.outputs[0]), g.dtype());
    return {apply(g, ReduceOp::kSum) * held};
  };
  add_op(r, std::move(d));
  add_kernel(r, kOp, "*", DType::kInvalid, [](KernelContext& ctx) {
    const ReduceOp op = parse_op(ctx.attrs());
    const auto strategy = active_strategy();
    if (!strategy || strategy->num_replicas_in_sync() == 1) {
      // A new handle on the same buffer (as Identity's kernel): the tape tells input and output apart by id.
      ctx.set_output(0, ctx.input(0).reshape(ctx.output_meta(0).shape));
      return;
    }
    ctx.set_output(0, strategy->reduce(op, ctx.input(0)));
  });
}

}  // namespace internal

Tensor all_reduce(const Tensor& value, ReduceOp op) {
  const auto strategy = internal::active_strategy();
  if (!strategy || strategy->num_replicas_in_sync() == 1) return value;
  return internal::apply(value, op);
}

}  // namespace strata
