// Losses, with Keras's semantics: call() computes one loss per sample (the mean over
// the last axis for element-wise losses), and operator() applies optional sample
// weights and the reduction (Keras's default sum_over_batch_size: the sum divided by the
// number of per-sample values).
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <string>

#include "strata/serialization.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

enum class Reduction { kSumOverBatchSize, kSum, kNone };
std::string_view reduction_name(Reduction r) noexcept;  // "sum_over_batch_size", "sum", "none"
Reduction reduction_from_name(std::string_view name);   // also "auto" = sum_over_batch_size

class Loss : public Serializable {
 public:
  // Reads name and reduction from `config`.
  Loss(std::string class_name, const Config& config, std::string default_name);
  ~Loss() override;

  std::string class_name() const override { return class_name_; }
  const std::string& name() const noexcept { return name_; }
  Reduction reduction() const noexcept { return reduction_; }

  // Per-sample losses.
  virtual Tensor call(const Tensor& y_true, const Tensor& y_pred) const = 0;
  // call(), weighted by `sample_weight` (undefined: 1) and reduced.
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) const;
  // name and reduction, then the subclass's keys.
  Config get_config() const override;

 private:
  std::string class_name_;
  std::string name_;
  Reduction reduction_ = Reduction::kSumOverBatchSize;
  std::string reduction_text_ = "auto";  // as given, for get_config
};

// A class ("MeanSquaredError"), a function name ("mse", "mean_squared_error",
// "binary_crossentropy"), or a serialised dict.
std::shared_ptr<Loss> get_loss(const Config& value, const CustomObjects* custom_objects = nullptr);

}  // namespace strata

STRATA_API_END
