#include "core/foreign_exception.hpp"
#include "layers/config_util.hpp"
#include "strata/losses.hpp"
#include "strata/metrics.hpp"
#include "strata/ops.hpp"

namespace strata {

std::string_view reduction_name(Reduction r) noexcept {
  switch (r) {
    case Reduction::kSumOverBatchSize: return "sum_over_batch_size";
    case Reduction::kSum: return "sum";
    case Reduction::kNone: return "none";
  }
  return "sum_over_batch_size";
}

Reduction reduction_from_name(std::string_view name) {
  if (name == "sum_over_batch_size" || name == "auto") return Reduction::kSumOverBatchSize;
  if (name == "sum") return Reduction::kSum;
  if (name == "none") return Reduction::kNone;
  STRATA_THROW(ValueError, "unknown loss reduction '", name, "': use sum_over_batch_size, sum, none or auto");
}

Loss::Loss(std::string class_name, const Config& config, std::string default_name)
    : class_name_(std::move(class_name)), name_(internal::get_string(config, "name", default_name)),
      reduction_(reduction_from_name(internal::get_string(config, "reduction", "auto"))),
      reduction_text_(internal::get_string(config, "reduction", "auto")) {}

Loss::~Loss() = default;

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) const {
  Tensor losses = internal::call_object_code(ObjectKind::kLoss, *this, "call", [&] { return call(y_true, y_pred); });
  if (sample_weight.defined()) {
    Tensor w = cast(sample_weight, losses.dtype());
    // A per-sample weight vector broadcasts over the remaining per-sample dimensions.
    while (w.rank() < losses.rank()) w = expand_dims(w, -1);
    while (w.rank() > losses.rank() && w.shape()[-1] == 1) w = squeeze(w, {-1});
    losses = losses * w;
  }
  switch (reduction_) {
    case Reduction::kNone: return losses;
    case Reduction::kSum: return sum(losses);
    case Reduction::kSumOverBatchSize: {
      const std::int64_t n = losses.num_elements();
      return n == 0 ? scalar_like(losses, 0.0) : sum(losses) / static_cast<double>(n);
    }
  }
  return losses;
}

Config Loss::get_config() const {
  Config c = Config::object();
  c["reduction"] = reduction_text_;
  c["name"] = name_;
  return c;
}

std::shared_ptr<Loss> get_loss(const Config& value, const CustomObjects* custom_objects) {
  STRATA_CHECK(!value.is_null(), ValueError, "a loss is required");
  return deserialize<ObjectKind::kLoss>(value, custom_objects, "loss");
}

Metric::Metric(std::string class_name, const Config& config, std::string default_name)
    : class_name_(std::move(class_name)), name_(internal::get_string(config, "name", default_name)) {
  if (const Config* d = internal::find_key(config, "dtype")) dtype_ = internal::dtype_from_json(*d, "metric dtype");
}

Metric::~Metric() = default;

void Metric::reset_state() {
  for (auto& v : variables_) v.assign(zeros(v.shape(), v.dtype(), v.device()));
}

Config Metric::get_config() const {
  Config c = Config::object();
  c["name"] = name_;
  c["dtype"] = std::string(dtype_name(dtype_));
  return c;
}

Variable Metric::add_state(const std::string& name, const Shape& shape, DType dtype) {
  const DType d = dtype == DType::kInvalid ? dtype_ : dtype;
  Variable v(name_ + "/" + name, zeros(shape, d), /*trainable=*/false);
  variables_.push_back(v);
  return v;
}

std::shared_ptr<Metric> get_metric(const Config& value, const CustomObjects* custom_objects) {
  STRATA_CHECK(!value.is_null(), ValueError, "a metric is required");
  return deserialize<ObjectKind::kMetric>(value, custom_objects, "metric");
}

}  // namespace strata
