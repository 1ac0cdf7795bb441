// SeparableConv1D and SeparableConv2D (channels_last): a depthwise convolution with
// depth_multiplier kernels per channel, then a 1x1 pointwise convolution to `filters`
// channels, as tf.nn.separable_conv2d computes it. The weights are tf-keras's, in its order:
// depthwise_kernel, pointwise_kernel, bias.
#include "conv.hpp"

namespace strata::layers {
namespace {

class SeparableConv : public ConvBase {
 protected:
  SeparableConv(std::string class_name, const Config& c, std::size_t rank)
      : ConvBase(std::move(class_name), c, rank, ConvKind::kSeparable) {}

  std::int64_t build_kernels(std::int64_t channels) override {
    const std::string subject = ConfigReader::subject_of(*this);
    std::vector<std::int64_t> depthwise_shape = kernel_size_;
    depthwise_shape.push_back(channels);
    depthwise_shape.push_back(depth_multiplier_);
    std::vector<std::int64_t> pointwise_shape(rank_, 1);
    pointwise_shape.push_back(checked_mul(channels, depth_multiplier_, subject + ": the depthwise output channels"));
    pointwise_shape.push_back(filters_);
    // Sizes from a file: kernels too large to count are refused before any allocation.
    checked_element_count(depthwise_shape, subject + ": the depthwise kernel");
    checked_element_count(pointwise_shape, subject + ": the pointwise kernel");
    depthwise_kernel_ = add_weight("depthwise_kernel", Shape(depthwise_shape), depthwise_initializer_, true,
                                   depthwise_regularizer_, depthwise_constraint_);
    pointwise_kernel_ = add_weight("pointwise_kernel", Shape(pointwise_shape), pointwise_initializer_, true,
                                   pointwise_regularizer_, pointwise_constraint_);
    return filters_;
  }

  Tensor convolve(const Tensor& input) const override {
    const Tensor depthwise = depthwise_conv2d(to_2d_input(input), to_2d_kernel(read(depthwise_kernel_)), strides_2d(),
                                              op_padding(), dilations_2d());
    const Tensor y = conv2d(depthwise, to_2d_kernel(read(pointwise_kernel_)), {1, 1}, Padding::kValid, {1, 1});
    return rank_ == 1 ? squeeze(y, {1}) : y;
  }

 private:
  Variable depthwise_kernel_, pointwise_kernel_;
};

class SeparableConv1D final : public SeparableConv {
 public:
  explicit SeparableConv1D(const Config& c) : SeparableConv("SeparableConv1D", c, 1) {}
};
class SeparableConv2D final : public SeparableConv {
 public:
  explicit SeparableConv2D(const Config& c) : SeparableConv("SeparableConv2D", c, 2) {}
};

}  // namespace

void register_separable_conv_layers(Registrar& registrar) {
  register_layer<SeparableConv1D>(registrar, "SeparableConv1D");
  register_layer<SeparableConv2D>(registrar, "SeparableConv2D");
  // tf-keras's aliases.
  register_layer<SeparableConv1D>(registrar, "SeparableConvolution1D");
  register_layer<SeparableConv2D>(registrar, "SeparableConvolution2D");
}

}  // namespace strata::layers
