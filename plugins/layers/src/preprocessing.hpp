// The preprocessing layers Rescaling and Normalization (adapt() overrides Layer::adapt).
#pragma once

#include <optional>
#include <vector>

#include "common.hpp"

namespace strata::layers {

// tf-keras's image_utils.smart_resize of NHWC `images`, whose height and width must be known:
// the largest centred box of the target's aspect ratio (its sizes computed in float32 and
// truncated, as there), resized to height x width (bilinear or nearest).
Tensor smart_resize(const Tensor& images, std::int64_t height, std::int64_t width, bool bilinear);

// Keras's Normalization: (x - mean) / max(sqrt(variance), 1e-7), or the inverse with
// invert. mean and variance come from the config, or from adapt(), which stores them
// (and the sample count) as the non-trainable weights mean, variance, count so that
// they are saved with the model.
class Normalization final : public Layer {
 public:
  explicit Normalization(const Config& config);

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Config get_config() const override;

  // Computes mean and variance of `data` over every axis but the kept ones, in batches
  // of `batch_size` samples along the first axis merged the way tf-keras merges them,
  // and assigns them (and count) to the layer's weights. Builds the layer from
  // data's shape when needed. ValueError when the layer was given mean and variance.
  // Not thread-safe: needs exclusive access, like training.
  void adapt(const Tensor& data, std::int64_t batch_size = 32) override;

 private:
  std::vector<std::int64_t> axis_;     // as configured (negative axes kept)
  std::vector<std::int64_t> keep_;     // resolved kept axes, sorted
  std::vector<std::int64_t> reduce_;   // the other axes
  std::vector<std::int64_t> broadcast_;
  Config input_mean_, input_variance_;  // null unless given
  bool invert_ = false;
  std::vector<double> fixed_mean_, fixed_variance_;  // from the config, broadcast to the kept shape
  Variable mean_, variance_, count_;
  std::optional<Shape> adapt_shape_;  // tf-keras records (None, ...) as the input shape on adapt
};

}  // namespace strata::layers
