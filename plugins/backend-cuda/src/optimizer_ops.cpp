// The fused optimizer-update ops of the cuda backend. plugins/training's Adam and SGD run
// them for variables on a cuda device when this plugin is loaded (they look the kernel up
// by name) and compose element-wise ops everywhere else:
//   _CudaAdamUpdate(var, m, v, g, alpha; attrs c1 = 1 - beta_1, c2 = 1 - beta_2, epsilon)
//       -> (new_var, new_m, new_v)
//   _CudaSGDUpdate(var, m, g, lr; attrs momentum, nesterov) -> (new_var, new_m)
// alpha and lr are scalars of the variable's dtype. No gradients (updates are not
// differentiated).
#include "glue.hpp"
#include "launch.hpp"
#include "strata/plugin/op_def.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::cuda {
namespace {

// The first `n` inputs share one shape and dtype; each output is one of them.
OpDef update_def(const char* name, int num_inputs, int num_outputs) {
  OpDef d;
  d.name = name;
  d.num_inputs = num_inputs;
  d.not_differentiable = true;
  d.infer = [name, num_inputs, num_outputs](const InferContext& c) -> std::vector<TensorMeta> {
    for (int i = 1; i < num_inputs - 1; ++i) {
      STRATA_CHECK(c.dtype(static_cast<std::size_t>(i)) == c.dtype(0) && c.shape(static_cast<std::size_t>(i)) == c.shape(0),
                   ValueError, name, ": input ", i, " must match the variable's ", dtype_name(c.dtype(0)), " ",
                   c.shape(0).to_string());
    }
    const auto last = static_cast<std::size_t>(num_inputs - 1);
    STRATA_CHECK(c.dtype(last) == c.dtype(0) && c.shape(last).has_known_rank() && c.shape(last).num_elements() == 1,
                 ValueError, name, ": the rate must be a scalar of the variable's dtype");
    return std::vector<TensorMeta>(static_cast<std::size_t>(num_outputs), TensorMeta{c.dtype(0), c.shape(0)});
  };
  return d;
}

}  // namespace

void register_optimizer_ops(Registrar& r) {
  r.add<ObjectKind::kOp>("_CudaAdamUpdate", update_def("_CudaAdamUpdate", 5, 3));
  r.add<ObjectKind::kOp>("_CudaSGDUpdate", update_def("_CudaSGDUpdate", 4, 2));
  add_floats(r, "_CudaAdamUpdate", []<class T>(KernelContext& ctx) {
    Tensor& var = ctx.allocate_output(0);
    Tensor& m = ctx.allocate_output(1);
    Tensor& v = ctx.allocate_output(2);
    const Attrs& a = ctx.attrs();
    check_launch(adam_update(stream_of(ctx), var.num_elements(), in<T>(ctx, 0), in<T>(ctx, 1), in<T>(ctx, 2),
                             in<T>(ctx, 3), in<T>(ctx, 4), static_cast<T>(a.get<double>("c1")),
                             static_cast<T>(a.get<double>("c2")), static_cast<T>(a.get<double>("epsilon")),
                             out<T>(var), out<T>(m), out<T>(v)),
                 "_CudaAdamUpdate");
  });
  add_floats(r, "_CudaSGDUpdate", []<class T>(KernelContext& ctx) {
    Tensor& var = ctx.allocate_output(0);
    Tensor& m = ctx.allocate_output(1);
    const Attrs& a = ctx.attrs();
    check_launch(sgd_update(stream_of(ctx), var.num_elements(), in<T>(ctx, 0), in<T>(ctx, 1), in<T>(ctx, 2),
                            in<T>(ctx, 3), static_cast<T>(a.get<double>("momentum")),
                            a.get_or<bool>("nesterov", false), out<T>(var), out<T>(m)),
                 "_CudaSGDUpdate");
  });
}

}  // namespace strata::cuda
