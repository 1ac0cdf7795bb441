// EinsumDense (tf-keras 2.17's keras.layers.EinsumDense), declared here because
// MultiHeadAttention builds its query/key/value/output projections from it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace strata::layers {

class EinsumDense final : public Layer {
 public:
  // Reads tf-keras's config keys; ValueError naming the layer for an equation of a form
  // tf-keras refuses or bias axes the output does not have.
  explicit EinsumDense(const Config& config);
  void build(const std::vector<Shape>& shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Config get_config() const override;

 private:
  struct Analysis {
    std::vector<std::int64_t> kernel;
    std::optional<std::vector<std::int64_t>> bias;
  };
  Analysis analyze(const std::optional<Shape>& input) const;

  std::string equation_;
  std::vector<std::int64_t> partial_output_shape_;
  std::optional<std::string> bias_axes_;
  std::shared_ptr<Activation> activation_;
  KernelBiasSettings kernel_bias_;
  Variable kernel_, bias_;
};

// An 'output_shape' as tf-keras accepts it: one integer or a list of them, each positive,
// or null (an unknown dimension) when `allow_unknown`. ValueError naming `layer` otherwise.
std::vector<std::int64_t> read_output_shape(const Config& value, const Layer& layer, bool allow_unknown);

}  // namespace strata::layers
