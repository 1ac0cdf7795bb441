// Metrics: stateful accumulators (their state is variables, so checkpoints save it).
// update_state() adds a batch, result() reads the value so far, reset_state() starts
// over — Keras's protocol.
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <string>
#include <vector>

#include "strata/serialization.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

class Metric : public Serializable {
 public:
  Metric(std::string class_name, const Config& config, std::string default_name);
  ~Metric() override;

  std::string class_name() const override { return class_name_; }
  const std::string& name() const noexcept { return name_; }
  DType dtype() const noexcept { return dtype_; }

  virtual void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) = 0;
  // A scalar.
  virtual Tensor result() const = 0;
  // Sets every state variable to zero.
  virtual void reset_state();
  const std::vector<Variable>& variables() const noexcept { return variables_; }
  // name and dtype, then the subclass's keys.
  Config get_config() const override;

 protected:
  Variable add_state(const std::string& name, const Shape& shape = Shape{}, DType dtype = DType::kInvalid);

 private:
  std::string class_name_;
  std::string name_;
  DType dtype_ = DType::kFloat32;
  std::vector<Variable> variables_;
};

// "accuracy", "mae", "AUC", {"class_name": ...}. Keras resolves "accuracy"/"acc" (and
// "crossentropy"/"ce") by the model's loss and output shape; that is done at compile
// time through resolve_metric_name.
std::shared_ptr<Metric> get_metric(const Config& value, const CustomObjects* custom_objects = nullptr);

}  // namespace strata

STRATA_API_END
