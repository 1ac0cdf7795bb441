// Model::compile / fit / evaluate: Keras's training loop.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

#include "core/foreign_exception.hpp"
#include "core/threads_env.hpp"
#include "distribute/replica.hpp"
#include "layers/add_loss_layers.hpp"
#include "layers/config_util.hpp"
#include "ops/internal.hpp"
#include "training/optimizer_internal.hpp"
#include "training/traced_step.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/threads.hpp"

namespace strata {

// ---- Logs ---------------------------------------------------------------------------------------

void Logs::set(const std::string& name, double value) {
  for (auto& [k, v] : items_) {
    if (k == name) {
      v = value;
      return;
    }
  }
  items_.emplace_back(name, value);
}

std::optional<double> Logs::get(const std::string& name) const {
  for (const auto& [k, v] : items_) {
    if (k == name) return v;
  }
  return std::nullopt;
}

double Logs::at(const std::string& name) const {
  auto v = get(name);
  if (!v) {
    std::string keys;
    for (const auto& [k, _] : items_) keys += (keys.empty() ? "" : ", ") + k;
    STRATA_THROW(ValueError, "no log entry '", name, "' (entries: ", keys.empty() ? "none" : keys, ")");
  }
  return *v;
}

Callback::~Callback() = default;

namespace {

// A weighted running mean whose state is variables (Keras's Mean): the loss trackers.
class MeanTracker final : public Metric {
 public:
  explicit MeanTracker(const std::string& name) : Metric("Mean", Config{{"name", name}}, name) {
    total_ = add_state("total");
    count_ = add_state("count");
  }
  void update(const Tensor& value, double weight) {
    const Tensor v = cast(value, DType::kFloat32).to(total_.device());
    total_.assign(total_.value() + sum(v) * weight);
    count_.assign(count_.value() + scalar_like(count_.value(), weight * static_cast<double>(v.num_elements())));
  }
  void update_state(const Tensor& values, const Tensor&, const Tensor& sample_weight) override {
    update(values, sample_weight.defined() ? sample_weight.to(Device::cpu()).item<float>() : 1.0);
  }
  Tensor result() const override {
    const float count = count_.value().item<float>();
    return Tensor::scalar<float>(count == 0 ? 0.0f : total_.value().item<float>() / count);
  }

 private:
  Variable total_, count_;
};

double scalar_of(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  switch (host.dtype()) {
    case DType::kFloat32: return host.item<float>();
    case DType::kFloat64: return host.item<double>();
    case DType::kInt64: return static_cast<double>(host.item<std::int64_t>());
    case DType::kInt32: return host.item<std::int32_t>();
    default: break;
  }
  STRATA_THROW(ValueError, "a metric result must be a number, got ", dtype_name(host.dtype()));
}

bool has_upper(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; });
}

// Keras's resolution of "accuracy"/"acc"/"crossentropy"/"ce" by the shapes of the
// targets and predictions.
std::string resolve_metric_name(const std::string& name, const Shape& y_true, const Shape& y_pred) {
  const bool known = y_true.has_known_rank() && y_pred.has_known_rank() && y_pred.rank() > 0;
  const std::int64_t pred_last = known ? y_pred.dims().back() : -1;
  const std::int64_t true_last = known && y_true.rank() > 0 ? y_true.dims().back() : -1;
  const bool binary = pred_last == 1;
  const bool sparse = known && (y_true.rank() < y_pred.rank() || (true_last == 1 && pred_last > 1));
  if (name == "accuracy" || name == "acc") {
    return binary ? "binary_accuracy" : sparse ? "sparse_categorical_accuracy" : "categorical_accuracy";
  }
  if (name == "crossentropy" || name == "ce") {
    return binary ? "binary_crossentropy" : sparse ? "sparse_categorical_crossentropy" : "categorical_crossentropy";
  }
  return {};
}

// `factory` is the class compile resolved for `spec` (null for "accuracy" and friends, which
// depend on the shapes): building with it works after the CustomObjectScope or the
// custom_objects that supplied the class at compile (or load) time are gone, as in Keras,
// where compile instantiates the metric objects.
std::shared_ptr<Metric> build_metric(const Config& spec, const std::shared_ptr<const ConfigFactory<Metric>>& factory,
                                     const Shape& y_true, const Shape& y_pred) {
  if (spec.is_string()) {
    const std::string name = spec.get<std::string>();
    const std::string fn = resolve_metric_name(name, y_true, y_pred);
    if (!fn.empty()) return get_metric(Config{{"class_name", "MeanMetricWrapper"}, {"config", {{"name", name}, {"fn", fn}}}});
    if (factory) return (*factory)(has_upper(name) ? parse_serialized(spec, "metric").config : Config{{"name", name}});
    if (has_upper(name)) return get_metric(spec);
    return get_metric(Config{{"class_name", name}, {"config", {{"name", name}}}});
  }
  if (factory) return (*factory)(parse_serialized(spec, "metric").config);
  return get_metric(spec);
}

// Serialises `value` (a compile argument) the way tf-keras writes it in training_config.
Config legacy_object(const Serializable& s) {
  return Config{{"class_name", s.class_name()}, {"config", s.get_config()}};
}

}  // namespace

struct Model::TrainingState {
  std::shared_ptr<Optimizer> optimizer;
  std::vector<std::shared_ptr<Loss>> losses;  // one per output
  std::vector<double> loss_weights;
  std::vector<std::vector<Config>> metric_specs;  // per output, built on the first batch
  // The class of each spec, resolved at compile (null: resolved by shape when built).
  std::vector<std::vector<std::shared_ptr<const ConfigFactory<Metric>>>> metric_factories;
  std::vector<std::vector<std::shared_ptr<Metric>>> metrics;
  bool metrics_built = false;
  std::shared_ptr<MeanTracker> loss_tracker = std::make_shared<MeanTracker>("loss");
  // model.add_metric values, by name, in the order first seen (after the compiled metrics).
  std::vector<std::shared_ptr<MeanTracker>> added_metric_trackers;
  std::vector<std::shared_ptr<MeanTracker>> output_loss_trackers;
  // The traced train step's graphs (one per input signature), made anew by each compile.
  internal::TracedTrainStep traced_step;
  // What compile was given, for training_config and compile_config.
  Config loss_arg, loss_weights_arg, metrics_arg;
  bool metrics_given = false;
};

namespace {

std::vector<std::string> output_names(const Model& model, std::size_t count) {
  std::vector<std::string> names;
  const auto outs = model.outputs();
  for (std::size_t i = 0; i < count; ++i) {
    if (i < outs.size() && outs[i].node()->layer) {
      names.push_back(outs[i].node()->layer->name());
    } else {
      names.push_back(detail::concat("output_", i + 1));
    }
  }
  return names;
}

std::size_t output_count(const Model& model) {
  const auto outs = model.outputs();
  return outs.empty() ? 1 : outs.size();
}

// Per-output lists from a loss/metric argument: a single entry, a list per output, or a
// dict keyed by output name.
std::vector<Config> per_output(const Config& value, const std::vector<std::string>& names, const char* what) {
  const std::size_t n = names.size();
  if (value.is_object() && !value.contains("class_name")) {
    std::vector<Config> out(n, Config());
    for (auto it = value.begin(); it != value.end(); ++it) {
      auto pos = std::find(names.begin(), names.end(), it.key());
      STRATA_CHECK(pos != names.end(), ValueError, "compile: ", what, " names output '", it.key(),
                   "', which the model does not have");
      out[static_cast<std::size_t>(pos - names.begin())] = *it;
    }
    return out;
  }
  if (value.is_array() && n > 1) {
    STRATA_CHECK(value.size() == n, ValueError, "compile: ", what, " lists ", value.size(), " entries for ", n, " outputs");
    return std::vector<Config>(value.begin(), value.end());
  }
  return std::vector<Config>(n, value);
}

// (variable, constraint) pairs of every layer of `layer`.
void collect_constraints(const Layer& layer, std::vector<std::pair<Variable, std::shared_ptr<Constraint>>>& out) {
  for (const auto& w : layer.own_weights()) {
    if (w.constraint) out.emplace_back(w.variable, w.constraint);
  }
  for (const auto& c : layer.children()) collect_constraints(*c.layer, out);
}

}  // namespace

// ---- compile --------------------------------------------------------------------------------------

void Model::compile(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<Loss>> losses,
                    std::vector<std::vector<std::shared_ptr<Metric>>> metrics, std::vector<double> loss_weights) {
  STRATA_CHECK(optimizer != nullptr, ValueError, "compile needs an optimizer");
  STRATA_CHECK(!losses.empty(), ValueError, "compile needs a loss");
  const std::size_t n = output_count(*this);
  auto state = std::make_shared<TrainingState>();
  state->optimizer = std::move(optimizer);
  if (losses.size() == 1 && n > 1) losses.assign(n, losses[0]);
  STRATA_CHECK(losses.size() == n, ValueError, "compile got ", losses.size(), " losses for ", n, " outputs");
  state->losses = std::move(losses);
  state->loss_weights = loss_weights.empty() ? std::vector<double>(n, 1.0) : std::move(loss_weights);
  STRATA_CHECK(state->loss_weights.size() == n, ValueError, "compile got ", state->loss_weights.size(),
               " loss weights for ", n, " outputs");
  if (metrics.size() == 1 && n > 1) metrics.assign(n, metrics[0]);
  metrics.resize(n);
  state->metrics = std::move(metrics);
  state->metric_specs.assign(n, {});
  state->metrics_built = true;
  state->metrics_given = std::any_of(state->metrics.begin(), state->metrics.end(), [](const auto& m) { return !m.empty(); });
  Config loss_arg = Config::array();
  for (const auto& l : state->losses) loss_arg.push_back(legacy_object(*l));
  state->loss_arg = n == 1 ? loss_arg[0] : loss_arg;
  state->loss_weights_arg = loss_weights.empty() ? Config(nullptr) : Config(state->loss_weights);
  if (state->metrics_given) {
    Config per = Config::array();
    for (const auto& list : state->metrics) {
      Config objects = Config::array();
      for (const auto& m : list) objects.push_back(serialize(*m, ObjectKind::kMetric));
      per.push_back(objects);
    }
    state->metrics_arg = n == 1 ? per[0] : per;
  }
  training_ = std::move(state);
  internal::bind_compiled_model(*this);  // inside a DistributionStrategy's scope
}

void Model::compile(const Config& optimizer, const Config& loss, const Config& metrics, const Config& loss_weights) {
  auto frame = ErrorContext::push("compiling model '", name(), "'");
  const std::size_t n = output_count(*this);
  const auto names = output_names(*this, n);
  auto state = std::make_shared<TrainingState>();
  state->optimizer = get_optimizer(optimizer);
  for (const auto& l : per_output(loss, names, "loss")) state->losses.push_back(get_loss(l));
  state->loss_arg = loss;
  state->loss_weights.assign(n, 1.0);
  if (!loss_weights.is_null()) {
    const auto w = per_output(loss_weights, names, "loss_weights");
    for (std::size_t i = 0; i < n; ++i) {
      // training_config comes from files too: a non-number is a typed error, not the JSON
      // library's type_error.
      STRATA_CHECK(w[i].is_null() || w[i].is_number(), ValueError, "compile: loss_weights for output '", names[i],
                   "' must be a number, got ", w[i].dump());
      state->loss_weights[i] = w[i].is_null() ? 1.0 : w[i].get<double>();
    }
  }
  state->loss_weights_arg = loss_weights;
  state->metrics_arg = metrics;
  state->metric_specs.assign(n, {});
  if (!metrics.is_null()) {
    auto per = per_output(metrics, names, "metrics");
    // One output's metrics as a list of one list ([["mae"]], as training configs written
    // for a model whose outputs were not known at save time hold them): that inner list.
    if (n == 1 && per[0].is_array() && per[0].size() == 1 && per[0][0].is_array()) {
      Config inner = per[0][0];
      per[0] = std::move(inner);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (per[i].is_array()) {
        for (const auto& m : per[i]) state->metric_specs[i].push_back(m);
      } else if (!per[i].is_null()) {
        state->metric_specs[i].push_back(per[i]);
      }
    }
    state->metrics_given = true;
  }
  // Resolve metric classes now, so unknown names fail at compile (as in Keras) and a class
  // supplied by custom_objects or a CustomObjectScope is kept for the first batch.
  {
    ObjectResolver resolver;
    state->metric_factories.assign(n, {});
    for (std::size_t i = 0; i < n; ++i) {
      for (const auto& m : state->metric_specs[i]) {
        std::shared_ptr<const ConfigFactory<Metric>> factory;
        if (m.is_string()) {
          if (resolve_metric_name(m.get<std::string>(), Shape{}, Shape{1}).empty()) {
            factory = resolver.find<ObjectKind::kMetric>(m.get<std::string>(), "compile metrics");
          }
        } else if (!m.is_null()) {
          factory = resolver.find<ObjectKind::kMetric>(parse_serialized(m, "metric").class_name, "compile metrics");
        }
        state->metric_factories[i].push_back(std::move(factory));
      }
    }
    resolver.raise_if_missing();
  }
  training_ = std::move(state);
  internal::bind_compiled_model(*this);  // inside a DistributionStrategy's scope
}

bool Model::is_compiled() const noexcept { return training_ != nullptr; }

const std::shared_ptr<Optimizer>& Model::optimizer() const {
  STRATA_CHECK(training_ != nullptr, ValueError, "model '", name(), "' is not compiled");
  return training_->optimizer;
}

namespace {

void ensure_metrics(Model::TrainingState& s, const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred) {
  if (s.metrics_built) return;
  s.metrics.assign(s.metric_specs.size(), {});
  for (std::size_t i = 0; i < s.metric_specs.size(); ++i) {
    const Shape t = i < y.size() ? y[i].shape() : Shape::unknown_rank();
    const Shape p = i < y_pred.size() ? y_pred[i].shape() : Shape::unknown_rank();
    for (std::size_t j = 0; j < s.metric_specs[i].size(); ++j) {
      const auto& factory = i < s.metric_factories.size() && j < s.metric_factories[i].size() ? s.metric_factories[i][j] : nullptr;
      s.metrics[i].push_back(build_metric(s.metric_specs[i][j], factory, t, p));
    }
  }
  s.metrics_built = true;
}

}  // namespace

Config Model::training_config() const {
  STRATA_CHECK(training_ != nullptr, ValueError, "model '", name(), "' is not compiled: it has no training config");
  TrainingState& s = *training_;
  if (!s.metrics_built) {
    // Resolve "accuracy" and friends assuming targets shaped like the outputs, as Keras
    // does when the model was never trained.
    std::vector<Tensor> shapes;
    for (const auto& o : outputs()) shapes.push_back(o);
    ensure_metrics(s, shapes, shapes);
  }
  Config metrics = Config::array();
  for (const auto& per : s.metrics) {
    Config list = Config::array();
    for (const auto& m : per) list.push_back(legacy_object(*m));
    metrics.push_back(list);
  }
  Config c = Config::object();
  c["loss"] = s.loss_arg;
  c["metrics"] = s.metrics_given ? metrics : Config(nullptr);
  c["weighted_metrics"] = nullptr;
  c["loss_weights"] = s.loss_weights_arg;
  c["optimizer_config"] = legacy_object(*s.optimizer);
  // tf-keras's optimizers refuse Keras 3's keys; unset, they say nothing.
  Config& oc = c["optimizer_config"]["config"];
  for (const char* key : {"loss_scale_factor", "gradient_accumulation_steps"}) {
    if (oc.contains(key) && oc[key].is_null()) oc.erase(key);
  }
  if (const LossScale* ls = loss_scale(*s.optimizer)) {
    // tf-keras's LossScaleOptimizerV3 around the optimizer (Strata's optimizers are tf-keras's
    // current ones, whatever wrapper class the file named).
    Config inner = c["optimizer_config"];
    Config wrapped = Config::object();
    wrapped["inner_optimizer"] = Config{{"module", "keras.optimizers"}, {"class_name", inner["class_name"]},
                                        {"config", inner["config"]}, {"registered_name", nullptr}};
    wrapped["dynamic"] = ls->dynamic;
    wrapped["initial_scale"] = ls->initial_scale;
    // tf-keras refuses a growth period with a fixed scale.
    wrapped["dynamic_growth_steps"] = ls->dynamic ? Config(ls->growth_steps) : Config(nullptr);
    c["optimizer_config"] = Config{{"class_name", "LossScaleOptimizerV3"}, {"config", wrapped}};
  }
  return c;
}

namespace {

// A loss or metric argument as Keras 3 reads it: names stay names, tf-keras's
// {"class_name", "config"} objects get their module, and Keras 2's reduction "auto" is
// Keras 3's "sum_over_batch_size" (what "auto" meant in a fit).
Config keras3_compile_argument(const Config& value, ObjectKind kind) {
  if (value.is_array()) {
    Config out = Config::array();
    for (const auto& v : value) out.push_back(keras3_compile_argument(v, kind));
    return out;
  }
  if (!value.is_object()) return value;
  if (!value.contains("class_name")) {  // a dict keyed by output name
    Config out = Config::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = keras3_compile_argument(*it, kind);
    return out;
  }
  Config out = value;
  if (!out.contains("module")) {
    const std::string name = out["class_name"].is_string() ? out["class_name"].get<std::string>() : std::string();
    const bool packaged = bare_name(name).size() != name.size();
    out["module"] = packaged ? std::string("strata.custom") : std::string(keras_module(kind));
    out["class_name"] = std::string(bare_name(name));
    out["registered_name"] = packaged ? Config(name) : Config(nullptr);
  }
  if (out.contains("config") && out["config"].is_object() && out["config"].value("reduction", Config()) == "auto") {
    out["config"]["reduction"] = "sum_over_batch_size";
  }
  return out;
}

}  // namespace

Config Model::compile_config() const {
  STRATA_CHECK(training_ != nullptr, ValueError, "model '", name(), "' is not compiled: it has no compile config");
  const TrainingState& s = *training_;
  Config optimizer = serialize(*s.optimizer, ObjectKind::kOptimizer);
  Config& oc = optimizer["config"];
  // Keras 3's optimizers take neither; they add loss scaling and gradient accumulation.
  oc.erase("jit_compile");
  oc.erase("is_legacy_optimizer");
  if (!oc.contains("loss_scale_factor")) oc["loss_scale_factor"] = nullptr;
  if (!oc.contains("gradient_accumulation_steps")) oc["gradient_accumulation_steps"] = nullptr;
  if (const LossScale* ls = loss_scale(*s.optimizer)) {
    // Keras 3's LossScaleOptimizer (always dynamic there).
    if (!ls->dynamic) {
      log_warning("model '", name(), "': its optimizer has a fixed loss scale, which Keras 3's LossScaleOptimizer "
                  "cannot hold; the Keras 3 config says a dynamic one starting at ", ls->initial_scale);
    }
    Config wrapped = Config::object();
    wrapped["name"] = ls->name.empty() ? std::string("loss_scale_optimizer") : ls->name;
    wrapped["inner_optimizer"] = optimizer;
    wrapped["initial_scale"] = ls->initial_scale;
    wrapped["dynamic_growth_steps"] = ls->growth_steps;
    optimizer = Config{{"module", "keras.optimizers"}, {"class_name", "LossScaleOptimizer"}, {"config", wrapped},
                       {"registered_name", nullptr}};
  }
  Config c = Config::object();
  c["optimizer"] = optimizer;
  c["loss"] = keras3_compile_argument(s.loss_arg, ObjectKind::kLoss);
  c["loss_weights"] = s.loss_weights_arg;
  c["metrics"] = s.metrics_given ? keras3_compile_argument(s.metrics_arg, ObjectKind::kMetric) : Config(nullptr);
  c["weighted_metrics"] = nullptr;
  c["run_eagerly"] = false;
  c["steps_per_execution"] = 1;
  c["jit_compile"] = false;
  return c;
}

std::vector<std::shared_ptr<Metric>> Model::metrics() const {
  std::vector<std::shared_ptr<Metric>> out;
  if (!training_) return out;
  out.push_back(training_->loss_tracker);
  for (const auto& t : training_->output_loss_trackers) out.push_back(t);
  for (const auto& per : training_->metrics) out.insert(out.end(), per.begin(), per.end());
  for (const auto& t : training_->added_metric_trackers) out.push_back(t);
  return out;
}

void Model::reset_metrics() {
  for (auto& m : metrics()) {
    internal::call_object_code(ObjectKind::kMetric, *m, "reset_state", [&] { m->reset_state(); });
  }
}

// ---- steps --------------------------------------------------------------------------------------

namespace {

using internal::StepResult;

// Keras's match_dtype_and_rank: a 1-D target or sample weight gets a trailing axis when
// the output is [N, 1]; a target of the output's kind (floating / integer) takes its dtype.
void match_target(Tensor& y_true, const Tensor& y_pred, Tensor& sample_weight) {
  if (y_true.rank() == 1 && y_pred.rank() == 2) y_true = expand_dims(y_true, -1);
  if (sample_weight.defined()) {
    if (sample_weight.rank() == 1 && y_pred.rank() == 2) sample_weight = expand_dims(sample_weight, -1);
    sample_weight = cast(sample_weight, y_pred.dtype());
  }
  const bool both_float = is_floating(y_true.dtype()) && is_floating(y_pred.dtype());
  const bool both_int = is_integer(y_true.dtype()) && is_integer(y_pred.dtype());
  if (both_float || both_int) y_true = cast(y_true, y_pred.dtype());
}

// tf-keras's compiled loss on an output with a Keras mask (a sequence model after
// Embedding(mask_zero=True) or Masking): the mask joins the sample weights, and under
// sum_over_batch_size the valid entries are re-weighted by total/valid, so the loss is the
// mean over the valid time steps only (losses_utils.apply_mask and apply_valid_mask).
Tensor masked_loss_weights(const Tensor& mask_in, Tensor sample_weight, const Tensor& y_pred, Reduction reduction) {
  Tensor mask = cast(mask_in, y_pred.dtype());
  if (reduction == Reduction::kSumOverBatchSize) {
    mask = mask * (sum(ones_like(mask)) / sum(mask));
  }
  if (!sample_weight.defined()) return mask;
  while (sample_weight.rank() < mask.rank()) sample_weight = expand_dims(sample_weight, -1);
  return sample_weight * mask;
}

StepResult forward_and_loss(Model& model, Model::TrainingState& s, const std::vector<Tensor>& x,
                            const std::vector<Tensor>& y, const Tensor& sample_weight, bool training) {
  StepResult r;
  LossCollector collector;
  internal::AddedMetricCollector added_metrics;
  CallContext ctx;
  ctx.training = training;
  Layer::Outputs outputs = model.call_with_masks(x, ctx);
  r.y_pred = std::move(outputs.tensors);
  STRATA_CHECK(r.y_pred.size() == y.size(), ValueError, "model '", model.name(), "' has ", r.y_pred.size(),
               " outputs but ", y.size(), " targets were given");
  r.y_true = y;
  r.sample_weights.assign(y.size(), sample_weight);
  for (std::size_t i = 0; i < r.y_pred.size(); ++i) {
    match_target(r.y_true[i], r.y_pred[i], r.sample_weights[i]);
    const bool masked = i < outputs.masks.size() && outputs.masks[i].defined();
    r.metric_weights.push_back(masked ? cast(outputs.masks[i], r.y_pred[i].dtype()) : Tensor());
    Tensor l = (*s.losses[i])(r.y_true[i], r.y_pred[i],
                              masked ? masked_loss_weights(outputs.masks[i], r.sample_weights[i], r.y_pred[i],
                                                           s.losses[i]->reduction())
                                     : r.sample_weights[i]);
    r.per_output.push_back(l);
    Tensor weighted = s.loss_weights[i] == 1.0 ? l : l * s.loss_weights[i];
    r.total = r.total.defined() ? r.total + weighted : weighted;
  }
  std::vector<Tensor> extra = collector.losses();
  r.call_losses = !extra.empty();
  // model.add_loss(function) terms, in training and evaluation as in Keras.
  for (const auto& fn : model.loss_functions()) extra.push_back(fn());
  for (const auto& v : added_metrics.values()) r.added_metrics.emplace_back(v.name, v.value);
  // The weights' regularization penalties, in evaluation too: Keras's test_step adds
  // model.losses, which hold them (tf-keras's evaluate reports mse + l * penalty).
  auto reg = model.regularization_losses();
  extra.insert(extra.end(), reg.begin(), reg.end());
  for (const auto& e : extra) r.total = r.total + cast(e, r.total.dtype());
  return r;
}

Logs collect_logs(Model& model, Model::TrainingState& s) {
  Logs logs;
  logs.set("loss", s.loss_tracker->result().item<float>());
  const auto names = output_names(model, s.losses.size());
  for (std::size_t i = 0; i < s.output_loss_trackers.size(); ++i) {
    logs.set(names[i] + "_loss", s.output_loss_trackers[i]->result().item<float>());
  }
  for (std::size_t i = 0; i < s.metrics.size(); ++i) {
    for (const auto& m : s.metrics[i]) {
      // With several outputs Keras prefixes the output's name, except for metrics revived from a
      // file's training_config, whose names carry it already ("out1_mae"; tf-keras's
      // _from_serialized): no "out1_out1_mae".
      const std::string prefix = names[i] + "_";
      const bool named = m->name().compare(0, prefix.size(), prefix) == 0;
      const std::string key = s.metrics.size() > 1 && !named ? prefix + m->name() : m->name();
      logs.set(key, scalar_of(internal::call_object_code(ObjectKind::kMetric, *m, "result", [&] { return m->result(); })));
    }
  }
  for (const auto& t : s.added_metric_trackers) logs.set(t->name(), t->result().item<float>());
  return logs;
}

void update_trackers(Model::TrainingState& s, const StepResult& r, std::int64_t batch) {
  s.loss_tracker->update(r.total, static_cast<double>(batch));
  if (s.losses.size() > 1 && s.output_loss_trackers.empty()) {
    for (std::size_t i = 0; i < s.losses.size(); ++i) {
      s.output_loss_trackers.push_back(std::make_shared<MeanTracker>(detail::concat("output_", i, "_loss")));
    }
  }
  for (std::size_t i = 0; i < s.output_loss_trackers.size(); ++i) {
    s.output_loss_trackers[i]->update(r.per_output[i], static_cast<double>(batch));
  }
  for (const auto& added : r.added_metrics) {
    const std::string& metric_name = added.first;
    auto it = std::find_if(s.added_metric_trackers.begin(), s.added_metric_trackers.end(),
                           [&](const std::shared_ptr<MeanTracker>& t) { return t->name() == metric_name; });
    if (it == s.added_metric_trackers.end()) {
      s.added_metric_trackers.push_back(std::make_shared<MeanTracker>(metric_name));
      it = std::prev(s.added_metric_trackers.end());
    }
    (*it)->update(added.second, 1.0);
  }
  ensure_metrics(s, r.y_true, r.y_pred);
  for (std::size_t i = 0; i < s.metrics.size(); ++i) {
    for (const auto& m : s.metrics[i]) {
      internal::call_object_code(ObjectKind::kMetric, *m, "update_state",
                                 [&] { m->update_state(r.y_true[i], r.y_pred[i], r.metric_weights[i]); });
    }
  }
}

}  // namespace

Logs Model::train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  STRATA_CHECK(training_ != nullptr, ValueError, "model '", name(), "' must be compiled before training (call compile)");
  TrainingState& s = *training_;
  StepResult r;
  std::vector<Variable> vars;
  std::vector<Tensor> grads;
  internal::ReplicaStep replica(*this);  // data parallelism (distribute/): no-op without a strategy
  const std::int64_t batch = x.empty() ? 1 : x[0].shape()[0];
  const double scale = internal::loss_scale_factor(*s.optimizer);  // Keras 3's optimizer.scale_loss
  // The traced step (traced_step.hpp) when it can be exact, else the eager tape. A replica of a
  // strategy traces its loss times local/global batch (scale_loss's factor, baked into the
  // graph; a new factor is a new signature) and steps eagerly when the forward pass combines
  // values across replicas (SyncBatchNormalization) or its shard is empty.
  const internal::ForwardFn forward = [&](const std::vector<Tensor>& fx, const std::vector<Tensor>& fy,
                                          const Tensor& fsw) {
    return forward_and_loss(*this, s, fx, fy, fsw, /*training=*/true);
  };
  std::optional<internal::TracedGradients> traced;
  const double replica_factor = replica.loss_factor(batch);
  if (replica_factor > 0.0) {
    const double traced_scale =
        !replica.active() ? scale : (scale != 0.0 ? scale : 1.0) * replica_factor;  // 0: no scaling
    // Under a strategy the graph reports each gradient as it computes it, and a bucket's
    // all-reduce starts while the graph goes on with the earlier layers (DDP's overlap).
    traced = s.traced_step.run(*this, *s.optimizer, s.losses, traced_scale, forward, x, y, sample_weight,
                               replica.active() ? replica.gradient_ready_hook(trainable_weights())
                                                : internal::GradientReadyHook());
  }
  if (traced) {
    r = std::move(traced->result);
    vars = std::move(traced->variables);
    grads = std::move(traced->gradients);
  } else {
    internal::note_eager_train_step();
    GradientTape tape;
    r = forward(x, y, sample_weight);
    vars = trainable_weights();
    // Data parallelism: the replica's part of the global batch's mean loss (distribute/).
    const Tensor loss = replica.scale_loss(r.total, batch);
    const auto overlap = replica.overlap_backward(vars);  // buckets all-reduced during the walk
    grads = tape.gradient(scale != 0.0 ? loss * scalar_like(loss, scale) : loss, vars);
  }
  replica.reduce_gradients(grads, batch);
  s.optimizer->apply_gradients(grads, vars);
  std::vector<std::pair<Variable, std::shared_ptr<Constraint>>> constraints;
  collect_constraints(*this, constraints);
  for (auto& [v, c] : constraints) {
    if (v.trainable()) v.assign((*c)(v.value()));
  }
  update_trackers(s, r, batch);
  replica.sync_metrics(metrics());
  return collect_logs(*this, s);
}

Logs Model::test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  STRATA_CHECK(training_ != nullptr, ValueError, "model '", name(), "' must be compiled before evaluation (call compile)");
  TrainingState& s = *training_;
  const StepResult r = forward_and_loss(*this, s, x, y, sample_weight, /*training=*/false);
  const std::int64_t batch = x.empty() ? 1 : x[0].shape()[0];
  update_trackers(s, r, batch);
  return collect_logs(*this, s);
}

Logs Model::train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  const ThreadScope threads(detail::model_call_threads(*this));
  reset_metrics();
  return train_step(x, y, sample_weight);
}

Logs Model::test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  const ThreadScope threads(detail::model_call_threads(*this));
  reset_metrics();
  return test_step(x, y, sample_weight);
}

std::vector<Tensor> Model::predict_on_batch(const std::vector<Tensor>& x) const {
  const ThreadScope threads(detail::model_call_threads(*this));
  return (*this)(x);
}

// ---- fit / evaluate ----------------------------------------------------------------------------------

namespace {

std::int64_t sample_count(const std::vector<Tensor>& x, const std::vector<Tensor>& y) {
  STRATA_CHECK(!x.empty(), ValueError, "fit/evaluate need at least one input");
  const std::int64_t n = x[0].rank() ? x[0].shape()[0] : 1;
  for (const auto* group : {&x, &y}) {
    for (const auto& t : *group) {
      STRATA_CHECK(t.rank() >= 1 && t.shape()[0] == n, ShapeError, "every input and target needs ", n,
                   " samples along the first dimension, got shape ", t.shape().to_string());
    }
  }
  return n;
}

Tensor take(const Tensor& t, const Tensor& indices) { return gather(t, indices.to(t.device()), 0); }

Tensor rows(const Tensor& t, std::int64_t start, std::int64_t len) {
  std::vector<std::int64_t> begin(t.rank(), 0), size = t.shape().dims();
  begin[0] = start;
  size[0] = len;
  return slice(t, begin, size);
}

// One step's rows [start, start + len) of fit's and evaluate's inputs, held for the step.
// A step's rows are contiguous when fit does not shuffle (and always in evaluate), so the
// rows of a cpu tensor are borrowed in place rather than copied by a Slice op (at batch 256
// of the guide's MLP the copy was 7% of fit's time, the whole difference from the same steps
// through train_on_batch). The borrow ends with the step: a tensor the step kept beyond it
// takes a copy of its own then (Tensor::end_borrow), so nothing reads the caller's tensor
// after fit returns. Other tensors (strings, device memory) are sliced.
class StepRows {
 public:
  StepRows() = default;
  StepRows(const StepRows&) = delete;
  StepRows& operator=(const StepRows&) = delete;
  ~StepRows() {
    for (const auto& t : x) end(t);
    for (const auto& t : y) end(t);
    end(sample_weight);
  }

  static Tensor rows(const Tensor& t, std::int64_t start, std::int64_t len) {
    if (!t.defined() || t.is_symbolic() || t.rank() == 0 || t.dtype() == DType::kString ||
        t.device() != Device::cpu() || t.shape().dim(0) <= 0) {
      return t.defined() ? strata::rows(t, start, len) : Tensor();
    }
    const std::size_t row_bytes = t.nbytes() / static_cast<std::size_t>(t.shape().dim(0));
    std::vector<std::int64_t> dims = t.shape().dims();
    dims[0] = len;
    return Tensor::borrow_host(t.dtype(), Shape(dims),
                               static_cast<const char*>(t.data()) + static_cast<std::size_t>(start) * row_bytes,
                               static_cast<std::size_t>(len) * row_bytes);
  }

  std::vector<Tensor> x, y;
  Tensor sample_weight;

 private:
  static void end(const Tensor& t) {
    try {
      Tensor::end_borrow(t);
    } catch (...) {
      // No memory for the copy a kept tensor needs: it would read the caller's tensor after
      // fit returns, so stop here (as the C API's borrowed inputs do).
      std::terminate();
    }
  }
};

std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, std::abs(v) > 1e-3 ? "%.4f" : "%.4e", v);
  return buf;
}

std::string format_time(double seconds, const char* unit) {
  char buf[64];
  if (seconds >= 1 || seconds == 0) {
    std::snprintf(buf, sizeof buf, " %.0fs/%s", seconds, unit);
  } else if (seconds >= 1e-3) {
    std::snprintf(buf, sizeof buf, " %.0fms/%s", seconds * 1e3, unit);
  } else {
    std::snprintf(buf, sizeof buf, " %.0fus/%s", seconds * 1e6, unit);
  }
  return buf;
}

// Keras's Progbar: "32/32 [==============================] - 0s 2ms/step - loss: 0.1234".
class Progbar {
 public:
  Progbar(std::ostream& out, std::int64_t target, int verbose, bool dynamic)
      : out_(out), target_(target), verbose_(verbose), dynamic_(dynamic), start_(clock::now()) {}

  void update(std::int64_t current, const Logs& logs, bool finalize) {
    // Nothing is printed for this update: return before formatting anything (fit calls this
    // once per step).
    if (verbose_ == 0 || (verbose_ == 2 && !finalize) || (verbose_ == 1 && !finalize && !dynamic_)) return;
    const auto now = clock::now();
    if (verbose_ == 1 && !finalize && seconds(now - last_) < 0.05) return;  // redrawn at most every 50 ms
    const double elapsed = seconds(now - start_);
    const double per_step = current > 0 ? elapsed / static_cast<double>(current) : 0.0;
    std::string values;
    for (const auto& [k, v] : logs.items()) values += " - " + k + ": " + format_value(v);
    const std::string total = std::to_string(target_);
    std::string done = std::to_string(current);
    if (done.size() < total.size()) done.insert(0, total.size() - done.size(), ' ');
    const std::string count = done + "/" + total;
    if (verbose_ == 1) {
      if (!finalize && (!dynamic_ || seconds(now - last_) < 0.05)) return;
      last_ = now;
      std::string bar = count + " [";
      const int width = 30;
      const int prog = static_cast<int>(width * static_cast<double>(current) / static_cast<double>(std::max<std::int64_t>(target_, 1)));
      if (prog > 0) {
        bar += std::string(static_cast<std::size_t>(prog - 1), '=');
        bar += current < target_ ? '>' : '=';
      }
      bar += std::string(static_cast<std::size_t>(width - prog), '.') + "]";
      char elapsed_text[32];
      std::snprintf(elapsed_text, sizeof elapsed_text, " - %.0fs", elapsed);
      std::string info = finalize ? std::string(elapsed_text) + format_time(per_step, "step") : std::string();
      if (!finalize) {
        char eta[48];
        std::snprintf(eta, sizeof eta, " - ETA: %.0fs", per_step * static_cast<double>(target_ - current));
        info = eta;
      }
      const std::string line = bar + info + values;
      if (dynamic_) {
        out_ << "\r" << line;
        if (line.size() < width_) out_ << std::string(width_ - line.size(), ' ');
        width_ = line.size();
        if (finalize) out_ << "\n";
      } else if (finalize) {
        out_ << line << "\n";
      }
      out_.flush();
    } else if (verbose_ == 2 && finalize) {
      char secs[32];
      std::snprintf(secs, sizeof secs, " - %.0fs", elapsed);
      // tf-keras 2.17 and 2.21: "2/2 - 0s - loss: 1.1862 - mae: 0.9578 - 16ms/epoch - 8ms/step".
      out_ << count << secs << values << " -" << format_time(elapsed, "epoch") << " -" << format_time(per_step, "step")
           << "\n";
      out_.flush();
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }
  std::ostream& out_;
  std::int64_t target_;
  int verbose_;
  bool dynamic_;
  clock::time_point start_;
  clock::time_point last_{};
  std::size_t width_ = 0;
};

bool is_terminal(const std::ostream& out) { return &out == &std::cout && isatty(STDOUT_FILENO) != 0; }

}  // namespace

namespace {

// Model::evaluate with optional per-sample weights (fit's validation of a weighted fit).
Logs evaluate_weighted(Model& model, const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                       const Tensor& sample_weight, std::int64_t batch_size, int verbose) {
  STRATA_CHECK(model.is_compiled(), ValueError, "model '", model.name(),
               "' must be compiled before evaluate (call compile)");
  STRATA_CHECK(batch_size > 0, ValueError, "evaluate needs batch_size > 0");
  const std::int64_t n = sample_count(x, y);
  const std::int64_t steps = (n + batch_size - 1) / batch_size;
  model.reset_metrics();
  Progbar bar(std::cout, steps, verbose, is_terminal(std::cout));
  Logs logs;
  for (std::int64_t step = 0; step < steps; ++step) {
    const std::int64_t start = step * batch_size;
    const std::int64_t len = std::min(batch_size, n - start);
    StepRows batch;
    for (const auto& t : x) batch.x.push_back(StepRows::rows(t, start, len));
    for (const auto& t : y) batch.y.push_back(StepRows::rows(t, start, len));
    batch.sample_weight = StepRows::rows(sample_weight, start, len);
    logs = model.test_step(batch.x, batch.y, batch.sample_weight);
    bar.update(step + 1, logs, step + 1 == steps);
  }
  return logs;
}

}  // namespace

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  return fit(std::vector<Tensor>{x}, std::vector<Tensor>{y}, options);
}

History Model::fit(const std::vector<Tensor>& x_in, const std::vector<Tensor>& y_in, const FitOptions& options_in) {
  STRATA_CHECK(training_ != nullptr, ValueError, "model '", name(), "' must be compiled before fit (call compile)");
  const ThreadScope threads(detail::model_call_threads(*this));
  // Data parallelism (distribute/): variables broadcast, progress and files on the chief only.
  const FitOptions options = internal::distributed_fit_options(*this, options_in);
  STRATA_CHECK(options.batch_size > 0 && options.epochs >= 0, ValueError, "fit needs batch_size > 0 and epochs >= 0");
  STRATA_CHECK(options.validation_split >= 0.0 && options.validation_split < 1.0, ValueError,
               "validation_split must be in [0, 1), got ", options.validation_split);
  std::ostream& out = options.out ? *options.out : std::cout;
  std::vector<Tensor> x = x_in, y = y_in;
  Tensor sw = options.sample_weight;
  std::int64_t n = sample_count(x, y);
  STRATA_CHECK(!sw.defined() || (sw.rank() >= 1 && sw.shape()[0] == n), ShapeError,
               "fit: sample_weight needs one weight per sample (", n, "), got shape ", sw.shape().to_string());
  std::optional<std::pair<std::vector<Tensor>, std::vector<Tensor>>> validation = options.validation_data;
  Tensor validation_weight;
  if (!validation && options.validation_split > 0.0) {
    const auto split = static_cast<std::int64_t>(static_cast<double>(n) * (1.0 - options.validation_split));
    std::vector<Tensor> vx, vy;
    for (auto& t : x) {
      vx.push_back(rows(t, split, n - split));
      t = rows(t, 0, split);
    }
    for (auto& t : y) {
      vy.push_back(rows(t, split, n - split));
      t = rows(t, 0, split);
    }
    // The held-out samples keep their weights (Keras splits sample_weight with x and y).
    if (sw.defined()) {
      validation_weight = rows(sw, split, n - split);
      sw = rows(sw, 0, split);
    }
    validation.emplace(std::move(vx), std::move(vy));
    n = split;
  }
  const std::int64_t steps = (n + options.batch_size - 1) / options.batch_size;

  // Shuffling follows set_random_seed (Keras's global seed).
  const auto [seed1, seed2] = internal::resolve_seeds(0, 0);
  // Data parallelism: every replica shuffles with rank 0's seed (distribute/).
  std::mt19937_64 rng(internal::agreed_seed(
      *this, static_cast<std::uint64_t>(seed1) * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(seed2)));

  std::vector<std::shared_ptr<Callback>> callbacks = options.callbacks;
  for (auto& cb : callbacks) cb->set_model(this);
  History history;
  stop_training = false;
  Logs logs;
  for (auto& cb : callbacks) cb->on_train_begin(logs);
  for (int epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
    reset_metrics();
    for (auto& cb : callbacks) cb->on_epoch_begin(epoch, logs);
    // Keras prints it for verbose 1 and 2, when there is more than one epoch.
    if (options.verbose != 0 && options.epochs > 1) out << "Epoch " << epoch + 1 << "/" << options.epochs << "\n";
    Progbar bar(out, steps, options.verbose, is_terminal(out));
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    if (options.shuffle) std::shuffle(order.begin(), order.end(), rng);
    for (std::int64_t step = 0; step < steps; ++step) {
      // This replica's shard of the global batch (the whole batch without a strategy).
      const auto shard = internal::replica_shard(*this, step * options.batch_size,
                                                 std::min(options.batch_size, n - step * options.batch_size));
      const std::int64_t start = shard.first;
      const std::int64_t len = shard.second;
      StepRows batch;
      if (options.shuffle) {
        std::vector<std::int64_t> idx(order.begin() + start, order.begin() + start + len);
        const Tensor indices = int_tensor(idx);
        for (const auto& t : x) batch.x.push_back(take(t, indices));
        for (const auto& t : y) batch.y.push_back(take(t, indices));
        if (sw.defined()) batch.sample_weight = take(sw, indices);
      } else {
        for (const auto& t : x) batch.x.push_back(StepRows::rows(t, start, len));
        for (const auto& t : y) batch.y.push_back(StepRows::rows(t, start, len));
        batch.sample_weight = StepRows::rows(sw, start, len);
      }
      for (auto& cb : callbacks) cb->on_train_batch_begin(static_cast<int>(step), logs);
      logs = train_step(batch.x, batch.y, batch.sample_weight);
      for (auto& cb : callbacks) cb->on_train_batch_end(static_cast<int>(step), logs);
      // With validation, the epoch's last line waits for the validation results (Keras
      // prints them on the same line).
      if (step + 1 < steps || !validation) bar.update(step + 1, logs, step + 1 == steps);
    }
    Logs epoch_logs = logs;
    if (validation) {
      const Logs val = evaluate_weighted(*this, validation->first, validation->second, validation_weight,
                                         options.batch_size, 0);
      for (const auto& [k, v] : val.items()) epoch_logs.set("val_" + k, v);
      bar.update(steps, epoch_logs, true);
    }
    for (auto& cb : callbacks) cb->on_epoch_end(epoch, epoch_logs);
    history.epoch.push_back(epoch);
    for (const auto& [k, v] : epoch_logs.items()) history.history[k].push_back(v);
    if (stop_training) break;
  }
  // Keras's fit ends with optimizer.finalize_variable_values (use_ema: the averages).
  if (options.epochs > 0) internal::finalize_variable_values(*training_->optimizer, trainable_weights());
  for (auto& cb : callbacks) cb->on_train_end(logs);
  return history;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, int verbose) {
  return evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}, batch_size, verbose);
}

Logs Model::evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, std::int64_t batch_size, int verbose) {
  const ThreadScope threads(detail::model_call_threads(*this));
  return evaluate_weighted(*this, x, y, Tensor(), batch_size, verbose);
}

}  // namespace strata
