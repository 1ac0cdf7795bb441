// Kernels of the runtime's fused optimizer-update ops on cuda (runtime/src/ops/
// defs_optimizer.cpp has the definitions and the arithmetic):
//   ResourceApplyAdam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad)
//       -> (new_var, new_m, new_v)
//   ResourceApplyKerasMomentum(var, accum, lr, grad, momentum) -> (new_var, new_accum)
// plugins/training's Adam and SGD run them for any variable whose device has a kernel for
// them, and compose element-wise ops elsewhere.
#include "glue.hpp"
#include "launch.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::cuda {

void register_optimizer_ops(Registrar& r) {
  add_kernels(r, "ResourceApplyAdam", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& var = ctx.allocate_output(0);
    Tensor& m = ctx.allocate_output(1);
    Tensor& v = ctx.allocate_output(2);
    check_launch(adam_update(stream_of(ctx), var.num_elements(), in<T>(ctx, 0), in<T>(ctx, 1), in<T>(ctx, 2),
                             in<T>(ctx, 3), in<T>(ctx, 4), in<T>(ctx, 5), in<T>(ctx, 6), in<T>(ctx, 7), in<T>(ctx, 8),
                             in<T>(ctx, 9), ctx.attrs().get_or<bool>("use_nesterov", false), out<T>(var), out<T>(m),
                             out<T>(v)),
                 "ResourceApplyAdam");
  });
  add_kernels(r, "ResourceApplyKerasMomentum", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& var = ctx.allocate_output(0);
    Tensor& accum = ctx.allocate_output(1);
    check_launch(momentum_update(stream_of(ctx), var.num_elements(), in<T>(ctx, 0), in<T>(ctx, 1), in<T>(ctx, 2),
                                 in<T>(ctx, 3), in<T>(ctx, 4), ctx.attrs().get_or<bool>("use_nesterov", false),
                                 out<T>(var), out<T>(accum)),
                 "ResourceApplyKerasMomentum");
  });
}

}  // namespace strata::cuda
