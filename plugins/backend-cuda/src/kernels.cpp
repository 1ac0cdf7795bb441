// Kernel glue of the backend-cuda plugin: checks shapes and attributes on the host, then
// calls cuBLAS or the plugin's own kernels (launch.hpp) on the device's stream. float32 and
// float64 (plus casts between the numeric types); ops without a cuda kernel fail at
// dispatch with an error naming the op and the device.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cuda_device.hpp"
#include "glue.hpp"
#include "launch.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::cuda {
namespace {


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

// A zeroed int64 in device memory that kernels set to report a bad element (its position
// + 1); read() waits for the stream and returns it.
class DeviceFlag {
 public:
  explicit DeviceFlag(CudaDevice& dev) : dev_(dev), p_(static_cast<std::int64_t*>(dev.allocate(sizeof(std::int64_t)))) {
    dev_.fill_zero(p_, sizeof(std::int64_t));
  }
  ~DeviceFlag() { dev_.deallocate(p_, sizeof(std::int64_t)); }
  DeviceFlag(const DeviceFlag&) = delete;
  DeviceFlag& operator=(const DeviceFlag&) = delete;
  std::int64_t* get() const { return p_; }
  std::int64_t read() const {
    std::int64_t v = 0;
    dev_.copy_to_host(&v, p_, sizeof v);
    return v;
  }

 private:
  CudaDevice& dev_;
  std::int64_t* p_;
};

// ---- element-wise ------------------------------------------------------------------------

void register_elementwise(Registrar& r) {
  for (const auto& [name, op] : kBinaryOps) {
    const bool checked = op == Binary::kDiv || op == Binary::kPow;
    const auto kernel = [op = op, checked]<class T>(KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      if constexpr (std::is_integral_v<T>) {
        if (checked) {
          // Integer division and powers can fault (a zero divisor, 0 to a negative power):
          // the kernel flags the element and the error is raised here, as on the cpu.
          const DeviceFlag bad(cuda_device(ctx));
          check_launch(checked_binary(stream_of(ctx), op, bcast_plan(ctx, 2), in<T>(ctx, 0), in<T>(ctx, 1), out<T>(o),
                                      bad.get()),
                       ctx.op_name());
          const std::int64_t at = bad.read();
          STRATA_CHECK(at == 0, BackendError, "op ", ctx.op_name(), ": ",
                       op == Binary::kDiv ? "integer division by zero" : "integer 0 to a negative power",
                       " at output element ", at - 1);
          return;
        }
      }
      check_launch(binary(stream_of(ctx), op, bcast_plan(ctx, 2), in<T>(ctx, 0), in<T>(ctx, 1), out<T>(o)),
                   ctx.op_name());
    };
    if (op == Binary::kAtan2) {
      add_kernels(r, name, kCuda, FloatTypes{}, kernel);
    } else {
      add_kernels(r, name, kCuda, NumberTypes{}, kernel);
    }
  }
  const std::pair<const char*, Compare> compares[] = {
      {"Equal", Compare::kEqual}, {"NotEqual", Compare::kNotEqual}, {"Greater", Compare::kGreater},
      {"GreaterEqual", Compare::kGreaterEqual}, {"Less", Compare::kLess}, {"LessEqual", Compare::kLessEqual}};
  for (const auto& [name, op] : compares) {
    add_kernels(r, name, kCuda, NumberTypes{}, [op = op]<class T>(KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(compare(stream_of(ctx), op, bcast_plan(ctx, 2), in<T>(ctx, 0), in<T>(ctx, 1), out<bool>(o)),
                   ctx.op_name());
    });
  }
  // bool: Equal/NotEqual and the logical ops.
  const std::pair<const char*, Logical> logicals[] = {{"Equal", Logical::kEqual},
                                                      {"NotEqual", Logical::kNotEqual},
                                                      {"LogicalAnd", Logical::kAnd},
                                                      {"LogicalOr", Logical::kOr}};
  for (const auto& [name, op] : logicals) {
    add_kernel(r, name, kCuda, DType::kBool, [op = op](KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(logical(stream_of(ctx), op, bcast_plan(ctx, 2), in<bool>(ctx, 0), in<bool>(ctx, 1), out<bool>(o)),
                   ctx.op_name());
    });
  }
  add_kernel(r, "LogicalNot", kCuda, DType::kBool, [](KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(logical_not(stream_of(ctx), o.num_elements(), in<bool>(ctx, 0), out<bool>(o)), "LogicalNot");
  });
  add_kernels(r, "SelectV2", kCuda, NumberAndBoolTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(select(stream_of(ctx), bcast_plan(ctx, 3), in<bool>(ctx, 0), in<T>(ctx, 1), in<T>(ctx, 2),
                            out<T>(o)),
                 ctx.op_name());
  });
  add_kernels(r, "AddN", kCuda, NumberTypes{}, []<class T>(KernelContext& ctx) {
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
    check_launch(binary(stream_of(ctx), Binary::kAdd, b, in<T>(ctx, 0), in<T>(ctx, 1), out<T>(o)), "AddN");
    for (std::size_t i = 2; i < ctx.num_inputs(); ++i) {
      check_launch(binary(stream_of(ctx), Binary::kAdd, b, out<T>(o), in<T>(ctx, i), out<T>(o)), "AddN");
    }
  });

  for (const auto& [name, op] : kUnaryOps) {
    const auto kernel = [op = op]<class T>(KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(unary(stream_of(ctx), op, o.num_elements(), in<T>(ctx, 0), out<T>(o)), ctx.op_name());
    };
    // Integers: the exact ones.
    if (op == Unary::kNeg || op == Unary::kAbs || op == Unary::kSign || op == Unary::kSquare || op == Unary::kRelu) {
      add_kernels(r, name, kCuda, NumberTypes{}, kernel);
    } else {
      add_kernels(r, name, kCuda, FloatTypes{}, kernel);
    }
  }
  add_kernels(r, "Gelu", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const Unary op = ctx.attrs().get_or<bool>("approximate", false) ? Unary::kGeluApprox : Unary::kGelu;
    check_launch(unary(stream_of(ctx), op, o.num_elements(), in<T>(ctx, 0), out<T>(o)), "Gelu");
  });
  for (const auto& [name, pair_op] : kPairOps) {
    add_kernels(r, name, kCuda, FloatTypes{}, [pair_op = pair_op]<class T>(KernelContext& ctx) {
      STRATA_CHECK(in_dims(ctx, 0) == in_dims(ctx, 1), BackendError, "op ", ctx.op_name(),
                   " needs two inputs of one shape");
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      const bool approximate = pair_op == Pair::kGeluGrad && ctx.attrs().get_or<bool>("approximate", false);
      check_launch(pair(stream_of(ctx), approximate ? Pair::kGeluApproxGrad : pair_op, o.num_elements(), in<T>(ctx, 0),
                        in<T>(ctx, 1), out<T>(o)),
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
    case DType::kFloat16: return Elem::kFloat16;
    case DType::kBFloat16: return Elem::kBFloat16;
    case DType::kInt8: return Elem::kInt8;
    case DType::kUInt8: return Elem::kUInt8;
    default: break;
  }
  STRATA_THROW(BackendError, "op ", ctx.op_name(), " on cuda does not support dtype ", dtype_name(t));
}

void register_array(Registrar& r) {
  add_kernels(r, "Cast", kCuda,
              {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kBool, DType::kFloat16,
               DType::kBFloat16, DType::kInt8, DType::kUInt8},
              [](KernelContext& ctx) {
                Tensor& o = ctx.allocate_output(0);
                if (o.num_elements() == 0) return;
                check_launch(cast(stream_of(ctx), elem_of(ctx, ctx.input(0).dtype()), elem_of(ctx, o.dtype()),
                                  o.num_elements(), ctx.input(0).data(), o.mutable_data()),
                             "Cast");
              });
  add_kernels(r, "ZerosLike", kCuda, NumberAndBoolTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    ctx.device().fill_zero(o.mutable_data(), o.nbytes());
  });
  add_kernels(r, "OnesLike", kCuda, NumberAndBoolTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(fill(stream_of(ctx), o.num_elements(), T(1), out<T>(o)), "OnesLike");
  });
  add_kernels(r, "Fill", kCuda, NumberAndBoolTypes{}, []<class T>(KernelContext& ctx) {
    // value (input 1) is a scalar on the device: every output element reads element 0.
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t n = o.num_elements(), zero = 0;
    check_launch(transpose(stream_of(ctx), sizeof(T), 1, &n, &zero, n, ctx.input(1).data(), o.mutable_data()), "Fill");
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
    add_kernels(r, name, kCuda, NumberTypes{}, [op = op]<class T>(KernelContext& ctx) {
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
      check_launch(reduce(stream_of(ctx), op, p, in<T>(ctx, 0), out<T>(o)), ctx.op_name());
    });
  }
}

// ---- neural network ------------------------------------------------------------------------

// Row-major C[M,N] = op(A)·op(B) as the column-major C^T = op(B)^T·op(A)^T. float16 and
// bfloat16 go through cublasGemmEx with float32 accumulation and scaling; the result is
// rounded to the element type once.
template <class T>
void gemm(CudaDevice& dev, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, const T* b,
          T* c) {
#if defined(STRATA_CUDA_EMULATION)
  // The host emulation has no cuBLAS: the same product, accumulated as cuBLAS is asked to
  // (float32 for the float16/bfloat16 and float32 GEMMs, float64 for DGEMM).
  (void)dev;
  using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      Acc acc = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        acc += static_cast<Acc>(ta ? a[p * m + i] : a[i * k + p]) * static_cast<Acc>(tb ? b[j * k + p] : b[p * n + j]);
      }
      c[i * n + j] = static_cast<T>(acc);
    }
  }
#else
  cublasHandle_t h;
  auto lock = dev.blas(h);
  const auto op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int M = static_cast<int>(n), N = static_cast<int>(m), K = static_cast<int>(k);
  const int ldb = static_cast<int>(tb ? k : n), lda = static_cast<int>(ta ? m : k), ldc = static_cast<int>(n);
  if constexpr (std::is_same_v<T, float>) {
    const float one = 1, zero = 0;
    check(cublasSgemm(h, op_b, op_a, M, N, K, &one, b, ldb, a, lda, &zero, c, ldc), "cublasSgemm");
  } else if constexpr (std::is_same_v<T, double>) {
    const double one = 1, zero = 0;
    check(cublasDgemm(h, op_b, op_a, M, N, K, &one, b, ldb, a, lda, &zero, c, ldc), "cublasDgemm");
  } else {
    static_assert(std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>);
    const cudaDataType type = std::is_same_v<T, float16> ? CUDA_R_16F : CUDA_R_16BF;
    const float one = 1, zero = 0;
    check(cublasGemmEx(h, op_b, op_a, M, N, K, &one, b, type, ldb, a, type, lda, &zero, c, type, ldc,
                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
  }
#endif
}

void register_nn(Registrar& r) {
  const auto matmul_kernel = []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const bool ta = ctx.attrs().get_or<bool>("transpose_a", false), tb = ctx.attrs().get_or<bool>("transpose_b", false);
    const Dims& ad = in_dims(ctx, 0);
    const std::int64_t m = out_dims(ctx, 0)[0], n = out_dims(ctx, 0)[1], k = ta ? ad[0] : ad[1];
    if (o.num_elements() == 0) return;
    if (k == 0) return ctx.device().fill_zero(o.mutable_data(), o.nbytes());
    if constexpr (std::is_integral_v<T>) {
      // cuBLAS has no wrapping integer GEMM: one thread per output element.
      check_launch(matmul(stream_of(ctx), ta, tb, m, n, k, in<T>(ctx, 0), in<T>(ctx, 1), out<T>(o)), "MatMul");
    } else {
      gemm(cuda_device(ctx), ta, tb, m, n, k, in<T>(ctx, 0), in<T>(ctx, 1), out<T>(o));
    }
  };
  add_kernels(r, "MatMul", kCuda, NumberTypes{}, matmul_kernel);
  add_kernels(r, "MatMul", kCuda, HalfTypes{}, matmul_kernel);
  const auto batch_matmul_kernel = []<class T>(KernelContext& ctx) {
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
      gemm(dev, ax, ay, m, n, k, in<T>(ctx, 0) + kernel_util::broadcast_offset(i, ob, sx) * xm,
           in<T>(ctx, 1) + kernel_util::broadcast_offset(i, ob, sy) * ym, out<T>(o) + i * m * n);
    }
  };
  add_kernels(r, "BatchMatMulV2", kCuda, FloatTypes{}, batch_matmul_kernel);
  add_kernels(r, "BatchMatMulV2", kCuda, HalfTypes{}, batch_matmul_kernel);
  add_kernels(r, "BiasAdd", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t c = in_dims(ctx, 0).back();
    check_launch(bias_add(stream_of(ctx), o.num_elements() / c, c, in<T>(ctx, 0), in<T>(ctx, 1), out<T>(o)),
                 "BiasAdd");
  });
  add_kernels(r, "BiasAddGrad", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t c = in_dims(ctx, 0).back();
    const std::int64_t rows = c == 0 ? 0 : ctx.input(0).num_elements() / c;
    check_launch(bias_add_grad(stream_of(ctx), rows, c, in<T>(ctx, 0), out<T>(o)), "BiasAddGrad");
  });
  for (const char* name : {"Softmax", "LogSoftmax"}) {
    add_kernels(r, name, kCuda, FloatTypes{}, [log = std::string_view(name) == "LogSoftmax"]<class T>(KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      const std::int64_t c = in_dims(ctx, 0).back();
      check_launch(softmax(stream_of(ctx), log, o.num_elements() / c, c, in<T>(ctx, 0), out<T>(o)),
                   ctx.op_name());
    });
  }
  add_kernels(r, "SoftmaxGrad", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    const std::int64_t c = in_dims(ctx, 0).back();
    check_launch(softmax_grad(stream_of(ctx), o.num_elements() / c, c, in<T>(ctx, 0), in<T>(ctx, 1),
                                  out<T>(o)),
                 "SoftmaxGrad");
  });
}

// ---- shapes and indexing (strided copies) --------------------------------------------------

constexpr DType kAllTypes[] = {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kBool};

int bytes_of(const Tensor& t) { return static_cast<int>(dtype_size(t.dtype())); }

std::int64_t count(const Dims& d) {
  std::int64_t n = 1;
  for (auto v : d) n *= v;
  return n;
}

std::int64_t axis_of(const KernelContext& ctx, std::int64_t a, std::size_t rank) {
  const std::int64_t r = static_cast<std::int64_t>(rank), axis = a < 0 ? a + r : a;
  STRATA_CHECK(axis >= 0 && axis < r, BackendError, "op ", ctx.op_name(), ": axis ", a, " is out of range for rank ", r);
  return axis;
}

// dims viewed as [outer, len, inner] around `axis` (negative counts from the end).
struct AxisSplit {
  std::int64_t outer = 1, len = 1, inner = 1;
};
AxisSplit split_at(const KernelContext& ctx, const Dims& dims, std::int64_t axis) {
  const auto at = static_cast<std::size_t>(axis_of(ctx, axis, dims.size()));
  AxisSplit s;
  for (std::size_t k = 0; k < at; ++k) s.outer *= dims[k];
  s.len = dims[at];
  for (std::size_t k = at + 1; k < dims.size(); ++k) s.inner *= dims[k];
  return s;
}

// A StridedSlice of `dims` (inputs 1-3 and the mask attrs) and where its elements sit in a
// row-major tensor of `dims`: the first element's offset and each dimension's step.
struct SliceView {
  kernel_util::StridedSlicePlan plan;
  std::int64_t base = 0;
  Dims steps;
};
SliceView strided_slice_view(const KernelContext& ctx, const Dims& dims) {
  const Attrs& a = ctx.attrs();
  SliceView v{kernel_util::strided_slice_plan(
                  dims, host_ints(ctx, 1), host_ints(ctx, 2), host_ints(ctx, 3), a.get_or<std::int64_t>("begin_mask", 0),
                  a.get_or<std::int64_t>("end_mask", 0), a.get_or<std::int64_t>("ellipsis_mask", 0),
                  a.get_or<std::int64_t>("new_axis_mask", 0), a.get_or<std::int64_t>("shrink_axis_mask", 0)),
              0, Dims(dims.size())};
  const Dims strides = kernel_util::strides_of(dims);
  for (std::size_t k = 0; k < dims.size(); ++k) {
    v.base += v.plan.begin[k] * strides[k];
    v.steps[k] = v.plan.stride[k] * strides[k];
  }
  return v;
}

// Copies `dims` elements from `in` (starting at src_base, steps src_steps) into contiguous
// or strided `out` (dst_base, dst_steps).
void copy_view(KernelContext& ctx, const Tensor& in, void* out, const Dims& dims, std::int64_t src_base,
               const Dims& src_steps, std::int64_t dst_base, const Dims& dst_steps, const Dims& src_mod = {}) {
  check_rank(ctx, dims.size());
  if (count(dims) == 0) return;
  StridedCopy p;
  p.rank = static_cast<int>(dims.size());
  p.src_base = src_base;
  p.dst_base = dst_base;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    p.dims[d] = dims[d];
    p.src_strides[d] = src_steps[d];
    p.dst_strides[d] = dst_steps[d];
    p.src_mod[d] = src_mod.empty() ? 0 : src_mod[d];
  }
  check_launch(strided_copy(stream_of(ctx), bytes_of(in), p, in.data(), out), ctx.op_name());
}

void concat_like(KernelContext& ctx, std::size_t n_values, std::size_t axis, const Dims& od, bool new_axis) {
  Tensor& o = ctx.allocate_output(0);
  if (o.num_elements() == 0) return;
  const Dims os = kernel_util::strides_of(od);
  std::int64_t at = 0;
  for (std::size_t v = 0; v < n_values; ++v) {
    Dims d = in_dims(ctx, v);
    if (new_axis) d.insert(d.begin() + static_cast<std::ptrdiff_t>(axis), 1);
    copy_view(ctx, ctx.input(v), o.mutable_data(), d, 0, kernel_util::strides_of(d), at * os[axis], os);
    at += d[axis];
  }
}

void register_shapes(Registrar& r) {
  for (DType t : kAllTypes) {
    add_kernel(r, "ConcatV2", kCuda, t, [](KernelContext& ctx) {
      const std::size_t n_values = ctx.num_inputs() - 1;
      const Dims& first = in_dims(ctx, 0);
      const auto axis = static_cast<std::size_t>(axis_of(ctx, host_ints(ctx, n_values).at(0), first.size()));
      concat_like(ctx, n_values, axis, out_dims(ctx, 0), false);
    });
    add_kernel(r, "Pack", kCuda, t, [](KernelContext& ctx) {
      const Dims& od = out_dims(ctx, 0);
      const auto axis = static_cast<std::size_t>(axis_of(ctx, ctx.attrs().get_or<std::int64_t>("axis", 0), od.size()));
      concat_like(ctx, ctx.num_inputs(), axis, od, true);
    });
    add_kernel(r, "Split", kCuda, t, [](KernelContext& ctx) {
      const Dims& d = in_dims(ctx, 1);
      const auto axis = static_cast<std::size_t>(axis_of(ctx, host_ints(ctx, 0).at(0), d.size()));
      const Dims is = kernel_util::strides_of(d);
      for (std::size_t k = 0; k < ctx.num_outputs(); ++k) {
        Tensor& o = ctx.allocate_output(k);
        const Dims& pd = out_dims(ctx, k);
        copy_view(ctx, ctx.input(1), o.mutable_data(), pd, static_cast<std::int64_t>(k) * pd[axis] * is[axis], is, 0,
                  kernel_util::strides_of(pd));
      }
    });
    add_kernel(r, "Slice", kCuda, t, [](KernelContext& ctx) {
      const Dims& d = in_dims(ctx, 0);
      const Dims begin = host_ints(ctx, 1);
      const Dims is = kernel_util::strides_of(d);
      const Dims& od = out_dims(ctx, 0);
      STRATA_CHECK(begin.size() == d.size(), BackendError, "Slice: begin needs ", d.size(), " entries");
      std::int64_t base = 0;
      for (std::size_t k = 0; k < d.size(); ++k) {
        STRATA_CHECK(begin[k] >= 0 && begin[k] + od[k] <= d[k], BackendError, "Slice: begin ", begin[k],
                     " is outside dimension ", k, " of ", ctx.input(0).shape().to_string());
        base += begin[k] * is[k];
      }
      Tensor& o = ctx.allocate_output(0);
      copy_view(ctx, ctx.input(0), o.mutable_data(), od, base, is, 0, kernel_util::strides_of(od));
    });
    add_kernel(r, "StridedSlice", kCuda, t, [](KernelContext& ctx) {
      const SliceView v = strided_slice_view(ctx, in_dims(ctx, 0));
      Tensor& o = ctx.allocate_output(0);
      copy_view(ctx, ctx.input(0), o.mutable_data(), v.plan.length, v.base, v.steps, 0,
                kernel_util::strides_of(v.plan.length));
    });
    // StridedSliceGrad(shape (host), begin, end, strides, dy): zeros, then dy copied into
    // the selected elements (the StridedSlice copy run backwards).
    add_kernel(r, "StridedSliceGrad", kCuda, t, [](KernelContext& ctx) {
      const SliceView v = strided_slice_view(ctx, host_ints(ctx, 0));
      STRATA_CHECK(in_dims(ctx, 4) == v.plan.out_shape, BackendError, "StridedSliceGrad: dy has shape ",
                   ctx.input(4).shape().to_string(), ", the slice has shape ", Shape(v.plan.out_shape).to_string());
      Tensor& o = ctx.allocate_output(0);
      ctx.device().fill_zero(o.mutable_data(), o.nbytes());
      copy_view(ctx, ctx.input(4), o.mutable_data(), v.plan.length, 0, kernel_util::strides_of(v.plan.length), v.base,
                v.steps);
    });
    add_kernel(r, "Tile", kCuda, t, [](KernelContext& ctx) {
      const Dims& d = in_dims(ctx, 0);
      const Dims& od = out_dims(ctx, 0);
      Tensor& o = ctx.allocate_output(0);
      copy_view(ctx, ctx.input(0), o.mutable_data(), od, 0, kernel_util::strides_of(d), 0, kernel_util::strides_of(od), d);
    });
    add_kernel(r, "BroadcastTo", kCuda, t, [](KernelContext& ctx) {
      const Dims& od = out_dims(ctx, 0);
      Tensor& o = ctx.allocate_output(0);
      copy_view(ctx, ctx.input(0), o.mutable_data(), od, 0, kernel_util::broadcast_strides(in_dims(ctx, 0), od), 0,
                kernel_util::strides_of(od));
    });
    add_kernel(r, "Pad", kCuda, t, [](KernelContext& ctx) {
      const Dims& d = in_dims(ctx, 0);
      const Dims p = host_ints(ctx, 1);
      const Dims& od = out_dims(ctx, 0);
      STRATA_CHECK(p.size() == 2 * d.size(), BackendError, "Pad: paddings must have shape [", d.size(), ", 2]");
      Tensor& o = ctx.allocate_output(0);
      ctx.device().fill_zero(o.mutable_data(), o.nbytes());
      const Dims os = kernel_util::strides_of(od);
      std::int64_t base = 0;
      for (std::size_t k = 0; k < d.size(); ++k) base += p[2 * k] * os[k];
      copy_view(ctx, ctx.input(0), o.mutable_data(), d, 0, kernel_util::strides_of(d), base, os);
    });
    // GatherV2(params, indices, axis (host); batch_dims): the leading batch_dims dimensions
    // are shared by params and indices (docs/OPS.md).
    add_kernel(r, "GatherV2", kCuda, t, [](KernelContext& ctx) {
      const Dims& pd = in_dims(ctx, 0);
      const Dims& id = in_dims(ctx, 1);
      const auto axis = static_cast<std::size_t>(axis_of(ctx, host_ints(ctx, 2).at(0), pd.size()));
      std::int64_t bd = ctx.attrs().get_or<std::int64_t>("batch_dims", 0);
      if (bd < 0) bd += static_cast<std::int64_t>(id.size());
      STRATA_CHECK(bd >= 0 && bd <= static_cast<std::int64_t>(id.size()) && bd <= static_cast<std::int64_t>(axis),
                   BackendError, "GatherV2: batch_dims ", bd, " must be within [0, min(axis, rank(indices))]");
      const auto batch_dims = static_cast<std::size_t>(bd);
      STRATA_CHECK(std::equal(id.begin(), id.begin() + bd, pd.begin()), BackendError,
                   "GatherV2: the batch dimensions of params ", ctx.input(0).shape().to_string(), " and indices ",
                   ctx.input(1).shape().to_string(), " differ");
      const Tensor& indices = ctx.input(1);
      STRATA_CHECK(indices.dtype() == DType::kInt32 || indices.dtype() == DType::kInt64, BackendError,
                   "GatherV2: indices must be int32 or int64");
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      std::int64_t batch = 1, outer = 1, inner = 1, m = 1;
      for (std::size_t k = 0; k < batch_dims; ++k) batch *= pd[k];
      for (std::size_t k = 0; k < axis; ++k) outer *= pd[k];
      for (std::size_t k = axis + 1; k < pd.size(); ++k) inner *= pd[k];
      for (std::size_t k = batch_dims; k < id.size(); ++k) m *= id[k];
      const DeviceFlag bad(cuda_device(ctx));
      check_launch(gather(stream_of(ctx), bytes_of(o), indices.dtype() == DType::kInt64, outer, outer / batch, pd[axis],
                          inner, m, ctx.input(0).data(), indices.data(), o.mutable_data(), bad.get()),
                   "GatherV2");
      const std::int64_t flag = bad.read();
      STRATA_CHECK(flag == 0, BackendError, "GatherV2: index at position ", flag - 1, " is outside [0, ", pd[axis],
                   ") of params ", ctx.input(0).shape().to_string());
    });
  }
  for (DType t : kAllTypes) {
    add_kernel(r, "OneHot", kCuda, t, [](KernelContext& ctx) {
      const Tensor& indices = ctx.input(0);
      const Dims& od = out_dims(ctx, 0);
      const AxisSplit a = split_at(ctx, od, ctx.attrs().get_or<std::int64_t>("axis", -1));
      Tensor& o = ctx.allocate_output(0);
      if (o.num_elements() == 0) return;
      check_launch(one_hot(stream_of(ctx), bytes_of(o), indices.dtype() == DType::kInt64, a.outer, a.len, a.inner,
                           indices.data(), ctx.input(2).data(), ctx.input(3).data(), o.mutable_data()),
                   "OneHot");
    });
  }
  // UnsortedSegmentSum(data, segment_ids, num_segments (host)): ids outside
  // [0, num_segments) are dropped, as on the cpu; integers wrap, bool sums are logical or.
  add_kernels(r, "UnsortedSegmentSum", kCuda, NumberAndBoolTypes{}, []<class T>(KernelContext& ctx) {
    const Dims& dd = in_dims(ctx, 0);
    const Dims& id = in_dims(ctx, 1);
    STRATA_CHECK(id.size() <= dd.size() && std::equal(id.begin(), id.end(), dd.begin()), BackendError,
                 "UnsortedSegmentSum: segment_ids ", ctx.input(1).shape().to_string(),
                 " must be a prefix of the data shape ", ctx.input(0).shape().to_string());
    const std::int64_t segments = host_ints(ctx, 2).at(0);
    STRATA_CHECK(segments >= 0, BackendError, "UnsortedSegmentSum: num_segments must be non-negative");
    std::int64_t inner = 1;
    for (std::size_t k = id.size(); k < dd.size(); ++k) inner *= dd[k];
    Tensor& o = ctx.allocate_output(0);
    ctx.device().fill_zero(o.mutable_data(), o.nbytes());
    check_launch(segment_sum(stream_of(ctx), ctx.input(1).dtype() == DType::kInt64, count(id), inner, segments,
                             in<T>(ctx, 0), ctx.input(1).data(), out<T>(o)),
                 "UnsortedSegmentSum");
  });
  // Cumprod(x, axis (host)) with exclusive/reverse.
  add_kernels(r, "Cumprod", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const Dims& d = in_dims(ctx, 0);
    const AxisSplit a = split_at(ctx, d, host_ints(ctx, 1).at(0));
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(cumprod(stream_of(ctx), ctx.attrs().get_or<bool>("exclusive", false),
                         ctx.attrs().get_or<bool>("reverse", false), a.outer, a.len, a.inner, in<T>(ctx, 0), out<T>(o)),
                 "Cumprod");
  });
  // Cumsum(x, axis (host)) with exclusive/reverse; integers wrap.
  add_kernels(r, "Cumsum", kCuda, NumberTypes{}, []<class T>(KernelContext& ctx) {
    const Dims& d = in_dims(ctx, 0);
    const AxisSplit a = split_at(ctx, d, host_ints(ctx, 1).at(0));
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(cumsum(stream_of(ctx), ctx.attrs().get_or<bool>("exclusive", false),
                        ctx.attrs().get_or<bool>("reverse", false), a.outer, a.len, a.inner, in<T>(ctx, 0), out<T>(o)),
                 "Cumsum");
  });
  add_kernels(r, "ArgMax", kCuda, NumberTypes{}, []<class T>(KernelContext& ctx) {
    const Dims& d = in_dims(ctx, 0);
    const AxisSplit a = split_at(ctx, d, host_ints(ctx, 1).at(0));
    Tensor& o = ctx.allocate_output(0);
    if (o.num_elements() == 0) return;
    check_launch(arg_max(stream_of(ctx), o.dtype() == DType::kInt64, a.outer, a.len, a.inner, in<T>(ctx, 0),
                             o.mutable_data()),
                 "ArgMax");
  });
}

// ---- random ------------------------------------------------------------------------------

void register_random(Registrar& r) {
  const std::pair<const char*, RandomKind> ops[] = {{"RandomUniform", RandomKind::kUniform},
                                                    {"RandomStandardNormal", RandomKind::kNormal},
                                                    {"TruncatedNormal", RandomKind::kTruncatedNormal}};
  for (const auto& [name, kind] : ops) {
    add_kernels(r, name, kCuda, FloatTypes{}, [kind = kind]<class T>(KernelContext& ctx) {
      Tensor& o = ctx.allocate_output(0);
      check_launch(random_values(stream_of(ctx), kind, ctx.attrs().get_or<std::int64_t>("seed", 0),
                                 ctx.attrs().get_or<std::int64_t>("seed2", 0), o.num_elements(), out<T>(o)),
                   ctx.op_name());
    });
  }
}

}  // namespace

void register_kernels(Registrar& r) {
  register_random(r);
  register_shapes(r);
  register_elementwise(r);
  register_array(r);
  register_reductions(r);
  register_nn(r);
  register_window_ops(r);
  register_optimizer_ops(r);
}

}  // namespace strata::cuda
