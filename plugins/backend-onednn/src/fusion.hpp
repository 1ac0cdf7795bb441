// Shared by the fused kernels (fusion.cpp: _FusedMatMul; conv.cpp: _FusedConv2D).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/attrs.hpp"

namespace strata {
class KernelContext;
}

namespace strata::onednn {

// The oneDNN eltwise algorithm (and alpha) of an activation op; nullopt when none fits.
std::optional<std::pair<dnnl::algorithm, float>> eltwise_of(std::string_view op);
// Checks fused_ops ([BiasAdd] or [BiasAdd, activation]) and returns the activation's
// post-op, if any; BackendError naming `op` otherwise.
std::optional<std::pair<dnnl::algorithm, float>> fused_activation(std::string_view op, const Attrs& attrs);
// Primitive attributes (user scratchpad) with the activation as an eltwise post-op.
dnnl::primitive_attr fused_attr(const std::optional<std::pair<dnnl::algorithm, float>>& act);

// _FusedConv2D and _FusedDepthwiseConv2dNative (float32, NHWC): the convolution + BiasAdd
// (+ activation) as one primitive.
void fused_conv2d(KernelContext& ctx);
void fused_conv2d_max_pool(KernelContext& ctx);

}  // namespace strata::onednn
