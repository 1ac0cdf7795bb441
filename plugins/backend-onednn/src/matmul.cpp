// MatMul and BatchMatMulV2. float32 runs on oneDNN's matmul primitive: transposes and
// adjoints are expressed as memory strides (no copies) and BatchMatMulV2's batch
// broadcasting as batch dimensions of size 1, which oneDNN's matmul broadcasts itself.
// float64 and the integer MatMul are a blocked C++ GEMM (integers wrap around).
#include "common.hpp"
#include "dnnl_util.hpp"
#include "kernels.hpp"

namespace strata::onednn {
namespace {

// C[M, N] = A[M, K] · B[K, N] where A(m, k) = a[m·am + k·ak] and B(k, n) = b[k·bk + n·bn].
template <class T>
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, const T* a, std::int64_t am, std::int64_t ak, const T* b,
          std::int64_t bk, std::int64_t bn, T* c) {
  std::fill(c, c + M * N, T(0));
  if (K == 0) return;
  // B as row-major [K, N] (copied only when it is not already).
  std::vector<T> b_copy;
  const T* bp = b;
  if (bn != 1 || bk != N) {
    b_copy.resize(static_cast<std::size_t>(K * N));
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t n = 0; n < N; ++n) b_copy[static_cast<std::size_t>(k * N + n)] = b[k * bk + n * bn];
    bp = b_copy.data();
  }
  constexpr std::int64_t kBlockK = 128, kBlockN = 512;
  const std::int64_t grain = std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(1, N * K));
  parallel_for(M, grain, [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t nb = 0; nb < N; nb += kBlockN) {
      const std::int64_t ne = std::min(N, nb + kBlockN);
      for (std::int64_t kb = 0; kb < K; kb += kBlockK) {
        const std::int64_t ke = std::min(K, kb + kBlockK);
        for (std::int64_t m = m0; m < m1; ++m) {
          T* __restrict crow = c + m * N;
          for (std::int64_t k = kb; k < ke; ++k) {
            const T av = a[m * am + k * ak];
            const T* __restrict brow = bp + k * N;
            for (std::int64_t n = nb; n < ne; ++n) crow[n] = add_wrap(crow[n], mul_wrap(av, brow[n]));
          }
        }
      }
    }
  });
}

// dims/strides of one matmul operand for oneDNN: batch dims (padded to `batch_rank`),
// then the two matrix dims.
struct Operand {
  Dims dims, strides;
};

Operand operand(const Dims& d, std::size_t batch_rank, std::int64_t rows, std::int64_t cols, bool transposed) {
  // d = [batch..., r, c] row-major; the operand is logically [rows, cols]
  // (= [r, c], or [c, r] when transposed).
  Operand o;
  const Dims s = kernel_util::strides_of(d);
  const std::size_t pad = batch_rank - (d.size() - 2);
  const std::int64_t matrix = d[d.size() - 2] * d[d.size() - 1];
  for (std::size_t i = 0; i < pad; ++i) {
    o.dims.push_back(1);
    o.strides.push_back(matrix);  // any value: the dimension has size 1
  }
  for (std::size_t i = 0; i + 2 < d.size(); ++i) {
    o.dims.push_back(d[i]);
    o.strides.push_back(s[i]);
  }
  const std::int64_t c = d[d.size() - 1];
  o.dims.push_back(rows);
  o.dims.push_back(cols);
  if (transposed) {
    o.strides.push_back(1);
    o.strides.push_back(c);
  } else {
    o.strides.push_back(c);
    o.strides.push_back(1);
  }
  return o;
}

void dnnl_matmul(KernelContext& ctx, const Operand& a, const Operand& b, const Dims& od, void* o) {
  KeyBuilder key("matmul");
  key.add(a.dims).add(a.strides).add(b.dims).add(b.strides);
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto a_md = strided_f32(a.dims, a.strides), b_md = strided_f32(b.dims, b.strides), c_md = plain(od);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), user_scratchpad(), engine());
    return PrimitiveSpec{dnnl::matmul(pd),
                         {{DNNL_ARG_SRC, a_md}, {DNNL_ARG_WEIGHTS, b_md}, {DNNL_ARG_DST, c_md}},
                         pd.scratchpad_desc()};
  });
  prim->execute({ctx.input(0).data(), ctx.input(1).data(), o});
}

// The 2-D case keyed by (M, K, N, transposes) alone: the hot path of small MLPs, so the
// operand descriptions are only built on a cache miss.
void dnnl_matmul_2d(KernelContext& ctx, std::int64_t M, std::int64_t K, std::int64_t N, bool ta, bool tb, void* o) {
  KeyBuilder key("matmul2d");
  key.add(M).add(K).add(N).add(std::int64_t{ta ? 1 : 0}).add(std::int64_t{tb ? 1 : 0});
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const Operand a = operand(in_dims(ctx, 0), 0, M, K, ta), b = operand(in_dims(ctx, 1), 0, K, N, tb);
    const auto a_md = strided_f32(a.dims, a.strides), b_md = strided_f32(b.dims, b.strides), c_md = plain({M, N});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), user_scratchpad(), engine());
    return PrimitiveSpec{dnnl::matmul(pd),
                         {{DNNL_ARG_SRC, a_md}, {DNNL_ARG_WEIGHTS, b_md}, {DNNL_ARG_DST, c_md}},
                         pd.scratchpad_desc()};
  });
  prim->execute({ctx.input(0).data(), ctx.input(1).data(), o});
}

template <class T>
void matmul(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& ad = in_dims(ctx, 0);
  const Dims& bd = in_dims(ctx, 1);
  STRATA_CHECK(ad.size() == 2 && bd.size() == 2, BackendError, "MatMul needs two matrices, got ",
               ctx.input(0).shape().to_string(), " and ", ctx.input(1).shape().to_string());
  const Attrs& attrs = ctx.attrs();
  const bool ta = attrs.get_or<bool>("transpose_a", false), tb = attrs.get_or<bool>("transpose_b", false);
  const std::int64_t M = ta ? ad[1] : ad[0], K = ta ? ad[0] : ad[1];
  const std::int64_t Kb = tb ? bd[1] : bd[0], N = tb ? bd[0] : bd[1];
  STRATA_CHECK(K == Kb, BackendError, "MatMul: inner dimensions ", K, " and ", Kb, " differ");
  const Dims& od = out_dims(ctx, 0);
  STRATA_CHECK(od.size() == 2 && od[0] == M && od[1] == N, BackendError, "MatMul computes [", M, ", ", N, "] but ",
               ctx.output_meta(0).shape.to_string(), " was inferred");
  T* c = static_cast<T*>(ctx.allocate_output(0).mutable_data());
  if (M == 0 || N == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (K > 0) return dnnl_matmul_2d(ctx, M, K, N, ta, tb, c);
  }
  const T* a = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  gemm<T>(M, N, K, a, ta ? 1 : K, ta ? M : 1, b, tb ? 1 : N, tb ? K : 1, c);
}

template <class T>
void batch_matmul(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& yd = in_dims(ctx, 1);
  STRATA_CHECK(xd.size() >= 2 && yd.size() >= 2, BackendError, "BatchMatMulV2 needs inputs of rank >= 2");
  const bool ax = ctx.attrs().get_or<bool>("adj_x", false), ay = ctx.attrs().get_or<bool>("adj_y", false);
  const std::int64_t xr = xd[xd.size() - 2], xc = xd[xd.size() - 1], yr = yd[yd.size() - 2], yc = yd[yd.size() - 1];
  const std::int64_t M = ax ? xc : xr, K = ax ? xr : xc, Kb = ay ? yc : yr, N = ay ? yr : yc;
  STRATA_CHECK(K == Kb, BackendError, "BatchMatMulV2: inner dimensions ", K, " and ", Kb, " differ");
  const Dims& od = out_dims(ctx, 0);
  STRATA_CHECK(od.size() >= 2 && od[od.size() - 2] == M && od[od.size() - 1] == N, BackendError,
               "BatchMatMulV2: the inferred output ", ctx.output_meta(0).shape.to_string(), " does not end in [", M,
               ", ", N, "]");
  const Dims ob(od.begin(), od.end() - 2);
  const Dims xb(xd.begin(), xd.end() - 2), yb(yd.begin(), yd.end() - 2);
  bool ok = xb.size() <= ob.size() && yb.size() <= ob.size();
  for (std::size_t k = 0; ok && k < xb.size(); ++k) ok = xb[k] == 1 || xb[k] == ob[ob.size() - xb.size() + k];
  for (std::size_t k = 0; ok && k < yb.size(); ++k) ok = yb[k] == 1 || yb[k] == ob[ob.size() - yb.size() + k];
  STRATA_CHECK(ok, BackendError, "BatchMatMulV2: batch dimensions do not broadcast to ", Shape(ob).to_string());
  T* o = static_cast<T*>(ctx.allocate_output(0).mutable_data());
  const std::int64_t batches = product(ob);
  if (batches == 0 || M == 0 || N == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (K > 0 && od.size() <= DNNL_MAX_NDIMS) {
      return dnnl_matmul(ctx, operand(xd, ob.size(), M, K, ax), operand(yd, ob.size(), K, N, ay), od, o);
    }
  }
  const Dims sx = kernel_util::broadcast_strides(xb, ob), sy = kernel_util::broadcast_strides(yb, ob);
  const T* x = in<T>(ctx, 0);
  const T* y = in<T>(ctx, 1);
  for (std::int64_t bi = 0; bi < batches; ++bi) {
    const T* xm = x + kernel_util::broadcast_offset(bi, ob, sx) * xr * xc;
    const T* ym = y + kernel_util::broadcast_offset(bi, ob, sy) * yr * yc;
    gemm<T>(M, N, K, xm, ax ? 1 : xc, ax ? xc : 1, ym, ay ? 1 : yc, ay ? yc : 1, o + bi * M * N);
  }
}

}  // namespace

void register_matmul_kernels(Registrar& r) {
  add_n(r, "MatMul", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { matmul<T>(ctx); };
  });
  add_f(r, "BatchMatMulV2", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { batch_matmul<T>(ctx); };
  });
}

}  // namespace strata::onednn
