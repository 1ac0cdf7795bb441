// Kernels of the runtime's fused optimizer-update ops on cuda (runtime/src/ops/
// defs_optimizer.cpp has the definitions and the arithmetic):
//   ResourceApplyAdam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad)
//       -> (new_var, new_m, new_v)
//   ResourceApplyKerasMomentum(var, accum, lr, grad, momentum) -> (new_var, new_accum)
//   strata.KerasAdam, strata.KerasRMSprop, strata.KerasAdagrad, strata.KerasAdadelta,
//   strata.KerasAdamax, strata.KerasNadam, strata.KerasFtrl: the variable, its slots, the
//   scalars and the gradient -> the new variable and slots
// plugins/training's optimizers run them for any variable whose device has a kernel for
// them, and compose element-wise ops elsewhere.
#include "glue.hpp"
#include "launch.hpp"
#include "optimizer_update.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::cuda {
namespace {

// Runs a strata.Keras* update with `slots` slots and `scalars` scalars.
template <class T>
void keras(KernelContext& ctx, KerasUpdate kind, int slots, int scalars, bool flag0 = false, bool flag1 = false) {
  const auto num_inputs = static_cast<std::size_t>(2 + slots + scalars);
  STRATA_CHECK(ctx.num_inputs() == num_inputs, BackendError, "op ", ctx.op_name(), " takes ", num_inputs,
               " inputs here, got ", ctx.num_inputs());
  KerasUpdateArgs<T> a;
  a.n = ctx.input(0).num_elements();
  a.slots = slots;
  a.scalars = scalars;
  a.flag[0] = flag0;
  a.flag[1] = flag1;
  for (int i = 0; i <= slots; ++i) a.in[i] = in<T>(ctx, static_cast<std::size_t>(i));
  for (int k = 0; k < scalars; ++k) a.s[k] = in<T>(ctx, static_cast<std::size_t>(1 + slots + k));
  a.g = in<T>(ctx, num_inputs - 1);
  for (int i = 0; i <= slots; ++i) a.out[i] = out<T>(ctx.allocate_output(static_cast<std::size_t>(i)));
  check_launch(keras_update(stream_of(ctx), kind, a), ctx.op_name());
}

bool flag(const KernelContext& ctx, const char* name) { return ctx.attrs().get_or<bool>(name, false); }

}  // namespace

void register_optimizer_ops(Registrar& r) {
  add_kernels(r, "strata.KerasAdam", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const bool amsgrad = flag(ctx, "amsgrad");
    keras<T>(ctx, KerasUpdate::kAdam, amsgrad ? 3 : 2, 6, amsgrad);
  });
  add_kernels(r, "strata.KerasRMSprop", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const bool centered = flag(ctx, "centered"), momentum = flag(ctx, "use_momentum");
    keras<T>(ctx, KerasUpdate::kRMSprop, 1 + (centered ? 1 : 0) + (momentum ? 1 : 0), 5, centered, momentum);
  });
  add_kernels(r, "strata.KerasAdagrad", kCuda, FloatTypes{},
              []<class T>(KernelContext& ctx) { keras<T>(ctx, KerasUpdate::kAdagrad, 1, 2); });
  add_kernels(r, "strata.KerasAdadelta", kCuda, FloatTypes{},
              []<class T>(KernelContext& ctx) { keras<T>(ctx, KerasUpdate::kAdadelta, 2, 4); });
  add_kernels(r, "strata.KerasAdamax", kCuda, FloatTypes{},
              []<class T>(KernelContext& ctx) { keras<T>(ctx, KerasUpdate::kAdamax, 2, 5); });
  add_kernels(r, "strata.KerasNadam", kCuda, FloatTypes{},
              []<class T>(KernelContext& ctx) { keras<T>(ctx, KerasUpdate::kNadam, 2, 9); });
  add_kernels(r, "strata.KerasFtrl", kCuda, FloatTypes{},
              []<class T>(KernelContext& ctx) { keras<T>(ctx, KerasUpdate::kFtrl, 2, 6); });
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
