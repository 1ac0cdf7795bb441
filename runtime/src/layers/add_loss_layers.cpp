#include "layers/add_loss_layers.hpp"

#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/layers.hpp"

namespace strata::internal {

namespace {

thread_local AddedMetricCollector* t_metric_collector = nullptr;

// call(x): add_loss(x); returns x. `unconditional` is kept for the config (Strata's
// add_loss terms never depend on inputs other than the ones the tensor was computed from).
class AddLoss final : public Layer {
 public:
  explicit AddLoss(const Config& c) : Layer("AddLoss", c) {
    unconditional_ = ConfigReader(c, "layer 'AddLoss'").optional<bool>("unconditional", false);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(inputs.size() == 1, ValueError, "layer '", name(), "' (AddLoss) takes one tensor, got ", inputs.size());
    add_loss(inputs[0]);
    return {inputs[0]};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["unconditional"] = unconditional_;
    return c;
  }

 private:
  bool unconditional_ = false;
};

// call(x): reports x as the metric `metric_name` (aggregated by the training loop); returns x.
class AddMetric final : public Layer {
 public:
  explicit AddMetric(const Config& c) : Layer("AddMetric", c) {
    const ConfigReader r(c, "layer 'AddMetric'");
    metric_name_ = r.required<std::string>("metric_name");
    aggregation_ = r.one_of("aggregation", {"mean"}, "mean");
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(inputs.size() == 1, ValueError, "layer '", name(), "' (AddMetric) takes one tensor, got ", inputs.size());
    if (t_metric_collector && !inputs[0].is_symbolic()) t_metric_collector->add({metric_name_, aggregation_, inputs[0]});
    return {inputs[0]};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["aggregation"] = aggregation_;
    c["metric_name"] = metric_name_;
    return c;
  }

 private:
  std::string metric_name_;
  std::string aggregation_ = "mean";
};

}  // namespace

void register_add_loss_layers(Registrar& registrar) {
  register_layer<AddLoss>(registrar, "AddLoss");
  register_layer<AddMetric>(registrar, "AddMetric");
}

bool is_add_loss_or_metric(std::string_view class_name) noexcept {
  return class_name == "AddLoss" || class_name == "AddMetric";
}

AddedMetricCollector::AddedMetricCollector() : previous_(t_metric_collector) { t_metric_collector = this; }
AddedMetricCollector::~AddedMetricCollector() { t_metric_collector = previous_; }
AddedMetricCollector* AddedMetricCollector::active() noexcept { return t_metric_collector; }

}  // namespace strata::internal
