#include "strata/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "core/foreign_exception.hpp"
#include "layers/config_util.hpp"
#include "strata/ops.hpp"

namespace strata {

LearningRateSchedule::~LearningRateSchedule() = default;

std::shared_ptr<LearningRateSchedule> get_learning_rate_schedule(const Config& value, const CustomObjects* custom_objects) {
  return deserialize<ObjectKind::kLearningRateSchedule>(value, custom_objects, "learning-rate schedule");
}

namespace {

std::optional<double> optional_double(const Config& c, const char* key) {
  if (const Config* v = internal::find_key(c, key)) {
    STRATA_CHECK(v->is_number(), FormatError, "optimizer config key '", key, "' must be a number, got ", v->dump());
    return v->get<double>();
  }
  return std::nullopt;
}

// Keras writes float32 hyper-parameters as the double nearest to their float32 value.
Config as_float32(double v) { return static_cast<double>(static_cast<float>(v)); }
Config optional_json(const std::optional<double>& v) { return v ? Config(*v) : Config(nullptr); }

}  // namespace

Optimizer::Optimizer(std::string class_name, const Config& config, double default_learning_rate)
    : class_name_(std::move(class_name)), learning_rate_(default_learning_rate) {
  auto frame = ErrorContext::push("reading the config of a ", class_name_, " optimizer");
  name_ = internal::get_string(config, "name", std::string(bare_name(class_name_)));
  if (const Config* lr = internal::find_key(config, "learning_rate")) {
    if (lr->is_number()) {
      learning_rate_ = lr->get<double>();
    } else {
      schedule_ = get_learning_rate_schedule(*lr);
    }
  } else if (const Config* legacy = internal::find_key(config, "lr")) {
    STRATA_CHECK(legacy->is_number(), FormatError, "optimizer config key 'lr' must be a number");
    learning_rate_ = legacy->get<double>();
  }
  weight_decay_ = optional_double(config, "weight_decay");
  clipnorm_ = optional_double(config, "clipnorm");
  clipvalue_ = optional_double(config, "clipvalue");
  global_clipnorm_ = optional_double(config, "global_clipnorm");
  const int clips = static_cast<int>(clipnorm_.has_value()) + clipvalue_.has_value() + global_clipnorm_.has_value();
  STRATA_CHECK(clips <= 1, ValueError, "optimizer '", name_, "': set at most one of clipnorm, clipvalue, global_clipnorm");
  STRATA_CHECK(!internal::get_bool(config, "use_ema", false), ValueError, "optimizer '", name_,
               "': use_ema (exponential moving average of weights) is not supported");
  // Keras 3's: both change what a step does (and gradient accumulation adds state).
  for (const char* key : {"loss_scale_factor", "gradient_accumulation_steps"}) {
    const Config* v = internal::find_key(config, key);
    STRATA_CHECK(v == nullptr || v->is_null(), ValueError, "optimizer '", name_, "': ", key, "=", v ? v->dump() : "",
                 " (Keras 3) is not supported; load the model with compile=false and compile it again");
  }
  iterations_ = Variable("iteration", Tensor::scalar<std::int64_t>(0), /*trainable=*/false);
}

Optimizer::~Optimizer() = default;

double Optimizer::learning_rate() const {
  if (schedule_) return (*schedule_)(iterations_.value().item<std::int64_t>());
  return learning_rate_;
}

void Optimizer::set_learning_rate(double lr) {
  schedule_.reset();
  learning_rate_ = lr;
}

void Optimizer::build(const std::vector<Variable>& variables) {
  std::vector<Variable> fresh;
  for (const auto& v : variables) {
    if (std::find(built_ids_.begin(), built_ids_.end(), v.id()) == built_ids_.end()) {
      fresh.push_back(v);
      built_ids_.push_back(v.id());
    }
  }
  if (!fresh.empty()) {
    internal::call_object_code(ObjectKind::kOptimizer, *this, "build_slots", [&] { build_slots(fresh); });
  }
}

Variable Optimizer::add_slot(const Variable& variable, const std::string& slot_name, double initial_value) {
  const std::string base = variable.name();
  Tensor init = fill(variable.shape(), initial_value, variable.dtype(), variable.device());
  Variable slot(name_ + "/" + slot_name + "/" + base, init, /*trainable=*/false);
  slots_.push_back({slot_name, variable, slot});
  return slot;
}

const Variable& Optimizer::slot(const Variable& variable, const std::string& slot_name) const {
  for (const auto& s : slots_) {
    if (s.variable == variable && s.name == slot_name) return s.slot;
  }
  STRATA_THROW(ValueError, "optimizer '", name_, "' has no slot '", slot_name, "' for variable '", variable.name(), "'");
}

std::vector<Variable> Optimizer::variables() const {
  std::vector<Variable> out{iterations_};
  for (const auto& s : slots_) out.push_back(s.slot);
  return out;
}

void Optimizer::set_weights(const std::vector<Tensor>& values_in, WeightLayout layout) {
  const auto vars = variables();
  STRATA_CHECK(values_in.size() == vars.size(), ValueError, "optimizer '", name_, "' has ", vars.size(),
               " variables (iteration + slots) but ", values_in.size(), " values were given");
  std::vector<Tensor> values = values_in;
  if (layout == WeightLayout::kLegacy) {
    // Slot kinds in order of first appearance; the legacy list holds each kind for every
    // variable before the next kind.
    std::vector<std::string> kinds;
    for (const auto& s : slots_) {
      if (std::find(kinds.begin(), kinds.end(), s.name) == kinds.end()) kinds.push_back(s.name);
    }
    std::size_t next = 1;
    for (const auto& kind : kinds) {
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].name == kind) values[1 + i] = values_in[next++];
      }
    }
  }
  for (std::size_t i = 0; i < vars.size(); ++i) {
    STRATA_CHECK(values[i].shape() == vars[i].shape(), ShapeError, "optimizer variable '", vars[i].name(), "' has shape ",
                 vars[i].shape().to_string(), ", the value given has ", values[i].shape().to_string());
  }
  for (std::size_t i = 0; i < vars.size(); ++i) {
    Variable v = vars[i];
    v.assign(values[i].dtype() == v.dtype() ? values[i] : cast(values[i], v.dtype()));
  }
}

void Optimizer::apply_gradients(const std::vector<Tensor>& gradients_in, const std::vector<Variable>& variables) {
  STRATA_CHECK(gradients_in.size() == variables.size(), ValueError, "apply_gradients got ", gradients_in.size(),
               " gradients for ", variables.size(), " variables");
  build(variables);
  std::vector<Tensor> gradients = gradients_in;
  if (clipnorm_ && *clipnorm_ > 0) {
    for (auto& g : gradients) {
      if (!g.defined()) continue;
      const Tensor norm = sqrt(sum(square(g)));
      const Tensor limit = scalar_like(norm, *clipnorm_);
      g = g * (limit / maximum(norm, limit));
    }
  } else if (global_clipnorm_ && *global_clipnorm_ > 0) {
    Tensor total;
    for (const auto& g : gradients) {
      if (!g.defined()) continue;
      Tensor sq = sum(square(cast(g, DType::kFloat32)));
      total = total.defined() ? total + sq : sq;
    }
    if (total.defined()) {
      const double norm = std::sqrt(static_cast<double>(total.to(Device::cpu()).item<float>()));
      const double scale = *global_clipnorm_ / std::max(norm, *global_clipnorm_);
      for (auto& g : gradients) {
        if (g.defined()) g = g * scale;
      }
    }
  } else if (clipvalue_ && *clipvalue_ > 0) {
    for (auto& g : gradients) {
      if (g.defined()) g = minimum(maximum(g, scalar_like(g, -*clipvalue_)), scalar_like(g, *clipvalue_));
    }
  }
  const double lr = learning_rate();
  const std::int64_t step = iterations_.value().item<std::int64_t>() + 1;
  if (weight_decay_ && *weight_decay_ != 0.0) {
    for (std::size_t i = 0; i < variables.size(); ++i) {
      if (!gradients[i].defined()) continue;
      Variable v = variables[i];
      v.assign(v.value() - v.value() * (lr * *weight_decay_));
    }
  }
  for (std::size_t i = 0; i < variables.size(); ++i) {
    if (!gradients[i].defined()) continue;
    const Tensor lr_t = scalar_like(variables[i].value(), lr);
    internal::call_object_code(ObjectKind::kOptimizer, *this, "update_step",
                               [&] { update_step(gradients[i], variables[i], lr_t, step); });
  }
  Variable it = iterations_;
  it.assign(Tensor::scalar<std::int64_t>(step, it.device()));
}

Config Optimizer::get_config() const {
  Config c = Config::object();
  c["name"] = name_;
  c["weight_decay"] = optional_json(weight_decay_);
  c["clipnorm"] = optional_json(clipnorm_);
  c["global_clipnorm"] = optional_json(global_clipnorm_);
  c["clipvalue"] = optional_json(clipvalue_);
  c["use_ema"] = false;
  c["ema_momentum"] = 0.99;
  c["ema_overwrite_frequency"] = nullptr;
  c["jit_compile"] = false;
  c["is_legacy_optimizer"] = false;
  c["learning_rate"] = schedule_ ? serialize(*schedule_, ObjectKind::kLearningRateSchedule) : as_float32(learning_rate_);
  return c;
}

double Optimizer::config_double(const Config& c, const char* key, double fallback) {
  return internal::get_double(c, key, fallback);
}
bool Optimizer::config_bool(const Config& c, const char* key, bool fallback) { return internal::get_bool(c, key, fallback); }

std::shared_ptr<Optimizer> get_optimizer(const Config& value, const CustomObjects* custom_objects) {
  STRATA_CHECK(!value.is_null(), ValueError, "an optimizer is required");
  return deserialize<ObjectKind::kOptimizer>(value, custom_objects, "optimizer");
}

}  // namespace strata
