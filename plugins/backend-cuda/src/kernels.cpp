// Kernel glue of the backend-cuda plugin: checks shapes and attributes on the host, then
// calls cuBLAS or the plugin's own kernels (launch.hpp) on the device's stream. float32
// only (plus casts between the numeric types); ops without a cuda kernel fail at dispatch
// with an error naming the op and the device.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cuda_device.hpp"
#include "launch.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::cuda {
namespace {

using Dims = std::vector<std::int64_t>;
constexpr std::string_view kCuda = "cuda";

const Dims& in_dims(const KernelContext& ctx, std::size_t i) { return ctx.input(i).shape().dims(); }
const Dims& out_dims(const KernelContext& ctx, std::size_t i) { return ctx.output_meta(i).shape.dims(); }

template <class T>
const T* in(const KernelContext& ctx, std::size_t i) {
  return static_cast<const T*>(ctx.input(i).data());
}
template <class T>
T* out(Tensor& t) {
  return static_cast<T*>(t.mutable_data());
}

void check_rank(const KernelContext& ctx, std::size_t rank) {
  STRATA_CHECK(rank <= static_cast<std::size_t>(kMaxRank), BackendError, "op ", ctx.op_name(),
               " on cuda supports rank up to ", kMaxRank, ", got rank ", rank);
}

Bcast bcast_plan(const KernelContext& ctx, std::size_t inputs) {
  const Dims& od = out_dims(ctx, 0);
  check_rank(ctx, od.size());
  Bcast b;
  b.rank = static_cast<int>(od.size());
  for (std::size_t d = 0; d < od.size(); ++d) b.dims[d] = od[d];
  for (std::size_t i = 0; i < inputs; ++i) {
    const Dims s = kernel_util::broadcast_strides(in_dims(ctx, i), od);
    for (std::size_t d = 0; d < s.size(); ++d) b.strides[i][d] = s[d];
  }
  return b;
}

std::vector<std::int64_t> host_ints(const KernelContext& ctx, std::size_t i) {
  const Tensor& t = ctx.input(i);
  const auto n = static_cast<std::size_t>(t.num_elements());
  std::vector<std::int64_t> v(n);
  if (t.dtype() == DType::kInt32) {
    const auto* p = t.host_data<std::int32_t>();
    std::copy(p, p + n, v.begin());
  } else {
    STRATA_CHECK(t.dtype() == DType::kInt64, BackendError, "op ", ctx.op_name(), ": input ", i,
                 " must be int32 or int64");
    const auto* p = t.host_data<std::int64_t>();
    std::copy(p, p + n, v.begin());
  }
  return v;
}

void* stream_of(KernelContext& ctx) { return cuda_device(ctx).stream(); }

void add_f32(Registrar& r, std::string_view op, std::function<void(KernelContext&)> f) {
  add_kernel(r, op, kCuda, DType::kFloat32, std::move(f));
}

// ---- element-wise ------------------------------------------------------------------------

void register_elementwise(Registrar& r) {
  const std::pair<const char*, Binary> binaries[] = {
      {"AddV2", Binary::kAdd},   {"Sub", Binary::kSub},     {"Mul", Binary::kMul},
      {"RealDiv", Binary::kDiv}, {"Maximum", Binary::kMax}, {"Minimum", Binary::kMin},
      {"Pow", Binary::kPow},     {"SquaredDifference", Binary::kSquaredDifference}};
  for (const auto& [name, op] : binaries) {
    add_f32(r, name, [op = op](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(binary_f32(stream_of(ctx), op, bcast_plan(ctx, 2), in<float>(ctx, 0), in<float>(ctx, 1), out<float>(o)),
                   ctx.op_name());
    });
  }
  const std::pair<const char*, Compare> compares[] = {
      {"Equal", Compare::kEqual}, {"NotEqual", Compare::kNotEqual}, {"Greater", Compare::kGreater},
      {"GreaterEqual", Compare::kGreaterEqual}, {"Less", Compare::kLess}, {"LessEqual", Compare::kLessEqual}};
  for (const auto& [name, op] : compares) {
    add_f32(r, name, [op = op](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(compare_f32(stream_of(ctx), op, bcast_plan(ctx, 2), in<float>(ctx, 0), in<float>(ctx, 1), out<bool>(o)),
                   ctx.op_name());
    });
  }
  add_f32(r, "SelectV2", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(select_f32(stream_of(ctx), bcast_plan(ctx, 3), in<bool>(ctx, 0), in<float>(ctx, 1), in<float>(ctx, 2),
                            out<float>(o)),
                 ctx.op_name());
  });
  add_f32(r, "AddN", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const std::int64_t n = o.num_elements();
    if (n == 0) return;
    if (ctx.num_inputs() == 1) {
      ctx.device().copy_within(o.mutable_data(), ctx.input(0).data(), o.nbytes());
      return;
    }
    Bcast b;
    b.rank = 1;
    b.dims[0] = n;
    b.strides[0][0] = b.strides[1][0] = 1;
    check_launch(binary_f32(stream_of(ctx), Binary::kAdd, b, in<float>(ctx, 0), in<float>(ctx, 1), out<float>(o)), "AddN");
    for (std::size_t i = 2; i < ctx.num_inputs(); ++i) {
      check_launch(binary_f32(stream_of(ctx), Binary::kAdd, b, out<float>(o), in<float>(ctx, i), out<float>(o)), "AddN");
    }
  });

  const std::pair<const char*, Unary> unaries[] = {
      {"Neg", Unary::kNeg},         {"Abs", Unary::kAbs},           {"Sign", Unary::kSign},
      {"Square", Unary::kSquare},   {"Sqrt", Unary::kSqrt},         {"Rsqrt", Unary::kRsqrt},
      {"Reciprocal", Unary::kReciprocal}, {"Exp", Unary::kExp},     {"Log", Unary::kLog},
      {"Log1p", Unary::kLog1p},     {"Erf", Unary::kErf},           {"Floor", Unary::kFloor},
      {"Relu", Unary::kRelu},       {"Relu6", Unary::kRelu6},       {"Elu", Unary::kElu},
      {"Selu", Unary::kSelu},       {"Sigmoid", Unary::kSigmoid},   {"Tanh", Unary::kTanh},
      {"Softplus", Unary::kSoftplus}, {"Softsign", Unary::kSoftsign}};
  for (const auto& [name, op] : unaries) {
    add_f32(r, name, [op = op](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(unary_f32(stream_of(ctx), op, o.num_elements(), in<float>(ctx, 0), out<float>(o)), ctx.op_name());
    });
  }
  add_f32(r, "Gelu", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const Unary op = ctx.attrs().get_or<bool>("approximate", false) ? Unary::kGeluApprox : Unary::kGelu;
    check_launch(unary_f32(stream_of(ctx), op, o.num_elements(), in<float>(ctx, 0), out<float>(o)), "Gelu");
  });
  const std::pair<const char*, Pair> pairs[] = {
      {"ReluGrad", Pair::kReluGrad},       {"Relu6Grad", Pair::kRelu6Grad},   {"EluGrad", Pair::kEluGrad},
      {"SeluGrad", Pair::kSeluGrad},       {"SigmoidGrad", Pair::kSigmoidGrad}, {"TanhGrad", Pair::kTanhGrad},
      {"SoftplusGrad", Pair::kSoftplusGrad}, {"SoftsignGrad", Pair::kSoftsignGrad}, {"RsqrtGrad", Pair::kRsqrtGrad},
      {"SqrtGrad", Pair::kSqrtGrad}};
  for (const auto& [name, op] : pairs) {
    add_f32(r, name, [op = op](KernelContext& ctx) {
      STRATA_CHECK(in_dims(ctx, 0) == in_dims(ctx, 1), BackendError, "op ", ctx.op_name(),
                   " needs two inputs of one shape");
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(pair_f32(stream_of(ctx), op, o.num_elements(), in<float>(ctx, 0), in<float>(ctx, 1), out<float>(o)),
                   ctx.op_name());
    });
  }
}

// ---- casts, fills --------------------------------------------------------------------------

Elem elem_of(const KernelContext& ctx, DType t) {
  switch (t) {
    case DType::kFloat32: return Elem::kFloat32;
    case DType::kFloat64: return Elem::kFloat64;
    case DType::kInt32: return Elem::kInt32;
    case DType::kInt64: return Elem::kInt64;
    case DType::kBool: return Elem::kBool;
    default: break;
  }
  STRATA_THROW(BackendError, "op ", ctx.op_name(), " on cuda does not support dtype ", dtype_name(t));
}

void register_array(Registrar& r) {
  for (DType from : {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kBool}) {
    add_kernel(r, "Cast", kCuda, from, [](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(cast(stream_of(ctx), elem_of(ctx, ctx.input(0).dtype()), elem_of(ctx, o.dtype()), o.num_elements(),
                        ctx.input(0).data(), o.mutable_data()),
                   "Cast");
    });
  }
  add_f32(r, "ZerosLike", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    ctx.device().fill_zero(o.mutable_data(), o.nbytes());
  });
  add_f32(r, "OnesLike", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(fill_f32(stream_of(ctx), o.num_elements(), 1.0f, out<float>(o)), "OnesLike");
  });
  add_f32(r, "Fill", [](KernelContext& ctx) {
    // value (input 1) is a scalar on the device: every output element reads element 0.
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t n = o.num_elements(), zero = 0;
    check_launch(transpose(stream_of(ctx), 4, 1, &n, &zero, n, ctx.input(1).data(), o.mutable_data()), "Fill");
  });
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kBool}) {
    add_kernel(r, "Transpose", kCuda, t, [](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      const Dims& id = in_dims(ctx, 0);
      check_rank(ctx, id.size());
      const auto perm = host_ints(ctx, 1);
      const Dims strides = kernel_util::strides_of(id);
      std::vector<std::int64_t> pd(perm.size()), ps(perm.size());
      for (std::size_t d = 0; d < perm.size(); ++d) {
        pd[d] = id[static_cast<std::size_t>(perm[d])];
        ps[d] = strides[static_cast<std::size_t>(perm[d])];
      }
      check_launch(transpose(stream_of(ctx), static_cast<int>(dtype_size(o.dtype())), static_cast<int>(pd.size()),
                             pd.data(), ps.data(), o.num_elements(), ctx.input(0).data(), o.mutable_data()),
                   "Transpose");
    });
  }
}

// ---- reductions --------------------------------------------------------------------------

void register_reductions(Registrar& r) {
  const std::pair<const char*, Reduce> reductions[] = {
      {"Sum", Reduce::kSum}, {"Mean", Reduce::kMean}, {"Max", Reduce::kMax}, {"Min", Reduce::kMin}, {"Prod", Reduce::kProd}};
  for (const auto& [name, op] : reductions) {
    add_f32(r, name, [op = op](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      const Dims& id = in_dims(ctx, 0);
      check_rank(ctx, id.size());
      std::vector<bool> reduced(id.size(), false);
      for (std::int64_t a : host_ints(ctx, 1)) {
        const std::int64_t axis = a < 0 ? a + static_cast<std::int64_t>(id.size()) : a;
        STRATA_CHECK(axis >= 0 && axis < static_cast<std::int64_t>(id.size()), BackendError, "op ", ctx.op_name(),
                     ": axis ", a, " out of range");
        reduced[static_cast<std::size_t>(axis)] = true;
      }
      const Dims strides = kernel_util::strides_of(id);
      ReducePlan p;
      for (std::size_t d = 0; d < id.size(); ++d) {
        if (reduced[d]) {
          p.reduced_dims[p.reduced_rank] = id[d];
          p.reduced_strides[p.reduced_rank++] = strides[d];
          p.reduced_count *= id[d];
        } else {
          p.kept_dims[p.kept_rank] = id[d];
          p.kept_strides[p.kept_rank++] = strides[d];
          p.outputs *= id[d];
        }
      }
      check_launch(reduce_f32(stream_of(ctx), op, p, in<float>(ctx, 0), out<float>(o)), ctx.op_name());
    });
  }
}

// ---- neural network ------------------------------------------------------------------------

// Row-major C[M,N] = op(A)·op(B) as the column-major C^T = op(B)^T·op(A)^T.
void gemm(CudaDevice& dev, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          const float* b, float* c) {
  cublasHandle_t h;
  auto lock = dev.blas(h);
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                    static_cast<int>(m), static_cast<int>(k), &one, b, static_cast<int>(tb ? k : n), a,
                    static_cast<int>(ta ? m : k), &zero, c, static_cast<int>(n)),
        "cublasSgemm");
}

void register_nn(Registrar& r) {
  add_f32(r, "MatMul", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const bool ta = ctx.attrs().get_or<bool>("transpose_a", false), tb = ctx.attrs().get_or<bool>("transpose_b", false);
    const Dims& ad = in_dims(ctx, 0);
    const std::int64_t m = out_dims(ctx, 0)[0], n = out_dims(ctx, 0)[1], k = ta ? ad[0] : ad[1];
    if (o.num_elements() == 0) return;
    if (k == 0) return ctx.device().fill_zero(o.mutable_data(), o.nbytes());
    gemm(cuda_device(ctx), ta, tb, m, n, k, in<float>(ctx, 0), in<float>(ctx, 1), out<float>(o));
  });
  add_f32(r, "BatchMatMulV2", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const bool ax = ctx.attrs().get_or<bool>("adj_x", false), ay = ctx.attrs().get_or<bool>("adj_y", false);
    const Dims &xd = in_dims(ctx, 0), &yd = in_dims(ctx, 1), &od = out_dims(ctx, 0);
    const std::size_t r = od.size();
    const std::int64_t m = od[r - 2], n = od[r - 1], k = ax ? xd[xd.size() - 2] : xd.back();
    if (o.num_elements() == 0) return;
    if (k == 0) return ctx.device().fill_zero(o.mutable_data(), o.nbytes());
    // Batch dims broadcast: one GEMM per output batch, operands found by broadcast offsets.
    const Dims ob(od.begin(), od.end() - 2), xb(xd.begin(), xd.end() - 2), yb(yd.begin(), yd.end() - 2);
    const Dims sx = kernel_util::broadcast_strides(xb, ob), sy = kernel_util::broadcast_strides(yb, ob);
    std::int64_t batches = 1;
    for (auto d : ob) batches *= d;
    const std::int64_t xm = xd[xd.size() - 2] * xd.back(), ym = yd[yd.size() - 2] * yd.back();
    CudaDevice& dev = cuda_device(ctx);
    for (std::int64_t i = 0; i < batches; ++i) {
      gemm(dev, ax, ay, m, n, k, in<float>(ctx, 0) + kernel_util::broadcast_offset(i, ob, sx) * xm,
           in<float>(ctx, 1) + kernel_util::broadcast_offset(i, ob, sy) * ym, out<float>(o) + i * m * n);
    }
  });
  add_f32(r, "BiasAdd", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t c = in_dims(ctx, 0).back();
    check_launch(bias_add_f32(stream_of(ctx), o.num_elements() / c, c, in<float>(ctx, 0), in<float>(ctx, 1), out<float>(o)),
                 "BiasAdd");
  });
  add_f32(r, "BiasAddGrad", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t c = in_dims(ctx, 0).back();
    const std::int64_t rows = c == 0 ? 0 : ctx.input(0).num_elements() / c;
    check_launch(bias_add_grad_f32(stream_of(ctx), rows, c, in<float>(ctx, 0), out<float>(o)), "BiasAddGrad");
  });
  for (const char* name : {"Softmax", "LogSoftmax"}) {
    add_f32(r, name, [log = std::string_view(name) == "LogSoftmax"](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      const std::int64_t c = in_dims(ctx, 0).back();
      check_launch(softmax_f32(stream_of(ctx), log, o.num_elements() / c, c, in<float>(ctx, 0), out<float>(o)),
                   ctx.op_name());
    });
  }
  add_f32(r, "SoftmaxGrad", [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t c = in_dims(ctx, 0).back();
    check_launch(softmax_grad_f32(stream_of(ctx), o.num_elements() / c, c, in<float>(ctx, 0), in<float>(ctx, 1),
                                  out<float>(o)),
                 "SoftmaxGrad");
  });
}

}  // namespace

void register_kernels(Registrar& r) {
  register_elementwise(r);
  register_array(r);
  register_reductions(r);
  register_nn(r);
}

}  // namespace strata::cuda
