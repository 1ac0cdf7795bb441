// Ref kernels of the neural-network ops (matrix products, bias, softmax, convolutions,
// pooling) and the random ops. Convolutions and pooling are NHWC with TensorFlow's
// SAME/VALID geometry computed here by counting window positions (not the SDK's closed
// form in strata/plugin/window.hpp, which the backends use: the oracle stays independent of
// what it checks); input position of output o and filter
// tap k is o·stride + k·dilation − pad_before, and positions outside the input are
// padding. Backprops are the literal adjoints: the forward loops with the roles of the
// arrays swapped, accumulating in long double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "ref_kernels_util.hpp"
#include "strata/plugin/philox.hpp"

namespace strata::testing::ref {
namespace {

// ---- matrix products ---------------------------------------------------------------------

// MatMul(a, b; transpose_a, transpose_b): out[m, n] = Σ_k A[m, k] B[k, n].
template <class T>
void matmul(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& ad = in_dims(ctx, 0);
  const Dims& bd = in_dims(ctx, 1);
  STRATA_CHECK(ad.size() == 2 && bd.size() == 2, BackendError, "MatMul needs two matrices");
  const bool ta = ctx.attrs().get_or<bool>("transpose_a", false), tb = ctx.attrs().get_or<bool>("transpose_b", false);
  const std::int64_t M = ta ? ad[1] : ad[0], K = ta ? ad[0] : ad[1];
  const std::int64_t Kb = tb ? bd[1] : bd[0], N = tb ? bd[0] : bd[1];
  STRATA_CHECK(K == Kb, BackendError, "MatMul: inner dimensions ", K, " and ", Kb, " differ");
  check_out_dims(ctx, 0, {M, N});
  const T* a = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  for (std::int64_t m = 0; m < M; ++m) {
    for (std::int64_t n = 0; n < N; ++n) {
      Acc<T> s = 0;
      for (std::int64_t k = 0; k < K; ++k) {
        const T av = ta ? a[k * M + m] : a[m * K + k];
        const T bv = tb ? b[n * K + k] : b[k * N + n];
        s = acc_add<T>(s, acc_mul<T>(av, bv));
      }
      o[m * N + n] = from_acc<T>(s);
    }
  }
}

// BatchMatMulV2(x, y; adj_x, adj_y): one MatMul per batch index, batch dims broadcast.
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
  const Dims sx = kernel_util::broadcast_strides(xb, ob), sy = kernel_util::broadcast_strides(yb, ob);
  const T* x = in<T>(ctx, 0);
  const T* y = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t batches = num_elements(ob);
  for (std::int64_t bi = 0; bi < batches; ++bi) {
    const T* xm = x + kernel_util::broadcast_offset(bi, ob, sx) * xr * xc;
    const T* ym = y + kernel_util::broadcast_offset(bi, ob, sy) * yr * yc;
    T* om = o + bi * M * N;
    for (std::int64_t m = 0; m < M; ++m) {
      for (std::int64_t n = 0; n < N; ++n) {
        long double s = 0;
        for (std::int64_t k = 0; k < K; ++k) {
          const long double xv = ax ? xm[k * xc + m] : xm[m * xc + k];
          const long double yv = ay ? ym[n * yc + k] : ym[k * yc + n];
          s += xv * yv;
        }
        om[m * N + n] = static_cast<T>(s);
      }
    }
  }
}

// ---- bias and softmax ----------------------------------------------------------------------

void check_nhwc(const KernelContext& ctx) {
  const std::string fmt = ctx.attrs().get_or<std::string>("data_format", "NHWC");
  STRATA_CHECK(fmt == "NHWC", BackendError, "ref kernel ", ctx.op_name(), " supports data_format NHWC only, got ", fmt);
}

template <class T>
void bias_add(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  check_nhwc(ctx);
  const Dims& vd = in_dims(ctx, 0);
  const Dims& bd = in_dims(ctx, 1);
  STRATA_CHECK(!vd.empty() && bd.size() == 1 && bd[0] == vd.back(), BackendError, "BiasAdd: bias ",
               ctx.input(1).shape().to_string(), " does not match the last dimension of ", ctx.input(0).shape().to_string());
  check_out_dims(ctx, 0, vd);
  const T* v = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(vd), C = bd[0];
  for (std::int64_t i = 0; i < n; ++i) o[i] = v[i] + b[i % C];
}

template <class T>
void bias_add_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  check_nhwc(ctx);
  const Dims& d = in_dims(ctx, 0);
  STRATA_CHECK(!d.empty(), BackendError, "BiasAddGrad needs rank >= 1");
  const std::int64_t C = d.back();
  check_out_dims(ctx, 0, {C});
  const T* g = in<T>(ctx, 0);
  std::vector<long double> acc(static_cast<std::size_t>(C), 0);
  const std::int64_t n = num_elements(d);
  for (std::int64_t i = 0; i < n; ++i) acc[static_cast<std::size_t>(i % C)] += g[i];
  T* o = out<T>(ctx, 0);
  for (std::int64_t c = 0; c < C; ++c) o[c] = static_cast<T>(acc[static_cast<std::size_t>(c)]);
}

enum class SoftmaxKind { kSoftmax, kLogSoftmax };

// Over the last axis: y = exp(x - max) / Σ exp(x - max); log-softmax x - max - log Σ.
template <class T>
void softmax(KernelContext& ctx, SoftmaxKind kind) {
  check_num_inputs(ctx, 1);
  const Dims& d = in_dims(ctx, 0);
  STRATA_CHECK(!d.empty(), BackendError, ctx.op_name(), " needs rank >= 1");
  check_out_dims(ctx, 0, d);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t C = d.back();
  const std::int64_t rows = C == 0 ? 0 : num_elements(d) / C;
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * C;
    T* orow = o + r * C;
    long double mx = xr[0];
    for (std::int64_t c = 1; c < C; ++c) mx = std::max<long double>(mx, xr[c]);
    long double sum = 0;
    for (std::int64_t c = 0; c < C; ++c) sum += std::exp(static_cast<long double>(xr[c]) - mx);
    for (std::int64_t c = 0; c < C; ++c) {
      const long double shifted = static_cast<long double>(xr[c]) - mx;
      orow[c] = static_cast<T>(kind == SoftmaxKind::kSoftmax ? std::exp(shifted) / sum : shifted - std::log(sum));
    }
  }
}

// SoftmaxGrad(softmax, grad) = (grad − Σ_c grad·softmax) · softmax, per row.
template <class T>
void softmax_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  check_same_dims(ctx, 0, 1);
  const Dims& d = in_dims(ctx, 0);
  STRATA_CHECK(!d.empty(), BackendError, "SoftmaxGrad needs rank >= 1");
  check_out_dims(ctx, 0, d);
  const T* s = in<T>(ctx, 0);
  const T* g = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t C = d.back();
  const std::int64_t rows = C == 0 ? 0 : num_elements(d) / C;
  for (std::int64_t r = 0; r < rows; ++r) {
    long double dot = 0;
    for (std::int64_t c = 0; c < C; ++c) dot += static_cast<long double>(g[r * C + c]) * s[r * C + c];
    for (std::int64_t c = 0; c < C; ++c) {
      o[r * C + c] = static_cast<T>((static_cast<long double>(g[r * C + c]) - dot) * s[r * C + c]);
    }
  }
}

// ---- convolution geometry ----------------------------------------------------------------

// One NHWC window op: input [N, H, W, C], window kh × kw, output [N, OH, OW, ...].
struct Geometry {
  std::int64_t N = 0, H = 0, W = 0, C = 0;
  std::int64_t KH = 0, KW = 0;
  std::int64_t OH = 0, OW = 0;
  std::int64_t SH = 1, SW = 1, DH = 1, DW = 1;
  std::int64_t PT = 0, PL = 0;  // padding before (top, left)

  // Input row of output row oh and tap kh (may fall into the padding).
  std::int64_t row(std::int64_t oh, std::int64_t kh) const { return oh * SH + kh * DH - PT; }
  std::int64_t col(std::int64_t ow, std::int64_t kw) const { return ow * SW + kw * DW - PL; }
  bool inside(std::int64_t ih, std::int64_t iw) const { return ih >= 0 && ih < H && iw >= 0 && iw < W; }
};

// {output size, padding before} of one spatial dimension, by walking the window's start
// over the input: VALID counts the starts 0, stride, 2·stride, ... whose whole (dilated)
// window fits; SAME counts every start inside the input, and pads what the last window
// reaches beyond it, the odd element after (TensorFlow's convention).
std::pair<std::int64_t, std::int64_t> ref_window(std::int64_t in, std::int64_t k, std::int64_t stride,
                                                 std::int64_t dilation, bool same) {
  STRATA_CHECK(k > 0 && stride > 0 && dilation > 0, ShapeError, "ref window: size ", k, ", stride ", stride,
               " and dilation ", dilation, " must be positive");
  const std::int64_t span = (k - 1) * dilation + 1;
  std::int64_t out = 0;
  if (!same) {
    for (std::int64_t start = 0; start + span <= in; start += stride) ++out;
    STRATA_CHECK(out > 0, ShapeError, "ref window: a VALID window of span ", span, " does not fit ", in);
    return {out, 0};
  }
  for (std::int64_t start = 0; start < in; start += stride) ++out;
  const std::int64_t last_end = (out - 1) * stride + span;  // one past the last window's end
  const std::int64_t total = last_end > in ? last_end - in : 0;
  return {out, total / 2};
}

Geometry geometry(const KernelContext& ctx, const Dims& input, std::int64_t kh, std::int64_t kw, bool dilations) {
  check_nhwc(ctx);
  STRATA_CHECK(input.size() == 4, BackendError, "ref kernel ", ctx.op_name(), " needs a rank-4 NHWC input, got ",
               Shape(input).to_string());
  Geometry g;
  g.N = input[0];
  g.H = input[1];
  g.W = input[2];
  g.C = input[3];
  g.KH = kh;
  g.KW = kw;
  std::tie(g.SH, g.SW) = kernel_util::spatial_pair(ctx.attrs(), "strides");
  if (dilations) std::tie(g.DH, g.DW) = kernel_util::spatial_pair(ctx.attrs(), "dilations");
  const bool same = kernel_util::is_same_padding(ctx.attrs());
  std::tie(g.OH, g.PT) = ref_window(g.H, kh, g.SH, g.DH, same);
  std::tie(g.OW, g.PL) = ref_window(g.W, kw, g.SW, g.DW, same);
  return g;
}

std::int64_t at4(const Dims& d, std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t e) {
  return ((a * d[1] + b) * d[2] + c) * d[3] + e;
}

template <class T>
void store(T* o, const std::vector<long double>& acc) {
  for (std::size_t i = 0; i < acc.size(); ++i) o[i] = static_cast<T>(acc[i]);
}

// ---- Conv2D and its backprops (filter HWIO) ------------------------------------------------

template <class T>
void conv2d(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  STRATA_CHECK(fd.size() == 4, BackendError, "Conv2D needs a rank-4 filter");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  STRATA_CHECK(fd[2] == g.C, BackendError, "Conv2D: filter input channels ", fd[2], " but the input has ", g.C);
  const std::int64_t CO = fd[3];
  const Dims od{g.N, g.OH, g.OW, CO};
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  const T* f = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t co = 0; co < CO; ++co) {
          long double s = 0;
          for (std::int64_t kh = 0; kh < g.KH; ++kh)
            for (std::int64_t kw = 0; kw < g.KW; ++kw) {
              const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
              if (!g.inside(ih, iw)) continue;
              for (std::int64_t ci = 0; ci < g.C; ++ci) {
                s += static_cast<long double>(x[at4(xd, n, ih, iw, ci)]) * f[at4(fd, kh, kw, ci, co)];
              }
            }
          o[at4(od, n, oh, ow, co)] = static_cast<T>(s);
        }
}

// Conv2DBackpropInput(input_sizes, filter, out_backprop).
template <class T>
void conv2d_backprop_input(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims xd = host_ints(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  const Dims& dyd = in_dims(ctx, 2);
  check_out_dims(ctx, 0, xd);
  STRATA_CHECK(fd.size() == 4, BackendError, "Conv2DBackpropInput needs a rank-4 filter");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  const std::int64_t CO = fd[3];
  STRATA_CHECK(fd[2] == g.C && dyd == Dims({g.N, g.OH, g.OW, CO}), BackendError,
               "Conv2DBackpropInput: shapes do not fit together");
  const T* f = in<T>(ctx, 1);
  const T* dy = in<T>(ctx, 2);
  std::vector<long double> dx(static_cast<std::size_t>(num_elements(xd)), 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t kh = 0; kh < g.KH; ++kh)
          for (std::int64_t kw = 0; kw < g.KW; ++kw) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            for (std::int64_t ci = 0; ci < g.C; ++ci)
              for (std::int64_t co = 0; co < CO; ++co) {
                dx[static_cast<std::size_t>(at4(xd, n, ih, iw, ci))] +=
                    static_cast<long double>(dy[at4(dyd, n, oh, ow, co)]) * f[at4(fd, kh, kw, ci, co)];
              }
          }
  store(out<T>(ctx, 0), dx);
}

// Conv2DBackpropFilter(input, filter_sizes, out_backprop).
template <class T>
void conv2d_backprop_filter(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Dims fd = host_ints(ctx, 1);
  const Dims& dyd = in_dims(ctx, 2);
  check_out_dims(ctx, 0, fd);
  STRATA_CHECK(fd.size() == 4, BackendError, "Conv2DBackpropFilter needs a rank-4 filter size");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  const std::int64_t CO = fd[3];
  STRATA_CHECK(fd[2] == g.C && dyd == Dims({g.N, g.OH, g.OW, CO}), BackendError,
               "Conv2DBackpropFilter: shapes do not fit together");
  const T* x = in<T>(ctx, 0);
  const T* dy = in<T>(ctx, 2);
  std::vector<long double> df(static_cast<std::size_t>(num_elements(fd)), 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t kh = 0; kh < g.KH; ++kh)
          for (std::int64_t kw = 0; kw < g.KW; ++kw) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            for (std::int64_t ci = 0; ci < g.C; ++ci)
              for (std::int64_t co = 0; co < CO; ++co) {
                df[static_cast<std::size_t>(at4(fd, kh, kw, ci, co))] +=
                    static_cast<long double>(x[at4(xd, n, ih, iw, ci)]) * dy[at4(dyd, n, oh, ow, co)];
              }
          }
  store(out<T>(ctx, 0), df);
}

// ---- depthwise convolution (filter [KH, KW, C, M], output channel c·M + m) ---------------

template <class T>
void depthwise(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  STRATA_CHECK(fd.size() == 4, BackendError, "DepthwiseConv2dNative needs a rank-4 filter");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  STRATA_CHECK(fd[2] == g.C, BackendError, "DepthwiseConv2dNative: filter channels ", fd[2], " but the input has ", g.C);
  const std::int64_t M = fd[3];
  const Dims od{g.N, g.OH, g.OW, g.C * M};
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  const T* f = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t c = 0; c < g.C; ++c)
          for (std::int64_t m = 0; m < M; ++m) {
            long double s = 0;
            for (std::int64_t kh = 0; kh < g.KH; ++kh)
              for (std::int64_t kw = 0; kw < g.KW; ++kw) {
                const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
                if (!g.inside(ih, iw)) continue;
                s += static_cast<long double>(x[at4(xd, n, ih, iw, c)]) * f[at4(fd, kh, kw, c, m)];
              }
            o[at4(od, n, oh, ow, c * M + m)] = static_cast<T>(s);
          }
}

template <class T>
void depthwise_backprop_input(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims xd = host_ints(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  const Dims& dyd = in_dims(ctx, 2);
  check_out_dims(ctx, 0, xd);
  STRATA_CHECK(fd.size() == 4, BackendError, "DepthwiseConv2dNativeBackpropInput needs a rank-4 filter");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  const std::int64_t M = fd[3];
  STRATA_CHECK(fd[2] == g.C && dyd == Dims({g.N, g.OH, g.OW, g.C * M}), BackendError,
               "DepthwiseConv2dNativeBackpropInput: shapes do not fit together");
  const T* f = in<T>(ctx, 1);
  const T* dy = in<T>(ctx, 2);
  std::vector<long double> dx(static_cast<std::size_t>(num_elements(xd)), 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t kh = 0; kh < g.KH; ++kh)
          for (std::int64_t kw = 0; kw < g.KW; ++kw) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            for (std::int64_t c = 0; c < g.C; ++c)
              for (std::int64_t m = 0; m < M; ++m) {
                dx[static_cast<std::size_t>(at4(xd, n, ih, iw, c))] +=
                    static_cast<long double>(dy[at4(dyd, n, oh, ow, c * M + m)]) * f[at4(fd, kh, kw, c, m)];
              }
          }
  store(out<T>(ctx, 0), dx);
}

template <class T>
void depthwise_backprop_filter(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Dims fd = host_ints(ctx, 1);
  const Dims& dyd = in_dims(ctx, 2);
  check_out_dims(ctx, 0, fd);
  STRATA_CHECK(fd.size() == 4, BackendError, "DepthwiseConv2dNativeBackpropFilter needs a rank-4 filter size");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  const std::int64_t M = fd[3];
  STRATA_CHECK(fd[2] == g.C && dyd == Dims({g.N, g.OH, g.OW, g.C * M}), BackendError,
               "DepthwiseConv2dNativeBackpropFilter: shapes do not fit together");
  const T* x = in<T>(ctx, 0);
  const T* dy = in<T>(ctx, 2);
  std::vector<long double> df(static_cast<std::size_t>(num_elements(fd)), 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t kh = 0; kh < g.KH; ++kh)
          for (std::int64_t kw = 0; kw < g.KW; ++kw) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            for (std::int64_t c = 0; c < g.C; ++c)
              for (std::int64_t m = 0; m < M; ++m) {
                df[static_cast<std::size_t>(at4(fd, kh, kw, c, m))] +=
                    static_cast<long double>(x[at4(xd, n, ih, iw, c)]) * dy[at4(dyd, n, oh, ow, c * M + m)];
              }
          }
  store(out<T>(ctx, 0), df);
}

// ---- pooling -------------------------------------------------------------------------------

Geometry pool_geometry(const KernelContext& ctx, const Dims& input) {
  const auto [kh, kw] = kernel_util::spatial_pair(ctx.attrs(), "ksize");
  return geometry(ctx, input, kh, kw, false);
}

// The input position (h, w) of the first maximum of the real (unpadded) elements of one
// window, in row-major window order; {-1, -1} for a window with no real element.
template <class T>
std::pair<std::int64_t, std::int64_t> window_argmax(const Geometry& g, const Dims& xd, const T* x, std::int64_t n,
                                                    std::int64_t oh, std::int64_t ow, std::int64_t c) {
  std::pair<std::int64_t, std::int64_t> best{-1, -1};
  T best_value{};
  for (std::int64_t kh = 0; kh < g.KH; ++kh)
    for (std::int64_t kw = 0; kw < g.KW; ++kw) {
      const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
      if (!g.inside(ih, iw)) continue;
      const T v = x[at4(xd, n, ih, iw, c)];
      if (best.first < 0 || v > best_value) {
        best = {ih, iw};
        best_value = v;
      }
    }
  return best;
}

template <class T>
void max_pool(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const Dims& xd = in_dims(ctx, 0);
  const Geometry g = pool_geometry(ctx, xd);
  const Dims od{g.N, g.OH, g.OW, g.C};
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t c = 0; c < g.C; ++c) {
          const auto [ih, iw] = window_argmax(g, xd, x, n, oh, ow, c);
          o[at4(od, n, oh, ow, c)] = ih < 0 ? -std::numeric_limits<T>::infinity() : x[at4(xd, n, ih, iw, c)];
        }
}

// MaxPoolGrad(orig_input, orig_output, grad): each grad element goes to the first maximum
// of its window in orig_input (orig_output is not needed for that).
template <class T>
void max_pool_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Geometry g = pool_geometry(ctx, xd);
  const Dims pd{g.N, g.OH, g.OW, g.C};
  STRATA_CHECK(in_dims(ctx, 1) == pd && in_dims(ctx, 2) == pd, BackendError, "MaxPoolGrad: orig_output ",
               ctx.input(1).shape().to_string(), " and grad ", ctx.input(2).shape().to_string(), " must have shape ",
               Shape(pd).to_string());
  check_out_dims(ctx, 0, xd);
  const T* x = in<T>(ctx, 0);
  const T* dy = in<T>(ctx, 2);
  std::vector<long double> dx(static_cast<std::size_t>(num_elements(xd)), 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t c = 0; c < g.C; ++c) {
          const auto [ih, iw] = window_argmax(g, xd, x, n, oh, ow, c);
          if (ih >= 0) dx[static_cast<std::size_t>(at4(xd, n, ih, iw, c))] += dy[at4(pd, n, oh, ow, c)];
        }
  store(out<T>(ctx, 0), dx);
}

// AvgPool: the mean of the real elements of each window (SAME padding is not counted).
template <class T>
void avg_pool(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const Dims& xd = in_dims(ctx, 0);
  const Geometry g = pool_geometry(ctx, xd);
  const Dims od{g.N, g.OH, g.OW, g.C};
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t c = 0; c < g.C; ++c) {
          long double s = 0;
          std::int64_t count = 0;
          for (std::int64_t kh = 0; kh < g.KH; ++kh)
            for (std::int64_t kw = 0; kw < g.KW; ++kw) {
              const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
              if (!g.inside(ih, iw)) continue;
              s += x[at4(xd, n, ih, iw, c)];
              ++count;
            }
          o[at4(od, n, oh, ow, c)] = static_cast<T>(s / static_cast<long double>(count));
        }
}

// AvgPoolGrad(orig_input_shape, grad): each grad element shared equally by the real
// elements of its window.
template <class T>
void avg_pool_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims xd = host_ints(ctx, 0);
  check_out_dims(ctx, 0, xd);
  const Geometry g = pool_geometry(ctx, xd);
  const Dims pd{g.N, g.OH, g.OW, g.C};
  STRATA_CHECK(in_dims(ctx, 1) == pd, BackendError, "AvgPoolGrad: grad ", ctx.input(1).shape().to_string(),
               " must have shape ", Shape(pd).to_string());
  const T* dy = in<T>(ctx, 1);
  std::vector<long double> dx(static_cast<std::size_t>(num_elements(xd)), 0);
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow)
        for (std::int64_t c = 0; c < g.C; ++c) {
          std::int64_t count = 0;
          for (std::int64_t kh = 0; kh < g.KH; ++kh)
            for (std::int64_t kw = 0; kw < g.KW; ++kw) count += g.inside(g.row(oh, kh), g.col(ow, kw)) ? 1 : 0;
          if (count == 0) continue;
          const long double share = static_cast<long double>(dy[at4(pd, n, oh, ow, c)]) / static_cast<long double>(count);
          for (std::int64_t kh = 0; kh < g.KH; ++kh)
            for (std::int64_t kw = 0; kw < g.KW; ++kw) {
              const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
              if (g.inside(ih, iw)) dx[static_cast<std::size_t>(at4(xd, n, ih, iw, c))] += share;
            }
        }
  store(out<T>(ctx, 0), dx);
}

// ---- ResizeBilinear, ResizeNearestNeighbor and their gradients ------------------------------
// Written as weights: output pixel (y, x) = sum of w_y(i) * w_x(j) * input(i, j) over the one
// (nearest) or two (bilinear) source rows and columns TensorFlow's rules pick, with the
// source coordinate in float32 as TensorFlow computes it. The gradients scatter the same
// weights back.

struct Tap {
  std::int64_t index;
  long double weight;
};

std::vector<Tap> resize_taps(std::int64_t o, std::int64_t in, std::int64_t out, bool bilinear, bool align_corners,
                             bool half_pixel) {
  const float scale = align_corners && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                                               : static_cast<float>(in) / static_cast<float>(out);
  const float fo = static_cast<float>(o);
  if (!bilinear) {
    const float src = half_pixel ? (fo + 0.5f) * scale : fo * scale;
    std::int64_t i = align_corners ? static_cast<std::int64_t>(std::round(src)) : static_cast<std::int64_t>(std::floor(src));
    i = std::min(i, in - 1);
    if (half_pixel) i = std::max<std::int64_t>(i, 0);
    return {{i, 1.0L}};
  }
  const float src = half_pixel ? (fo + 0.5f) * scale - 0.5f : fo * scale;
  const float lerp = src - std::floor(src);
  const std::int64_t lo = std::max<std::int64_t>(static_cast<std::int64_t>(std::floor(src)), 0);
  const std::int64_t hi = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(src)), in - 1);
  return {{lo, 1.0L - static_cast<long double>(lerp)}, {hi, static_cast<long double>(lerp)}};
}

struct ResizeCase {
  bool align_corners, half_pixel;
};

ResizeCase resize_case(const KernelContext& ctx) {
  const ResizeCase rc{ctx.attrs().get_or<bool>("align_corners", false), ctx.attrs().get_or<bool>("half_pixel_centers", false)};
  STRATA_CHECK(!(rc.align_corners && rc.half_pixel), BackendError, "ref kernel ", ctx.op_name(),
               ": half_pixel_centers and align_corners both set");
  return rc;
}

// Forward (grad = false): out [N, OH, OW, C] from x [N, H, W, C]. Backward: dx [N, H, W, C]
// from dy [N, OH, OW, C].
template <class T>
void resize(KernelContext& ctx, const Dims& xd, const Dims& yd, bool bilinear, bool grad) {
  const ResizeCase rc = resize_case(ctx);
  STRATA_CHECK(xd.size() == 4 && yd.size() == 4 && xd[0] == yd[0] && xd[3] == yd[3] && yd[1] > 0 && yd[2] > 0,
               BackendError, "ref kernel ", ctx.op_name(), ": images ", Shape(xd).to_string(), " and resized ",
               Shape(yd).to_string(), " do not fit");
  check_out_dims(ctx, 0, grad ? xd : yd);
  const T* src = in<T>(ctx, 0);
  std::vector<long double> acc(static_cast<std::size_t>(num_elements(grad ? xd : yd)), 0);
  for (std::int64_t n = 0; n < yd[0]; ++n)
    for (std::int64_t y = 0; y < yd[1]; ++y)
      for (std::int64_t x = 0; x < yd[2]; ++x)
        for (const Tap& ty : resize_taps(y, xd[1], yd[1], bilinear, rc.align_corners, rc.half_pixel))
          for (const Tap& tx : resize_taps(x, xd[2], yd[2], bilinear, rc.align_corners, rc.half_pixel))
            for (std::int64_t c = 0; c < yd[3]; ++c) {
              const long double w = ty.weight * tx.weight;
              if (grad) {
                acc[static_cast<std::size_t>(at4(xd, n, ty.index, tx.index, c))] +=
                    w * static_cast<long double>(src[at4(yd, n, y, x, c)]);
              } else {
                acc[static_cast<std::size_t>(at4(yd, n, y, x, c))] +=
                    w * static_cast<long double>(src[at4(xd, n, ty.index, tx.index, c)]);
              }
            }
  store(out<T>(ctx, 0), acc);
}

Dims resized_dims(const KernelContext& ctx, const Dims& images, std::size_t size_input) {
  const Dims size = host_ints(ctx, size_input);
  STRATA_CHECK(images.size() == 4 && size.size() == 2, BackendError, "ref kernel ", ctx.op_name(), ": images ",
               Shape(images).to_string(), ", size ", Shape(size).to_string());
  return {images[0], size[0], size[1], images[3]};
}

// ---- random ------------------------------------------------------------------------------

enum class Distribution { kNormal, kUniform, kTruncatedNormal };

// Element i is a pure function of (seed, seed2, i) through plugin/philox.hpp (OPS.md).
template <class T>
void random_values(KernelContext& ctx, Distribution dist) {
  check_num_inputs(ctx, 1);
  check_out_dims(ctx, 0, host_ints(ctx, 0));
  const std::int64_t seed = ctx.attrs().get_or<std::int64_t>("seed", 0);
  const std::int64_t seed2 = ctx.attrs().get_or<std::int64_t>("seed2", 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.output_meta(0).shape.num_elements();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto index = static_cast<std::uint64_t>(i);
    switch (dist) {
      case Distribution::kUniform:
        if constexpr (std::is_same_v<T, float>) {
          o[i] = philox::uniform_float(seed, seed2, index);
        } else {
          o[i] = philox::uniform_double(seed, seed2, index);
        }
        break;
      case Distribution::kNormal: o[i] = static_cast<T>(philox::normal(seed, seed2, index)); break;
      case Distribution::kTruncatedNormal: o[i] = static_cast<T>(philox::truncated_normal(seed, seed2, index)); break;
    }
  }
}

// ---- fused optimizer updates (runtime/src/ops/defs_optimizer.cpp) --------------------------
// In long double from the formulas, element by element: the oracle for backends' fused kernels.

template <class T>
long double scalar_in(KernelContext& ctx, std::size_t i) {
  STRATA_CHECK(num_elements(in_dims(ctx, i)) == 1, BackendError, ctx.op_name(), ": input ", i, " must be a scalar");
  return static_cast<long double>(in<T>(ctx, i)[0]);
}

template <class T>
void apply_adam(KernelContext& ctx) {
  check_num_inputs(ctx, 10);
  const Dims& d = in_dims(ctx, 0);
  for (std::size_t i : {1u, 2u, 9u}) check_same_dims(ctx, i, 0);
  for (std::size_t i = 0; i < 3; ++i) check_out_dims(ctx, i, d);
  const long double b1p = scalar_in<T>(ctx, 3), b2p = scalar_in<T>(ctx, 4), lr = scalar_in<T>(ctx, 5);
  const long double b1 = scalar_in<T>(ctx, 6), b2 = scalar_in<T>(ctx, 7), eps = scalar_in<T>(ctx, 8);
  const bool nesterov = ctx.attrs().get_or<bool>("use_nesterov", false);
  const long double lr_t = lr * std::sqrt(1 - b2p) / (1 - b1p);
  const T *var = in<T>(ctx, 0), *m = in<T>(ctx, 1), *v = in<T>(ctx, 2), *g = in<T>(ctx, 9);
  T *new_var = out<T>(ctx, 0), *new_m = out<T>(ctx, 1), *new_v = out<T>(ctx, 2);
  const std::int64_t n = num_elements(d);
  for (std::int64_t i = 0; i < n; ++i) {
    const long double gi = g[i];
    const long double mi = m[i] + (gi - m[i]) * (1 - b1);
    const long double vi = v[i] + (gi * gi - v[i]) * (1 - b2);
    const long double step = nesterov ? mi * b1 + gi * (1 - b1) : mi;
    new_m[i] = static_cast<T>(mi);
    new_v[i] = static_cast<T>(vi);
    new_var[i] = static_cast<T>(var[i] - step * lr_t / (std::sqrt(vi) + eps));
  }
}

template <class T>
void apply_keras_momentum(KernelContext& ctx) {
  check_num_inputs(ctx, 5);
  const Dims& d = in_dims(ctx, 0);
  for (std::size_t i : {1u, 3u}) check_same_dims(ctx, i, 0);
  for (std::size_t i = 0; i < 2; ++i) check_out_dims(ctx, i, d);
  const long double lr = scalar_in<T>(ctx, 2), momentum = scalar_in<T>(ctx, 4);
  const bool nesterov = ctx.attrs().get_or<bool>("use_nesterov", false);
  const T *var = in<T>(ctx, 0), *accum = in<T>(ctx, 1), *g = in<T>(ctx, 3);
  T *new_var = out<T>(ctx, 0), *new_accum = out<T>(ctx, 1);
  const std::int64_t n = num_elements(d);
  for (std::int64_t i = 0; i < n; ++i) {
    const long double ai = accum[i] * momentum - g[i] * lr;
    new_accum[i] = static_cast<T>(ai);
    new_var[i] = static_cast<T>(var[i] + (nesterov ? ai * momentum - g[i] * lr : ai));
  }
}


// The Keras updates (strata.Keras*, runtime/src/ops/defs_optimizer.cpp) in long double:
// inputs the variable, `slots` slots, the scalars, the gradient last.
template <class T, class F>
void keras_update(KernelContext& ctx, std::size_t slots, F f) {
  const std::size_t n_in = ctx.num_inputs();
  const Dims& d = in_dims(ctx, 0);
  for (std::size_t i = 1; i <= slots; ++i) check_same_dims(ctx, i, 0);
  check_same_dims(ctx, n_in - 1, 0);
  std::vector<long double> s;
  for (std::size_t k = slots + 1; k + 1 < n_in; ++k) s.push_back(scalar_in<T>(ctx, k));
  std::vector<const T*> x;
  for (std::size_t i = 0; i <= slots; ++i) x.push_back(in<T>(ctx, i));
  const T* g = in<T>(ctx, n_in - 1);
  std::vector<T*> o;
  for (std::size_t i = 0; i <= slots; ++i) {
    check_out_dims(ctx, i, d);
    o.push_back(out<T>(ctx, i));
  }
  const std::int64_t n = num_elements(d);
  std::vector<long double> now(slots + 1), next(slots + 1);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k <= slots; ++k) now[k] = x[k][i];
    f(now, static_cast<long double>(g[i]), s, next);
    for (std::size_t k = 0; k <= slots; ++k) o[k][i] = static_cast<T>(next[k]);
  }
}

using LD = std::vector<long double>;

long double max_nan(long double a, long double b) { return a != a ? a : (b != b ? b : std::max(a, b)); }
long double min_nan(long double a, long double b) { return a != a ? a : (b != b ? b : std::min(a, b)); }

template <class T>
void keras_adam(KernelContext& ctx) {
  const bool amsgrad = ctx.attrs().get_or<bool>("amsgrad", false);
  keras_update<T>(ctx, amsgrad ? 3 : 2, [amsgrad](const LD& x, long double g, const LD& s, LD& y) {
    const long double alpha = s[0] * s[1] / s[2];
    y[1] = x[1] + (g - x[1]) * s[3];
    y[2] = x[2] + (g * g - x[2]) * s[4];
    long double v = y[2];
    if (amsgrad) v = y[3] = max_nan(x[3], y[2]);
    y[0] = x[0] - y[1] * alpha / (std::sqrt(v) + s[5]);
  });
}

template <class T>
void keras_rmsprop(KernelContext& ctx) {
  const bool centered = ctx.attrs().get_or<bool>("centered", false);
  const bool use_momentum = ctx.attrs().get_or<bool>("use_momentum", false);
  const std::size_t slots = 1 + (centered ? 1 : 0) + (use_momentum ? 1 : 0);
  keras_update<T>(ctx, slots, [centered, use_momentum](const LD& x, long double g, const LD& s, LD& y) {
    y[1] = x[1] * s[1] + g * g * s[2];
    long double d = y[1] + s[4];
    if (centered) {
      y[2] = x[2] * s[1] + g * s[2];
      d = y[1] - y[2] * y[2] + s[4];
    }
    const long double inc = s[0] * g / std::sqrt(d);
    if (use_momentum) {
      const std::size_t k = centered ? 3 : 2;
      y[k] = x[k] * s[3] + inc;
      y[0] = x[0] - y[k];
    } else {
      y[0] = x[0] - inc;
    }
  });
}

template <class T>
void keras_adagrad(KernelContext& ctx) {
  keras_update<T>(ctx, 1, [](const LD& x, long double g, const LD& s, LD& y) {
    y[1] = x[1] + g * g;
    y[0] = x[0] - s[0] * g / std::sqrt(y[1] + s[1]);
  });
}

template <class T>
void keras_adadelta(KernelContext& ctx) {
  keras_update<T>(ctx, 2, [](const LD& x, long double g, const LD& s, LD& y) {
    y[1] = x[1] * s[1] + g * s[2] * g;
    const long double delta = -std::sqrt(x[2] + s[3]) * g / std::sqrt(y[1] + s[3]);
    y[2] = x[2] * s[1] + delta * s[2] * delta;
    y[0] = x[0] + s[0] * delta;
  });
}

template <class T>
void keras_adamax(KernelContext& ctx) {
  keras_update<T>(ctx, 2, [](const LD& x, long double g, const LD& s, LD& y) {
    y[1] = x[1] + (g - x[1]) * s[2];
    y[2] = max_nan(x[2] * s[3], std::fabs(g));
    y[0] = x[0] - s[0] * y[1] / (s[1] * (y[2] + s[4]));
  });
}

template <class T>
void keras_nadam(KernelContext& ctx) {
  keras_update<T>(ctx, 2, [](const LD& x, long double g, const LD& s, LD& y) {
    y[1] = x[1] + (g - x[1]) * s[1];
    y[2] = x[2] + (g * g - x[2]) * s[2];
    const long double m_hat = s[3] * y[1] / s[4] + s[5] * g / s[6];
    y[0] = x[0] - m_hat * s[0] / (std::sqrt(y[2] / s[7]) + s[8]);
  });
}

template <class T>
void keras_ftrl(KernelContext& ctx) {
  keras_update<T>(ctx, 2, [](const LD& x, long double g, const LD& s, LD& y) {
    const long double lr = s[0], power = s[1], l1 = s[2];
    const long double l2_reg = s[3] + s[4] / (lr * 2);
    const long double grad = g + x[0] * s[5];
    y[1] = x[1] + g * g;
    const long double pa = std::pow(y[1], power);
    y[2] = x[2] + (grad - (pa - std::pow(x[1], power)) / lr * x[0]);
    y[0] = (min_nan(max_nan(y[2], -l1), l1) - y[2]) / (pa / lr + l2_reg * 2);
  });
}

}  // namespace

void register_nn_kernels(Registrar& r) {
  add_f(r, "ResourceApplyAdam", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { apply_adam<T>(ctx); };
  });
  add_f(r, "ResourceApplyKerasMomentum", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { apply_keras_momentum<T>(ctx); };
  });
  add_f(r, "strata.KerasAdam", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_adam<T>(ctx); };
  });
  add_f(r, "strata.KerasRMSprop", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_rmsprop<T>(ctx); };
  });
  add_f(r, "strata.KerasAdagrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_adagrad<T>(ctx); };
  });
  add_f(r, "strata.KerasAdadelta", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_adadelta<T>(ctx); };
  });
  add_f(r, "strata.KerasAdamax", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_adamax<T>(ctx); };
  });
  add_f(r, "strata.KerasNadam", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_nadam<T>(ctx); };
  });
  add_f(r, "strata.KerasFtrl", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { keras_ftrl<T>(ctx); };
  });
  add_n(r, "MatMul", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { matmul<T>(ctx); };
  });
  add_f(r, "BatchMatMulV2", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { batch_matmul<T>(ctx); };
  });
  add_f(r, "BiasAdd", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { bias_add<T>(ctx); };
  });
  add_f(r, "BiasAddGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { bias_add_grad<T>(ctx); };
  });
  add_f(r, "Softmax", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { softmax<T>(ctx, SoftmaxKind::kSoftmax); };
  });
  add_f(r, "LogSoftmax", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { softmax<T>(ctx, SoftmaxKind::kLogSoftmax); };
  });
  add_f(r, "SoftmaxGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { softmax_grad<T>(ctx); };
  });
  add_f(r, "Conv2D", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { conv2d<T>(ctx); };
  });
  add_f(r, "Conv2DBackpropInput", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { conv2d_backprop_input<T>(ctx); };
  });
  add_f(r, "Conv2DBackpropFilter", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { conv2d_backprop_filter<T>(ctx); };
  });
  add_f(r, "DepthwiseConv2dNative", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { depthwise<T>(ctx); };
  });
  add_f(r, "DepthwiseConv2dNativeBackpropInput", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { depthwise_backprop_input<T>(ctx); };
  });
  add_f(r, "DepthwiseConv2dNativeBackpropFilter", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { depthwise_backprop_filter<T>(ctx); };
  });
  add_f(r, "MaxPool", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { max_pool<T>(ctx); };
  });
  add_f(r, "MaxPoolGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { max_pool_grad<T>(ctx); };
  });
  add_f(r, "AvgPool", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { avg_pool<T>(ctx); };
  });
  add_f(r, "AvgPoolGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { avg_pool_grad<T>(ctx); };
  });
  for (const bool bilinear : {true, false}) {
    add_f(r, bilinear ? "ResizeBilinear" : "ResizeNearestNeighbor", [bilinear](auto t) {
      using T = typename decltype(t)::type;
      return [bilinear](KernelContext& ctx) {
        check_num_inputs(ctx, 2);
        resize<T>(ctx, in_dims(ctx, 0), resized_dims(ctx, in_dims(ctx, 0), 1), bilinear, false);
      };
    });
  }
  // ResizeBilinearGrad(grads, original_image).
  add_f(r, "ResizeBilinearGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      check_num_inputs(ctx, 2);
      resize<T>(ctx, in_dims(ctx, 1), in_dims(ctx, 0), true, true);
    };
  });
  // ResizeNearestNeighborGrad(grads, size): size is the forward input's [height, width].
  add_f(r, "ResizeNearestNeighborGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) {
      check_num_inputs(ctx, 2);
      resize<T>(ctx, resized_dims(ctx, in_dims(ctx, 0), 1), in_dims(ctx, 0), false, true);
    };
  });
}

void register_random_kernels(Registrar& r) {
  const std::pair<const char*, Distribution> ops[] = {{"RandomStandardNormal", Distribution::kNormal},
                                                      {"RandomUniform", Distribution::kUniform},
                                                      {"TruncatedNormal", Distribution::kTruncatedNormal}};
  for (const auto& [name, dist] : ops) {
    add_f(r, name, [dist = dist](auto t) {
      using T = typename decltype(t)::type;
      return [dist](KernelContext& ctx) { random_values<T>(ctx, dist); };
    });
  }
}

}  // namespace strata::testing::ref
