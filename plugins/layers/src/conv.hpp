// The shared base of the convolution layers (channels_last only): Conv1D/2D,
// DepthwiseConv1D/2D (conv.cpp), SeparableConv1D/2D (separable_conv.cpp) and
// Conv1DTranspose/2DTranspose (conv_transpose.cpp), Conv3D/Conv3DTranspose
// (volumetric.cpp). It reads and writes every key of
// tf-keras's base Conv config and of the kind's own keys, checks them the way tf-keras
// does, adds the bias after the kernels (tf-keras's weight order) and applies bias,
// activation and activity regularization after the kind's convolution. A 1-D layer
// convolves a height-1 image, the way tf.nn.convolution does it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"

namespace strata::layers {

enum class ConvKind {
  kConv,       // Conv1D/2D: filters, groups, kernel_*
  kDepthwise,  // DepthwiseConv1D/2D: depth_multiplier, depthwise_* (no filters, no kernel_*)
  kSeparable,  // SeparableConv1D/2D: filters, depth_multiplier, depthwise_*, pointwise_*
  kTranspose,  // Conv1DTranspose/2DTranspose: filters, output_padding
};

class ConvBase : public Layer {
 public:
  void build(const std::vector<Shape>& shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& context) const override;
  Config get_config() const override;

 protected:
  // rank: 1, 2 or 3 spatial dimensions (3: Conv3D/Conv3DTranspose, volumetric.cpp).
  // Throws ValueError/FormatError naming the layer for a
  // config tf-keras refuses.
  ConvBase(std::string class_name, const Config& c, std::size_t rank, ConvKind kind);

  // Adds the kernel weight(s) for inputs of `channels` channels; returns the number of
  // output channels (the bias size).
  virtual std::int64_t build_kernels(std::int64_t channels) = 0;
  // The convolution of x (rank + 2 dimensions, channels last) with the kernels, before
  // bias and activation.
  virtual Tensor convolve(const Tensor& x) const = 0;

  // The geometry as the 2-D ops take it: a 1-D layer's height axis has stride and
  // dilation 1.
  std::pair<std::int64_t, std::int64_t> strides_2d() const;
  std::pair<std::int64_t, std::int64_t> dilations_2d() const;
  Padding op_padding() const { return padding_ == "same" ? Padding::kSame : Padding::kValid; }
  // x with causal padding applied (rank 1, padding "causal") and, for rank 1, a height
  // axis of 1 inserted; kernels of rank 1 get a leading axis of 1 likewise.
  Tensor to_2d_input(Tensor x) const;
  Tensor to_2d_kernel(const Tensor& kernel) const;

  std::size_t rank_;
  ConvKind kind_;
  std::int64_t filters_ = 0, depth_multiplier_ = 1, groups_ = 1;
  std::vector<std::int64_t> kernel_size_, strides_, dilation_rate_;
  std::optional<std::vector<std::int64_t>> output_padding_;
  std::string padding_, data_format_;
  std::shared_ptr<Activation> activation_;
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, depthwise_initializer_, pointwise_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> kernel_regularizer_, depthwise_regularizer_, pointwise_regularizer_, bias_regularizer_,
      activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, depthwise_constraint_, pointwise_constraint_, bias_constraint_;
  Variable bias_;
};

}  // namespace strata::layers
