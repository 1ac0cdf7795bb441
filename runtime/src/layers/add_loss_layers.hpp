// tf-keras's AddLoss and AddMetric layers (keras/engine/base_layer.py): what
// model.add_loss(tensor) and model.add_metric(tensor, name=...) insert into a Functional
// model, so the terms are part of its config. Internal to the runtime.
#pragma once

#include <string>
#include <vector>

#include "strata/plugin/registrar.hpp"
#include "strata/tensor.hpp"

namespace strata::internal {

// Registers "AddLoss" and "AddMetric" (module keras.layers; the registrar's module is set).
void register_add_loss_layers(Registrar& registrar);

// True for the classes above: a Functional model keeps their nodes although no output
// depends on them.
bool is_add_loss_or_metric(std::string_view class_name) noexcept;

// The values AddMetric layers computed on this thread while one lives (the training loop
// opens one around each forward pass); without one they are dropped.
class AddedMetricCollector {
 public:
  struct Value {
    std::string name;
    std::string aggregation;
    Tensor value;
  };
  AddedMetricCollector();
  ~AddedMetricCollector();
  AddedMetricCollector(const AddedMetricCollector&) = delete;
  AddedMetricCollector& operator=(const AddedMetricCollector&) = delete;
  const std::vector<Value>& values() const noexcept { return values_; }
  static AddedMetricCollector* active() noexcept;
  void add(Value v) { values_.push_back(std::move(v)); }

 private:
  std::vector<Value> values_;
  AddedMetricCollector* previous_;
};

}  // namespace strata::internal
