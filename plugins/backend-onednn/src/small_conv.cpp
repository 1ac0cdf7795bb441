// The direct convolution of small_conv.hpp. Compiled with -ffp-contract=off: every clone
// (dispatch.hpp) rounds as the baseline build does.
#include "small_conv.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "dispatch.hpp"
#include "dnnl_util.hpp"

namespace strata::onednn {
namespace {

// The filter packed as [tap·c][ocp] (tap = kh·kw index) with the output channels padded
// with zeros to ocp, a multiple of the block width, so every block is computed whole.
struct Packed {
  const float* w;
  const float* bias;  // ocp values, zeros past oc (and all zeros without a bias)
  std::int64_t ocp;
};

// One output row (n, oh): the taps inside the input rows (their offsets into the image and
// their filter rows), then the pixels. B output channels per block, P pixels at a time.
struct RowTaps {
  std::int64_t count = 0;
  std::int64_t offset[64];  // (ih·w + kw·dw)·c: the tap's input offset from the row's origin
  std::int64_t filter[64];  // (kh·kw_size + kw)·c: its first filter row
  std::int64_t kw_index[64];
};

// GCC / Clang vector types of B floats (the clones compile them to the widest registers
// their target has, or to several narrower ones).
template <int B>
struct VecOf;
template <>
struct VecOf<8> {
  typedef float type __attribute__((vector_size(32)));
  typedef std::int32_t mask __attribute__((vector_size(32)));
};
template <>
struct VecOf<16> {
  typedef float type __attribute__((vector_size(64)));
  typedef std::int32_t mask __attribute__((vector_size(64)));
};

// y[0, width) = act(acc + bias), on whole vectors. Relu: s > 0 ? s : 0; Relu6:
// s > 0 ? min(s, 6) : 0 (NaN becomes 0, as the scalar forms give).
template <int B>
STRATA_CPU_INLINE void store_vector(const typename VecOf<B>::type& acc, const float* bias, SmallConvActivation act, float* y,
                                    std::int64_t width) {
  using V = typename VecOf<B>::type;
  using I = typename VecOf<B>::mask;
  V b;
  std::memcpy(&b, bias, sizeof b);
  V v = acc + b;
  if (act != SmallConvActivation::kNone) {
    const V zero = V{};
    const I positive = v > zero;
    if (act == SmallConvActivation::kRelu6) {
      const V six = zero + 6.0f;
      const I below = v < six;
      v = (V)(((I)v & below) | ((I)six & ~below));
    }
    v = (V)((I)v & positive);
  }
  if (width == B) {
    std::memcpy(y, &v, sizeof v);
  } else {
    float tmp[B];
    std::memcpy(tmp, &v, sizeof v);
    for (std::int64_t j = 0; j < width; ++j) y[j] = tmp[j];
  }
}

template <int B>
STRATA_CPU_INLINE void store_block(const float* acc, const float* bias, SmallConvActivation act, float* y,
                                   std::int64_t width) {
  typename VecOf<B>::type v;
  std::memcpy(&v, acc, sizeof v);
  store_vector<B>(v, bias, act, y, width);
}

// A pixel with padding taps on the left or right: taps checked one by one.
template <int B>
STRATA_CPU_INLINE void one_pixel(const Window2D& g, std::int64_t oc, const float* xn, const float* wb,
                                 const RowTaps& taps, std::int64_t ocp, const float* bias, SmallConvActivation act,
                                 float* yr, std::int64_t ow, std::int64_t o0, std::int64_t width) {
  const std::int64_t C = g.c;
  float acc[B] = {};
  const std::int64_t iw0 = ow * g.sw - g.pad_left;
  for (std::int64_t t = 0; t < taps.count; ++t) {
    const std::int64_t iw = iw0 + taps.kw_index[t] * g.dw;
    if (iw < 0 || iw >= g.w) continue;
    const float* xt = xn + taps.offset[t] + iw0 * C;
    const float* wt = wb + taps.filter[t] * ocp;
    for (std::int64_t c = 0; c < C; ++c) {
      const float xv = xt[c];
      for (int j = 0; j < B; ++j) acc[j] += xv * wt[c * ocp + j];
    }
  }
  store_block<B>(acc, bias, act, yr + ow * oc + o0, width);
}

template <int B, int P>
STRATA_CPU_INLINE void conv_rows(const Window2D& g, std::int64_t oc, const float* x, const Packed& pk,
                                 SmallConvActivation act, float* y, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t C = g.c, ocp = pk.ocp;
  // Output columns whose whole window lies inside the input columns.
  std::int64_t ow_lo = 0, ow_hi = 0;
  {
    const std::int64_t span = (g.kw - 1) * g.dw;
    ow_lo = g.pad_left <= 0 ? 0 : (g.pad_left + g.sw - 1) / g.sw;
    const std::int64_t last = g.w - 1 + g.pad_left - span;  // ow·sw ≤ last
    ow_hi = last < 0 ? 0 : std::min(g.ow, last / g.sw + 1);
    if (ow_hi < ow_lo) ow_hi = ow_lo;
  }
  RowTaps taps;
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const std::int64_t n = r / g.oh, oh = r % g.oh;
    taps.count = 0;
    for (std::int64_t kh = 0; kh < g.kh; ++kh) {
      const std::int64_t ih = g.row(oh, kh);
      if (ih < 0 || ih >= g.h) continue;
      for (std::int64_t kw = 0; kw < g.kw; ++kw) {
        taps.offset[taps.count] = (ih * g.w + kw * g.dw) * C;
        taps.filter[taps.count] = (kh * g.kw + kw) * C;
        taps.kw_index[taps.count] = kw;
        ++taps.count;
      }
    }
    const float* xn = x + n * g.h * g.w * C;
    float* yr = y + (r - row_begin) * g.ow * oc;  // y holds the rows from row_begin
    for (std::int64_t o0 = 0; o0 < ocp; o0 += B) {
      const std::int64_t width = std::min<std::int64_t>(B, oc - o0);
      const float* wb = pk.w + o0;
      std::int64_t ow = 0;
      for (; ow < ow_lo; ++ow) one_pixel<B>(g, oc, xn, wb, taps, ocp, pk.bias + o0, act, yr, ow, o0, width);
      for (; ow + P <= ow_hi; ow += P) {
        using V = typename VecOf<B>::type;
        V acc[P];
        for (int p = 0; p < P; ++p) acc[p] = V{};
        const float* xb = xn + (ow * g.sw - g.pad_left) * C;
        const std::int64_t step = g.sw * C;
        for (std::int64_t t = 0; t < taps.count; ++t) {
          const float* xt = xb + taps.offset[t];
          const float* wt = wb + taps.filter[t] * ocp;
          for (std::int64_t c = 0; c < C; ++c) {
            V wv;
            std::memcpy(&wv, wt + c * ocp, sizeof wv);
            for (int p = 0; p < P; ++p) acc[p] += xt[p * step + c] * wv;
          }
        }
        for (int p = 0; p < P; ++p) store_vector<B>(acc[p], pk.bias + o0, act, yr + (ow + p) * oc + o0, width);
      }
      for (; ow < g.ow; ++ow) one_pixel<B>(g, oc, xn, wb, taps, ocp, pk.bias + o0, act, yr, ow, o0, width);
    }
  }
}

STRATA_CPU_CLONES void conv_rows_8(const Window2D& g, std::int64_t oc, const float* x, const Packed& pk,
                                   SmallConvActivation act, float* y, std::int64_t begin, std::int64_t end) {
  conv_rows<8, 8>(g, oc, x, pk, act, y, begin, end);
}
STRATA_CPU_CLONES void conv_rows_16(const Window2D& g, std::int64_t oc, const float* x, const Packed& pk,
                                    SmallConvActivation act, float* y, std::int64_t begin, std::int64_t end) {
  conv_rows<16, 4>(g, oc, x, pk, act, y, begin, end);
}

bool small_conv_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("STRATA_ONEDNN_SMALL_CONV");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return enabled;
}

}  // namespace

bool small_channel_conv_applies(const Window2D& g, std::int64_t oc) {
  return small_conv_enabled() && g.c == 1 && g.kh * g.kw <= 64 && oc >= 1 && oc <= 32 && g.kh >= 1 && g.kw >= 1 &&
         g.sh >= 1 && g.sw >= 1 && g.dh >= 1 && g.dw >= 1;
}

namespace {

// The filter and bias packed for the row loops, and the rows' loop for the block width.
struct Prepared {
  std::vector<float> packed;
  Packed pk{};
  std::int64_t block = 8;
  std::int64_t work_per_row = 1;  // multiply-adds of one output row
};

Prepared prepare(const Window2D& g, std::int64_t oc, const float* f, const float* bias) {
  Prepared p;
  p.block = oc >= 16 ? 16 : 8;
  const std::int64_t ocp = (oc + p.block - 1) / p.block * p.block;
  const std::int64_t rows = g.kh * g.kw * g.c;
  p.packed.assign(static_cast<std::size_t>((rows + 1) * ocp), 0.0f);
  for (std::int64_t r = 0; r < rows; ++r) std::copy(f + r * oc, f + (r + 1) * oc, p.packed.begin() + r * ocp);
  float* packed_bias = p.packed.data() + rows * ocp;
  if (bias != nullptr) std::copy(bias, bias + oc, packed_bias);
  p.pk = Packed{p.packed.data(), packed_bias, ocp};
  p.work_per_row = std::max<std::int64_t>(1, g.ow * rows * ocp);
  return p;
}

void run_rows(const Prepared& p, const Window2D& g, std::int64_t oc, const float* x, SmallConvActivation act, float* y,
              std::int64_t begin, std::int64_t end) {
  if (p.block == 16) {
    conv_rows_16(g, oc, x, p.pk, act, y, begin, end);
  } else {
    conv_rows_8(g, oc, x, p.pk, act, y, begin, end);
  }
}

// Chunks of rows worth a thread: ~4·kGrainCheap multiply-adds.
std::int64_t grain_for(std::int64_t work_per_row) {
  return std::max<std::int64_t>(1, (4 * kGrainCheap + work_per_row - 1) / work_per_row);
}

}  // namespace

void small_channel_conv(const Window2D& g, std::int64_t oc, const float* x, const float* f, const float* bias,
                        SmallConvActivation act, float* y) {
  const Prepared p = prepare(g, oc, f, bias);
  parallel_for(g.n * g.oh, grain_for(p.work_per_row), [&](std::int64_t begin, std::int64_t end) {
    run_rows(p, g, oc, x, act, y + begin * g.ow * oc, begin, end);
  });
}

void small_channel_conv_max_pool(const Window2D& g, std::int64_t oc, const float* x, const float* f, const float* bias,
                                 SmallConvActivation act, std::int64_t k, float* y) {
  const Prepared p = prepare(g, oc, f, bias);
  const std::int64_t ph = g.oh / k, pw = g.ow / k;
  parallel_for(g.n * ph, grain_for(p.work_per_row * k), [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> rows(static_cast<std::size_t>(k * g.ow * oc));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t n = r / ph, i = r % ph;
      const std::int64_t first = n * g.oh + i * k;
      run_rows(p, g, oc, x, act, rows.data(), first, first + k);
      float* yr = y + r * pw * oc;
      for (std::int64_t j = 0; j < pw; ++j) {
        float* out = yr + j * oc;
        std::copy(rows.data() + j * k * oc, rows.data() + (j * k + 1) * oc, out);
        for (std::int64_t a = 0; a < k; ++a)
          for (std::int64_t b = a == 0 ? 1 : 0; b < k; ++b) {
            const float* v = rows.data() + (a * g.ow + j * k + b) * oc;
            for (std::int64_t o = 0; o < oc; ++o) out[o] = v[o] > out[o] ? v[o] : out[o];
          }
      }
    }
  });
}

bool small_channel_conv_enabled() {
  return small_conv_enabled();
}

}  // namespace strata::onednn
