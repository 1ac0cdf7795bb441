// The inference graph pass "onednn.fold_batch_norm": a convolution followed by a
// per-channel affine map (BatchNormalization in inference traces as x * inv + shift, inv and
// shift of shape [1, 1, 1, C] computed from its Variables), with or without a BiasAdd
// between, becomes the convolution of the filter scaled per output channel plus one BiasAdd:
//   (conv(x, W) + b) * s + t  =  conv(x, W * s) + (b * s + t)
// as TensorFlow's grappler and ONNX Runtime fold it. The scaled filter and the bias are
// computed on each run from the values read then (assigned weights are seen); the
// activation after the BiasAdd then fuses with the convolution (fusion.cpp). Rounding
// differs from the unfolded ops by a few ulps of the products (within the fused ops'
// tolerance). It runs before "onednn.fuse_matmul_bias_activation".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "kernels.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"

namespace strata::onednn {
namespace {

// True when `t` is float32 of shape [C] or [1, ..., 1, C] with C = `channels`.
bool per_channel(const Tensor& t, std::int64_t channels) {
  if (t.dtype() != DType::kFloat32 || !t.shape().is_fully_defined() || t.shape().rank() == 0) return false;
  const Dims& d = t.shape().dims();
  for (std::size_t i = 0; i + 1 < d.size(); ++i) {
    if (d[i] != 1) return false;
  }
  return d.back() == channels;
}

bool nhwc(const GraphNode& n) {
  return n.attrs.get_or<std::string>("data_format", "NHWC") == "NHWC";
}

// A float32 NHWC Conv2D or DepthwiseConv2dNative with a known filter and output channels.
bool foldable_conv(const GraphNode& n) {
  if ((n.op != "Conv2D" && n.op != "DepthwiseConv2dNative") || n.inputs.size() != 2 || n.outputs.size() != 1 ||
      !nhwc(n) || n.outputs[0].dtype != DType::kFloat32) {
    return false;
  }
  const Shape& out = n.outputs[0].shape;
  const Shape& filter = n.inputs[1].shape();
  if (!out.has_known_rank() || out.rank() != 4 || out.dims()[3] == Shape::kUnknown || !filter.is_fully_defined() ||
      filter.rank() != 4 || n.inputs[1].dtype() != DType::kFloat32) {
    return false;
  }
  const Dims& f = filter.dims();
  return (n.op == "Conv2D" ? f[3] : f[2] * f[3]) == out.dims()[3];
}

Graph fold_batch_norm(const Graph& graph) {
  return rewrite_graph(
      graph, [](const GraphNode& node, const RewriteContext& ctx) -> std::optional<std::vector<Tensor>> {
        if (node.op != "AddV2" || node.inputs.size() != 2 || node.outputs.size() != 1) return std::nullopt;
        const GraphNode* scale_node = node.inputs[0].node().get();
        if (scale_node == nullptr || scale_node->op != "Mul" || scale_node->inputs.size() != 2 ||
            ctx.uses(*scale_node) != 1) {
          return std::nullopt;
        }
        const GraphNode* conv = scale_node->inputs[0].node().get();
        const GraphNode* bias = nullptr;
        if (conv != nullptr && conv->op == "BiasAdd" && conv->inputs.size() == 2 && nhwc(*conv) &&
            ctx.uses(*conv) == 1) {
          bias = conv;
          conv = conv->inputs[0].node().get();
        }
        if (conv == nullptr || !foldable_conv(*conv) || ctx.uses(*conv) != 1) return std::nullopt;
        const std::int64_t channels = conv->outputs[0].shape.dims()[3];
        if (!per_channel(scale_node->inputs[1], channels) || !per_channel(node.inputs[1], channels) ||
            (bias != nullptr && !per_channel(bias->inputs[1], channels))) {
          return std::nullopt;
        }
        // No broadcasting may grow the result beyond the convolution's output.
        if (!(node.outputs[0].shape == conv->outputs[0].shape) || node.outputs[0].dtype != DType::kFloat32) {
          return std::nullopt;
        }
        const Tensor scale = reshape(ctx.value_of(scale_node->inputs[1]), Shape{channels});
        Tensor shift = reshape(ctx.value_of(node.inputs[1]), Shape{channels});
        if (bias != nullptr) shift = add(mul(reshape(ctx.value_of(bias->inputs[1]), Shape{channels}), scale), shift);
        // Conv2D's filter is [kh, kw, in, C]; DepthwiseConv2dNative's [kh, kw, in, multiplier]
        // with C = in * multiplier, channel c = i * multiplier + m.
        const Dims& f = conv->inputs[1].shape().dims();
        const Tensor filter_scale = conv->op == "Conv2D" ? scale : reshape(scale, Shape{f[2], f[3]});
        const Tensor filter = mul(ctx.value_of(conv->inputs[1]), filter_scale);
        const Tensor y = execute1(conv->op, {ctx.value_of(conv->inputs[0]), filter}, conv->attrs);
        return std::vector<Tensor>{bias_add(y, shift)};
      });
}

}  // namespace

void register_fold_batch_norm(Registrar&) {
  register_graph_pass({"onednn.fold_batch_norm", std::string(kDevice), true, fold_batch_norm});
}

}  // namespace strata::onednn
