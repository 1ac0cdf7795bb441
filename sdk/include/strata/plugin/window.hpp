// Window geometry of NHWC convolutions, pooling and transposed convolutions, as
// TensorFlow defines it: output sizes and implicit padding for SAME and VALID, with
// strides and dilation. Header-only, standard-library types only; every backend's window
// kernels and the runtime's shape inference use it, so they agree on every size.
//
//   const strata::Window2D g = strata::nhwc_window(ctx.attrs(), ctx.op_name(), in_dims(ctx, 0),
//                                                  filter[0], filter[1], strata::WindowDilation::kFromAttrs);
//   // g.oh, g.ow, g.pad_top ... g.pad_right, g.row(oh, kh), g.col(ow, kw), g.inside(ih, iw)
//
// A transposed convolution (Conv2DBackpropInput, Conv2DTranspose) runs the forward
// geometry backwards: describe the forward convolution it inverts (its input is the
// transposed convolution's output, `input_sizes`) and read the sizes from there.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/ops.hpp"
#include "strata/shape.hpp"

STRATA_API_BEGIN

namespace strata {

// Padding (kValid, kSame) is the host API's enum, strata/ops.hpp.

// The "padding" attribute of a window op (required), spelled as TensorFlow's ops spell it:
// "SAME" or "VALID", upper case; anything else is a ValueError.
inline Padding padding_attr(const Attrs& attrs) {
  const std::string p = attrs.get<std::string>("padding");
  STRATA_CHECK(p == "SAME" || p == "VALID", ValueError, "padding must be \"SAME\" or \"VALID\", got \"", p, "\"");
  return p == "SAME" ? Padding::kSame : Padding::kValid;
}

// One spatial dimension of a window op.
struct WindowDim {
  std::int64_t out = 0;         // output size
  std::int64_t pad_before = 0;  // implicit zero padding before the first input element
  std::int64_t pad_after = 0;   // and after the last one
};

// The window of size k, read every `dilation` elements (effective size (k - 1) * dilation + 1),
// moved by `stride` over an input of size `in`:
//   SAME:  out = ceil(in / stride); total padding = max((out - 1) * stride + effective - in, 0),
//          pad_before = total / 2 and the odd element after (TensorFlow's choice; a stride larger
//          than the window can need no padding at all).
//   VALID: out = ceil((in - effective + 1) / stride), no padding.
// ShapeError when k, stride or dilation is not positive, `in` is negative, or a VALID window does
// not fit the input.
inline WindowDim window_dim(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation,
                            Padding padding) {
  STRATA_CHECK(k > 0 && stride > 0 && dilation > 0, ShapeError, "window size ", k, ", stride ", stride,
               " and dilation ", dilation, " must be positive");
  STRATA_CHECK(in >= 0, ShapeError, "a window op's input size must not be negative, got ", in);
  // Sizes come from files: the effective size is checked, and the rest is arranged so
  // that no intermediate can overflow ((out - 1) * stride < in).
  std::int64_t eff = 0;
  STRATA_CHECK(!__builtin_mul_overflow(k - 1, dilation, &eff) && eff < std::numeric_limits<std::int64_t>::max(),
               ShapeError, "a window of size ", k, " with dilation ", dilation, " does not fit in a 64-bit size");
  eff += 1;
  WindowDim w;
  if (padding == Padding::kSame) {
    w.out = in == 0 ? 0 : (in - 1) / stride + 1;
    const std::int64_t total =
        std::max<std::int64_t>(w.out > 0 ? ((w.out - 1) * stride - in) + eff : eff - stride, 0);
    w.pad_before = total / 2;
    w.pad_after = total - w.pad_before;
  } else {
    STRATA_CHECK(in >= eff, ShapeError, "a VALID window of effective size ", eff, " does not fit an input of size ",
                 in);
    w.out = (in - eff) / stride + 1;
  }
  return w;
}

// Reads a 4-element NHWC attribute list (strides, ksize, dilations) as {h, w}, or
// {fallback, fallback} when it is absent; ValueError unless it is [1, h, w, 1].
inline std::pair<std::int64_t, std::int64_t> nhwc_spatial_attr(const Attrs& attrs, const char* name,
                                                               std::int64_t fallback = 1) {
  if (!attrs.has(name)) return {fallback, fallback};
  const auto v = attrs.get<std::vector<std::int64_t>>(name);
  STRATA_CHECK(v.size() == 4 && v[0] == 1 && v[3] == 1, ValueError, "attribute '", name,
               "' must be [1, h, w, 1] for NHWC data, got ", v.size(), " values");
  return {v[1], v[2]};
}

// A 2-D window op on NHWC data: input [n, h, w, c], window kh x kw, output [n, oh, ow, ...].
struct Window2D {
  std::int64_t n = 0, h = 0, w = 0, c = 0;
  std::int64_t kh = 0, kw = 0;
  std::int64_t oh = 0, ow = 0;
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

  // Input row / column that window element (kh, kw) of output (oh, ow) reads; outside
  // [0, h) x [0, w) it is padding.
  std::int64_t row(std::int64_t o, std::int64_t k) const { return o * sh + k * dh - pad_top; }
  std::int64_t col(std::int64_t o, std::int64_t k) const { return o * sw + k * dw - pad_left; }
  bool inside(std::int64_t ih, std::int64_t iw) const { return ih >= 0 && ih < h && iw >= 0 && iw < w; }
  // SAME with an even effective window pads one more element after than before.
  bool symmetric() const { return pad_top == pad_bottom && pad_left == pad_right; }
};

// Whether a window op reads the "dilations" attribute (convolutions) or has none (pooling).
enum class WindowDilation { kNone, kFromAttrs };

// The geometry of window op `op` with window kh x kw on an NHWC input of dims `input`,
// from its attributes "strides", "padding", "dilations" (when asked) and "data_format"
// (absent or "NHWC"). BackendError when the input is not rank 4 or the data format is not
// NHWC (what a kernel cannot run); ValueError / ShapeError from the helpers above.
inline Window2D nhwc_window(const Attrs& attrs, std::string_view op, const std::vector<std::int64_t>& input,
                            std::int64_t kh, std::int64_t kw, WindowDilation dilation) {
  const std::string fmt = attrs.get_or<std::string>("data_format", "NHWC");
  STRATA_CHECK(fmt == "NHWC", BackendError, "op ", op, " supports data_format NHWC (channels last) only, got ", fmt);
  STRATA_CHECK(input.size() == 4, BackendError, "op ", op, " needs a rank-4 NHWC input, got ",
               Shape(input).to_string());
  Window2D g;
  g.n = input[0];
  g.h = input[1];
  g.w = input[2];
  g.c = input[3];
  g.kh = kh;
  g.kw = kw;
  std::tie(g.sh, g.sw) = nhwc_spatial_attr(attrs, "strides");
  if (dilation == WindowDilation::kFromAttrs) std::tie(g.dh, g.dw) = nhwc_spatial_attr(attrs, "dilations");
  const Padding padding = padding_attr(attrs);
  const WindowDim wh = window_dim(g.h, kh, g.sh, g.dh, padding);
  const WindowDim ww = window_dim(g.w, kw, g.sw, g.dw, padding);
  g.oh = wh.out;
  g.ow = ww.out;
  g.pad_top = wh.pad_before;
  g.pad_bottom = wh.pad_after;
  g.pad_left = ww.pad_before;
  g.pad_right = ww.pad_after;
  return g;
}

// Pooling: the window is the "ksize" attribute, no dilation.
inline Window2D nhwc_pool_window(const Attrs& attrs, std::string_view op, const std::vector<std::int64_t>& input) {
  const auto [kh, kw] = nhwc_spatial_attr(attrs, "ksize");
  return nhwc_window(attrs, op, input, kh, kw, WindowDilation::kNone);
}

}  // namespace strata

STRATA_API_END
