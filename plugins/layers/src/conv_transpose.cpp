// Conv1DTranspose and Conv2DTranspose (channels_last): the gradient of a convolution with
// respect to its input (TensorFlow's Conv2DBackpropInput), whose output length is Keras's
// conv_utils.deconv_output_length. The kernel is (kernel_size..., filters, input
// channels), tf-keras's layout; Conv1DTranspose runs over a height-1 image.
#include "conv.hpp"

namespace strata::layers {
namespace {

class ConvTranspose : public ConvBase {
 protected:
  ConvTranspose(std::string class_name, const Config& c, std::size_t rank)
      : ConvBase(std::move(class_name), c, rank, ConvKind::kTranspose) {}

  std::int64_t build_kernels(std::int64_t channels) override {
    std::vector<std::int64_t> kernel_shape = kernel_size_;
    kernel_shape.push_back(filters_);
    kernel_shape.push_back(channels);
    // Sizes from a file: a kernel too large to count is refused before any allocation.
    checked_element_count(kernel_shape, ConfigReader::subject_of(*this) + ": the kernel");
    kernel_ =
        add_weight("kernel", Shape(kernel_shape), kernel_initializer_, true, kernel_regularizer_, kernel_constraint_);
    return filters_;
  }

  Tensor convolve(const Tensor& input) const override {
    const Tensor x = to_2d_input(input);
    const auto& dims = x.shape().dims();
    std::vector<std::int64_t> sizes{dims[0], 1, 1, filters_};
    std::int64_t offsets[2] = {0, 0};
    const std::string what = ConfigReader::subject_of(*this) + ": the output length";
    for (std::size_t i = 0; i < rank_; ++i) {
      const std::size_t axis = i + 3 - rank_;  // a 1-D layer's length is the width
      const std::optional<std::int64_t> output_padding =
          output_padding_ ? std::optional<std::int64_t>((*output_padding_)[i]) : std::nullopt;
      sizes[axis] = deconv_output_length(dims[axis], kernel_size_[i], padding_, output_padding, strides_[i],
                                         dilation_rate_[i], what);
      // The length is linear in the input's: length · stride + offset, for a size known
      // only when the graph runs (a fully convolutional model of any input size).
      offsets[axis - 1] = deconv_output_length(1, kernel_size_[i], padding_, output_padding, strides_[i],
                                               dilation_rate_[i], what) -
                          strides_[i];
    }
    const Tensor y = conv2d_transpose(x, to_2d_kernel(read(kernel_)), sizes, strides_2d(), op_padding(), dilations_2d(),
                                      {offsets[0], offsets[1]});
    return rank_ == 1 ? squeeze(y, {1}) : y;
  }

 private:
  Variable kernel_;
};

class Conv1DTranspose final : public ConvTranspose {
 public:
  explicit Conv1DTranspose(const Config& c) : ConvTranspose("Conv1DTranspose", c, 1) {}
};
class Conv2DTranspose final : public ConvTranspose {
 public:
  explicit Conv2DTranspose(const Config& c) : ConvTranspose("Conv2DTranspose", c, 2) {}
};

}  // namespace

void register_conv_transpose_layers(Registrar& registrar) {
  register_layer<Conv1DTranspose>(registrar, "Conv1DTranspose");
  register_layer<Conv2DTranspose>(registrar, "Conv2DTranspose");
  // tf-keras's aliases (it registers no Deconvolution2D/Deconv2D).
  register_layer<Conv1DTranspose>(registrar, "Convolution1DTranspose");
  register_layer<Conv2DTranspose>(registrar, "Convolution2DTranspose");
}

}  // namespace strata::layers
