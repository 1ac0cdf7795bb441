// A direct float32 NHWC convolution for single-channel inputs (a network's first layer on
// grey-scale images), where oneDNN 2.6's implementations are slow: its brgemm convolution
// of a 28x28x1 batch of 1024 with eight 3x3 filters takes ~6 ms of CPU time, its gemm
// convolution ~8.5 ms, this loop ~2 ms (docs/PERFORMANCE.md). The loop handles any channel
// count, but with 2 or 3 input channels oneDNN was as fast or faster, so it is used for one.
//
// y[n, oh, ow, o] = act(b[o] + Σ_{kh, kw, c} x[n, ih, iw, c] · f[kh, kw, c, o]), the sum in
// the order kh, kw, c (padding taps skipped), in float32 without FMA contraction, then the
// bias, then the activation: within the convolutions' tolerance of oneDNN's result (which
// associates the sum differently).
#pragma once

#include <cstdint>

#include "strata/plugin/window.hpp"

namespace strata::onednn {

// The activation applied after the bias.
enum class SmallConvActivation { kNone, kRelu, kRelu6 };

// Whether small_channel_conv is the faster choice for a forward convolution of geometry `g`
// with `oc` output channels, as measured: one input channel, a window of at most 64 taps
// and at most 32 output channels (at 32 it only ties with oneDNN). STRATA_ONEDNN_SMALL_CONV=0
// in the environment (read once) turns it off.
bool small_channel_conv_applies(const Window2D& g, std::int64_t oc);

// Runs the convolution on the calling thread's team (parallel_for over output rows).
// `bias` may be null (no bias). `f` is HWIO [kh, kw, c, oc].
void small_channel_conv(const Window2D& g, std::int64_t oc, const float* x, const float* f, const float* bias,
                        SmallConvActivation act, float* y);

// The same convolution followed by a k x k max-pooling with stride k and no padding (VALID):
// y[n, i, j, o] = max over the window of the convolution's (activated) outputs; a partial
// window at the bottom or right is dropped, as VALID pooling drops it. The convolution's
// output is computed k rows at a time and never stored whole. Exactly the unfused pair's
// values (max is exact).
void small_channel_conv_max_pool(const Window2D& g, std::int64_t oc, const float* x, const float* f, const float* bias,
                                 SmallConvActivation act, std::int64_t k, float* y);

// Whether the loop is switched on (STRATA_ONEDNN_SMALL_CONV is not "0").
bool small_channel_conv_enabled();

}  // namespace strata::onednn
