#include "strata/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <unordered_map>

#include "core/foreign_exception.hpp"
#include "layers/config_util.hpp"
#include "strata/ops.hpp"
#include "training/optimizer_internal.hpp"

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

// What the optimizers of tf-keras 2.11+ and Keras 3 share beyond the members of the SDK's
// Optimizer (whose layout plugins' subclasses are built against, so it cannot grow): the
// moving averages of use_ema, Keras 3's gradient accumulation and loss scale factor. Kept
// per optimizer object, created by its constructor and dropped by its destructor.
struct Extras {
  bool use_ema = false;
  double ema_momentum = 0.99;
  std::int64_t ema_overwrite_frequency = 0;  // 0: never
  std::optional<double> loss_scale_factor;
  std::int64_t accumulation_steps = 0;  // 0: none
  bool keras3 = false;                  // the config is Keras 3's (its EMA starts from the first step's values)
  std::vector<Variable> trained;        // every variable built, in build order
};

std::mutex g_extras_mutex;
std::unordered_map<const Optimizer*, Extras>& extras_table() {
  static auto* table = new std::unordered_map<const Optimizer*, Extras>();
  return *table;
}
Extras& extras(const Optimizer& o) {
  std::lock_guard<std::mutex> lock(g_extras_mutex);
  return extras_table()[&o];
}

std::optional<std::int64_t> optional_int(const Config& c, const char* key, const std::string& name) {
  const Config* v = internal::find_key(c, key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  STRATA_CHECK(v->is_number_integer() || (v->is_number() && std::floor(v->get<double>()) == v->get<double>()), ValueError,
               "optimizer '", name, "': ", key, " must be an integer or null, got ", v->dump());
  return static_cast<std::int64_t>(v->get<double>());
}

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
  Extras& x = extras(*this);
  // Keras 3 writes these two keys for every optimizer; tf-keras never does.
  x.keras3 = config.is_object() && (config.contains("loss_scale_factor") || config.contains("gradient_accumulation_steps"));
  x.use_ema = internal::get_bool(config, "use_ema", false);
  x.ema_momentum = internal::get_double(config, "ema_momentum", 0.99);
  if (x.use_ema) {
    STRATA_CHECK(x.ema_momentum >= 0.0 && x.ema_momentum <= 1.0, ValueError, "optimizer '", name_,
                 "': ema_momentum must be in [0, 1], got ", x.ema_momentum);
    const auto every = optional_int(config, "ema_overwrite_frequency", name_);
    STRATA_CHECK(!every || *every >= 1, ValueError, "optimizer '", name_,
                 "': ema_overwrite_frequency must be an integer >= 1 or null, got ", *every);
    x.ema_overwrite_frequency = every.value_or(0);
  }
  x.loss_scale_factor = optional_double(config, "loss_scale_factor");
  STRATA_CHECK(!x.loss_scale_factor || (std::isfinite(*x.loss_scale_factor) && *x.loss_scale_factor != 0.0), ValueError,
               "optimizer '", name_, "': loss_scale_factor must be a finite non-zero number or null, got ",
               x.loss_scale_factor.value_or(0.0));
  const auto steps = optional_int(config, "gradient_accumulation_steps", name_);
  STRATA_CHECK(!steps || *steps >= 2, ValueError, "optimizer '", name_,
               "': gradient_accumulation_steps must be an integer >= 2 or null, got ", *steps);
  x.accumulation_steps = steps.value_or(0);
  iterations_ = Variable("iteration", Tensor::scalar<std::int64_t>(0), /*trainable=*/false);
}

Optimizer::~Optimizer() {
  std::lock_guard<std::mutex> lock(g_extras_mutex);
  extras_table().erase(this);
}

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
  if (fresh.empty()) return;
  Extras& x = extras(*this);
  // Keras's base build comes first (tf-keras: the averages; Keras 3: the averages, then the
  // gradient accumulators), then the optimizer's own slots.
  for (const auto& v : fresh) x.trained.push_back(v);
  if (x.use_ema) {
    for (const auto& v : fresh) {
      // tf-keras starts an average at the variable's value, Keras 3 at zeros (its first step
      // then takes the variable's value).
      Tensor init = x.keras3 ? zeros_like(v.value()) : v.value().to(v.device()) * 1.0;
      slots_.push_back({"average", v, Variable(name_ + "/average/" + v.name(), init, /*trainable=*/false)});
    }
  }
  if (x.accumulation_steps > 0) {
    for (const auto& v : fresh) add_slot(v, "gradient_accumulator");
  }
  internal::call_object_code(ObjectKind::kOptimizer, *this, "build_slots", [&] { build_slots(fresh); });
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
  const Extras& x = extras(*this);
  std::vector<Tensor> gradients = gradients_in;
  if (x.loss_scale_factor) {  // Keras 3: the loss was multiplied by it (train_step)
    for (auto& g : gradients) {
      if (g.defined()) g = g / scalar_like(g, *x.loss_scale_factor);
    }
  }
  const std::int64_t raw = iterations_.value().item<std::int64_t>();
  // Keras 3's `iterations` with gradient accumulation counts applied updates.
  const std::int64_t done = x.accumulation_steps > 0 ? raw / x.accumulation_steps : raw;
  const bool update = x.accumulation_steps == 0 || (raw + 1) % x.accumulation_steps == 0;
  if (x.use_ema && !x.keras3 && raw == 0) {
    // tf-keras builds the optimizer in its first step and starts each average at the
    // variable's value then; Strata may have built it earlier (when a model is loaded).
    for (const auto& v : variables) {
      Variable avg = slot(v, "average");
      avg.assign(v.value() * 1.0);
    }
  }
  if (x.accumulation_steps > 0) {
    const double n = static_cast<double>(x.accumulation_steps);
    for (std::size_t i = 0; i < variables.size(); ++i) {
      if (!gradients[i].defined()) continue;
      Variable acc = slot(variables[i], "gradient_accumulator");
      if (update) {
        gradients[i] = (gradients[i] + acc.value()) / scalar_like(gradients[i], n);
        acc.assign(zeros_like(acc.value()));
      } else {
        acc.assign(gradients[i] + acc.value());
      }
    }
  }
  if (update) {
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
    const std::int64_t step = done + 1;
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
  }
  if (x.use_ema) {
    // Keras 3 averages every variable built, from its first step's values; tf-keras the
    // variables of this call.
    const auto& averaged = x.keras3 ? x.trained : variables;
    for (std::size_t i = 0; i < averaged.size(); ++i) {
      if (!x.keras3 && !gradients[i].defined()) continue;
      Variable avg = slot(averaged[i], "average");
      // Keras 3 computes 1 - momentum on the float32 momentum, tf-keras in Python floats.
      const double m = x.keras3 && done == 0 ? 0.0 : x.ema_momentum;
      const double rest = x.keras3 ? static_cast<double>(1.0f - static_cast<float>(m)) : 1.0 - m;
      const Tensor value = averaged[i].value();
      avg.assign(avg.value() * scalar_like(value, m) + value * scalar_like(value, rest));
    }
    if (x.ema_overwrite_frequency > 0 && (done + 1) % x.ema_overwrite_frequency == 0) {
      for (const auto& v : averaged) {
        Variable target = v;
        target.assign(slot(v, "average").value());
      }
    }
  }
  Variable it = iterations_;
  it.assign(Tensor::scalar<std::int64_t>(raw + 1, it.device()));
}

namespace internal {

double loss_scale_factor(const Optimizer& optimizer) { return extras(optimizer).loss_scale_factor.value_or(0.0); }

void finalize_variable_values(Optimizer& optimizer, const std::vector<Variable>& variables) {
  if (!extras(optimizer).use_ema) return;
  for (const auto& v : variables) {
    for (const auto& s : optimizer.slots()) {
      if (s.variable == v && s.name == "average") {
        Variable target = v;
        target.assign(s.slot.value());
      }
    }
  }
}

}  // namespace internal

Config Optimizer::get_config() const {
  Config c = Config::object();
  c["name"] = name_;
  c["weight_decay"] = optional_json(weight_decay_);
  c["clipnorm"] = optional_json(clipnorm_);
  c["global_clipnorm"] = optional_json(global_clipnorm_);
  c["clipvalue"] = optional_json(clipvalue_);
  const Extras& x = extras(*this);
  c["use_ema"] = x.use_ema;
  c["ema_momentum"] = x.ema_momentum;
  c["ema_overwrite_frequency"] = x.ema_overwrite_frequency > 0 ? Config(x.ema_overwrite_frequency) : Config(nullptr);
  c["jit_compile"] = false;
  c["is_legacy_optimizer"] = false;
  // Keras 3's keys, written for an optimizer read from Keras 3's config (its EMA semantics go
  // with them through a config round trip); tf-keras's dialect drops them when null.
  if (x.keras3) {
    c["loss_scale_factor"] = optional_json(x.loss_scale_factor);
    c["gradient_accumulation_steps"] = x.accumulation_steps > 0 ? Config(x.accumulation_steps) : Config(nullptr);
  }
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
