// The traced train step (traced_step.hpp). One graph per input signature computes the total
// loss, the per-output losses, the predictions, the matched targets, the metric weights and
// the gradients of the trainable weights. The gradients are built symbolically: each forward
// op's registered gradient function (written in ops) is applied to the traced tensors, in the
// reverse of the order the ops were traced, which is the order the eager step's GradientTape
// replays them; gradients flowing into one tensor accumulate in the tape's order too. With no
// training-safe graph pass registered, the traced step computes what the eager step computes,
// op for op; a fusing pass would change only the fused ops' rounding.
#include "training/traced_step.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "ops/internal.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/log.hpp"
#include "strata/losses.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/plugin/op_def.hpp"
#include "strata/stateful.hpp"
#include "strata/training.hpp"

namespace strata {

namespace {

struct Switch {
  std::atomic<int> override_state{-1};  // -1: the environment decides
  bool from_env = [] {
    const char* env = std::getenv("STRATA_TRACED_TRAIN_STEP");
    return env == nullptr || std::string_view(env) != "0";
  }();
};
Switch& traced_switch() {
  static Switch s;
  return s;
}

struct Counters {
  std::atomic<std::uint64_t> traced{0}, eager{0}, traces{0}, fallbacks{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

// Thrown while tracing when the trace would not be exact (caught by run()).
struct NotTraceable {
  std::string why;
};

}  // namespace

void set_traced_train_step_enabled(bool enabled) noexcept {
  traced_switch().override_state = enabled ? 1 : 0;
}

bool traced_train_step_enabled() noexcept {
  const int o = traced_switch().override_state.load();
  return o < 0 ? traced_switch().from_env : o == 1;
}

TracedTrainStepStats traced_train_step_stats() noexcept {
  const Counters& c = counters();
  return {c.traced.load(), c.eager.load(), c.traces.load(), c.fallbacks.load()};
}

void reset_traced_train_step_stats() noexcept {
  Counters& c = counters();
  c.traced = 0;
  c.eager = 0;
  c.traces = 0;
  c.fallbacks = 0;
}

namespace internal {

void note_eager_train_step() noexcept {
  ++counters().eager;
}

namespace {

enum class Kind : std::uint8_t { kPlaceholder, kConst, kRead, kAssign, kOp };

Kind kind_of(const GraphNode& node) {
  if (node.op == "Placeholder") return Kind::kPlaceholder;
  if (node.op == "Const") return Kind::kConst;
  if (node.op == "ReadVariableOp") return Kind::kRead;
  if (node.op == "AssignVariableOp") return Kind::kAssign;
  return Kind::kOp;
}

using Slot = std::pair<const GraphNode*, int>;
struct SlotHash {
  std::size_t operator()(const Slot& s) const noexcept {
    return std::hash<const void*>()(s.first) ^ (static_cast<std::size_t>(s.second) * 0x9E3779B97F4A7C15ull);
  }
};

// d target / d (each variable's reads), built from the traced forward ops. Mirrors
// GradientTape::gradient(target, variables): the ops that depend on a read of a source, walked
// in reverse trace order, each gradient accumulated as existing + new; every read of one
// variable is one source (the eager tape sees one tensor for repeated reads of an unchanged
// variable).
std::vector<Tensor> symbolic_gradients(const std::vector<Tensor>& placeholders, const Tensor& target,
                                       const std::vector<Variable>& sources) {
  const Graph forward(placeholders, {target}, "train_step_forward");
  // Every symbolic tensor of the graph by slot, and each node's trace order (its outputs'
  // tensor ids grow with creation).
  std::unordered_map<Slot, Tensor, SlotHash> tensors;
  std::unordered_map<const GraphNode*, std::uint64_t> order;
  const auto note = [&](const Tensor& t) {
    const Slot slot{t.node().get(), t.output_index()};
    tensors.emplace(slot, t);
    auto [it, inserted] = order.emplace(slot.first, t.id());
    if (!inserted) it->second = std::min(it->second, t.id());
  };
  note(target);
  for (const auto& node : forward.nodes()) {
    for (const auto& in : node->inputs) note(in);
  }
  std::vector<std::shared_ptr<GraphNode>> nodes = forward.nodes();
  std::stable_sort(nodes.begin(), nodes.end(),
                   [&](const std::shared_ptr<GraphNode>& a, const std::shared_ptr<GraphNode>& b) {
                     return order.at(a.get()) < order.at(b.get());
                   });

  // The reads of each source, merged into the first read's slot.
  std::unordered_map<std::uint64_t, std::size_t> source_index;
  for (std::size_t i = 0; i < sources.size(); ++i) source_index.emplace(sources[i].id(), i);
  std::vector<std::optional<Slot>> source_slot(sources.size());
  std::unordered_map<const GraphNode*, Slot> canonical;  // read node -> its variable's first read
  std::unordered_set<const GraphNode*> depends;
  for (const auto& shared : nodes) {
    const GraphNode* node = shared.get();
    if (kind_of(*node) == Kind::kRead) {
      const auto it = node->variable.defined() ? source_index.find(node->variable.id()) : source_index.end();
      if (it == source_index.end()) continue;
      auto& first = source_slot[it->second];
      if (!first) first = Slot{node, 0};
      canonical.emplace(node, *first);
      depends.insert(node);
    } else if (kind_of(*node) == Kind::kOp) {
      if (std::any_of(node->inputs.begin(), node->inputs.end(),
                      [&](const Tensor& t) { return depends.count(t.node().get()) > 0; })) {
        depends.insert(node);
      }
    }
  }
  std::vector<Tensor> out(sources.size());
  if (!depends.count(target.node().get())) return out;

  const auto key_of = [&](const Tensor& t) -> Slot {
    const Slot slot{t.node().get(), t.output_index()};
    const auto c = canonical.find(slot.first);
    return c == canonical.end() ? slot : c->second;
  };
  std::unordered_map<Slot, Tensor, SlotHash> grads;
  grads.emplace(key_of(target), ones_like(target));
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const std::shared_ptr<GraphNode>& shared = *it;
    const GraphNode& node = *shared;
    if (kind_of(node) != Kind::kOp || !depends.count(&node)) continue;
    std::vector<Tensor> out_grads(node.outputs.size());
    std::vector<Tensor> outputs(node.outputs.size());
    bool any = false;
    for (std::size_t i = 0; i < node.outputs.size(); ++i) {
      const Slot slot{&node, static_cast<int>(i)};
      if (auto g = grads.find(slot); g != grads.end()) {
        out_grads[i] = g->second;
        any = true;
      }
      if (auto t = tensors.find(slot); t != tensors.end()) {
        outputs[i] = t->second;
      } else {
        // An output nothing reads: a tensor of the node all the same (gradient functions
        // may look at every output).
        const Device device = node.inputs.empty() ? default_device() : node.inputs.front().device();
        outputs[i] =
            Tensor::symbolic(node.outputs[i].dtype, node.outputs[i].shape, shared, static_cast<int>(i), device);
      }
    }
    if (!any) continue;
    std::vector<bool> needs_vec(node.inputs.size());
    bool needed = false;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      needs_vec[i] = depends.count(node.inputs[i].node().get()) > 0;
      needed = needed || needs_vec[i];
    }
    if (!needed) continue;
    const OpDef& def = op_def(node.op);
    if (def.not_differentiable) continue;
    if (!def.gradient) throw NotTraceable{detail::concat("op ", node.op, " has no gradient")};
    std::unique_ptr<bool[]> needs(new bool[node.inputs.size()]);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) needs[i] = needs_vec[i];
    // Constants as their values (gradient functions read axes and shapes from the host, as
    // they do in eager execution).
    std::vector<Tensor> inputs = node.inputs;
    for (auto& in : inputs) {
      const GraphNode& from = *in.node();
      if (kind_of(from) == Kind::kConst && from.value.defined() && !from.value.is_symbolic()) in = from.value;
    }
    GradientContext ctx{node.attrs, inputs, outputs, out_grads, std::span<const bool>(needs.get(), node.inputs.size())};
    std::vector<Tensor> in_grads = def.gradient(ctx);
    STRATA_CHECK(in_grads.size() == node.inputs.size(), ValueError, "the gradient of ", def.name, " returned ",
                 in_grads.size(), " tensors for ", node.inputs.size(), " inputs");
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (!needs_vec[i] || !in_grads[i].defined()) continue;
      STRATA_CHECK(in_grads[i].shape().is_compatible_with(node.inputs[i].shape()), ShapeError, "the gradient of ",
                   def.name, " for input ", i, " has shape ", in_grads[i].shape().to_string(), ", not ",
                   node.inputs[i].shape().to_string());
      auto [g, inserted] = grads.emplace(key_of(node.inputs[i]), in_grads[i]);
      if (!inserted) g->second = add(g->second, in_grads[i]);
    }
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (!source_slot[i]) continue;
    if (auto g = grads.find(*source_slot[i]); g != grads.end()) out[i] = g->second;
  }
  return out;
}

void walk_layers(const Layer& layer, const std::function<void(const Layer&)>& fn) {
  fn(layer);
  for (const auto& c : layer.children()) {
    if (c.layer) walk_layers(*c.layer, fn);
  }
}

// Whether `layer` carries state from one call to the next: a StatefulLayer, unless it keeps
// its state in Variables and has none (the recurrent layers without stateful=True).
bool carries_state(const Layer& layer) {
  if (const auto* v = dynamic_cast<const StateVariablesLayer*>(&layer)) return !v->state_variables().empty();
  return dynamic_cast<const StatefulLayer*>(&layer) != nullptr;
}

// Why `model` cannot be traced before trying (empty: it may be).
std::string untraceable_model(const Model& model, const Optimizer& optimizer) {
  if (loss_scale(optimizer) != nullptr) return "a loss-scaling optimizer adjusts its scale step by step";
  std::string why;
  walk_layers(model, [&](const Layer& layer) {
    if (!why.empty()) return;
    if (!layer.built()) {
      why = detail::concat("layer '", layer.name(), "' is not built yet");
    } else if (carries_state(layer)) {
      why = detail::concat("layer '", layer.name(), "' carries state from one call to the next");
    }
  });
  if (!why.empty()) return why;
  for (const auto& layer : model.layers()) {
    walk_layers(*layer, [&](const Layer& l) {
      if (!why.empty() || &l == &model) return;
      Config config;
      try {
        config = l.get_config();
      } catch (const Error&) {
        return;  // a subclassed layer without a config: its ops say what they are
      }
      if (l.class_name() == "AddLoss" || l.class_name() == "AddMetric") {
        why = detail::concat("layer '", l.name(), "' adds a loss or metric (model.add_loss / add_metric)");
        return;
      }
      if (!config.is_object()) return;
      const auto positive = [&](const char* key) {
        return config.contains(key) && config[key].is_number() && config[key].get<double>() > 0.0;
      };
      if (config.contains("seed") && !config["seed"].is_null()) {
        why = detail::concat("layer '", l.name(), "' draws seeded random numbers (seed, seed + 1, ... per call)");
      } else if (config.contains("activity_regularizer") && !config["activity_regularizer"].is_null()) {
        // Some layers add the penalty only for values.
        why = detail::concat("layer '", l.name(), "' has an activity regularizer");
      } else if (config.contains("recurrent_dropout") && (positive("dropout") || positive("recurrent_dropout"))) {
        // Recurrent cells draw their dropout masks only when they see values.
        why = detail::concat("layer '", l.name(), "' uses recurrent dropout");
      }
    });
  }
  return why;
}

// Why the traced graph would not compute what the eager step does (empty: it would).
std::string inexact_graph(const Graph& graph, const Model& model) {
  std::unordered_set<const void*> variable_buffers;
  std::unordered_set<std::uint64_t> variable_values;
  for (const auto& v : model.weights()) {
    const Tensor value = v.value();
    variable_values.insert(value.id());
    if (!value.is_symbolic()) variable_buffers.insert(value.buffer().get());
  }
  for (const auto& node : graph.nodes()) {
    if (node->op == kLayerCallOp) return detail::concat("layer call '", node->name, "' was not traced into ops");
    if (node->op == "Const" && node->value.defined() && !node->value.is_symbolic()) {
      if (variable_values.count(node->value.id()) || variable_buffers.count(node->value.buffer().get())) {
        return detail::concat("node '", node->name, "' captured a variable's value as a constant");
      }
      continue;
    }
    if (kind_of(*node) != Kind::kOp) continue;
    const OpDef* def = nullptr;
    try {
      def = &op_def(node->op);
    } catch (const Error&) {
      return detail::concat("op ", node->op, " is not registered");
    }
    if (node->op == "strata.CrossReplicaAllReduce") {
      // The collective would run inside the graph, outside the replica step's bookkeeping.
      return detail::concat("op '", node->name, "' combines values across replicas (synchronized layers)");
    }
    if (def->stateful &&
        (node->attrs.get_or<std::int64_t>("seed", 0) != 0 || node->attrs.get_or<std::int64_t>("seed2", 0) != 0)) {
      return detail::concat("random op '", node->name, "' has a fixed seed: it would draw the same values each step");
    }
  }
  return {};
}

// sparse_categorical_crossentropy refuses labels outside [0, classes) when it sees values
// (the training plugin's check_label_range, issue 19); a trace has none, so the traced step
// checks the targets on the host before running the graph, as the eager loss does, with the
// same error.
struct LabelCheck {
  std::size_t output = 0;
  std::int64_t classes = 0;
  std::optional<std::int64_t> ignore_class;
};

std::optional<LabelCheck> label_check(const Loss& loss, std::size_t output, const Tensor& y_pred) {
  Config c;
  try {
    c = loss.get_config();
  } catch (const Error&) {
    return std::nullopt;
  }
  if (!c.is_object() || c.value("fn", Config()) != "sparse_categorical_crossentropy") return std::nullopt;
  if (!y_pred.shape().has_known_rank() || y_pred.rank() == 0) return std::nullopt;
  const Config axis = c.value("axis", Config(-1));
  const std::size_t a = y_pred.shape().normalize_axis(axis.is_number_integer() ? axis.get<std::int64_t>() : -1);
  LabelCheck check;
  check.output = output;
  check.classes = y_pred.shape()[a];
  const Config ignore = c.value("ignore_class", Config());
  if (ignore.is_number_integer()) check.ignore_class = ignore.get<std::int64_t>();
  return check;
}

void run_label_check(const LabelCheck& check, const Tensor& target) {
  if (target.num_elements() == 0) return;
  const auto labels = cast(target, DType::kInt64).to(Device::cpu()).to_vector<std::int64_t>();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int64_t label = labels[i];
    if ((label >= 0 && label < check.classes) || (check.ignore_class && label == *check.ignore_class)) continue;
    STRATA_THROW(ValueError, "sparse_categorical_crossentropy: label ", label, " (label number ", i,
                 ") is outside the valid range [0, ", check.classes, ") of the predictions' ", check.classes,
                 " classes; labels are class indices (pass ignore_class to skip a padding label)");
  }
}

bool same_meta(const Tensor& t, const TensorMeta& m) {
  return t.dtype() == m.dtype && t.shape() == m.shape;
}

}  // namespace

struct TracedTrainStep::Entry {
  // The signature.
  std::vector<TensorMeta> x, y;
  bool has_sample_weight = false;
  TensorMeta sample_weight;
  std::vector<std::uint64_t> variable_ids;
  double loss_scale = 0.0;
  // The graph (or why there is none: the signature runs eagerly).
  std::optional<Graph> graph;
  std::string fallback;
  std::size_t outputs = 0;
  std::vector<bool> metric_weight_defined, gradient_defined;
  std::vector<LabelCheck> label_checks;

  bool matches(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys, const Tensor& sw,
               const std::vector<Variable>& vars, double scale) const {
    if (xs.size() != x.size() || ys.size() != y.size() || sw.defined() != has_sample_weight ||
        vars.size() != variable_ids.size() || scale != loss_scale) {
      return false;
    }
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same_meta(xs[i], x[i])) return false;
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (!same_meta(ys[i], y[i])) return false;
    }
    if (has_sample_weight && !same_meta(sw, sample_weight)) return false;
    for (std::size_t i = 0; i < vars.size(); ++i) {
      if (vars[i].id() != variable_ids[i]) return false;
    }
    return true;
  }
};

TracedTrainStep::TracedTrainStep() = default;
TracedTrainStep::~TracedTrainStep() = default;

namespace {
constexpr std::size_t kEntriesPerModel = 8;
}  // namespace

std::optional<TracedGradients> TracedTrainStep::run(Model& model, const Optimizer& optimizer,
                                                    const std::vector<std::shared_ptr<Loss>>& losses, double loss_scale,
                                                    const ForwardFn& forward, const std::vector<Tensor>& x,
                                                    const std::vector<Tensor>& y, const Tensor& sample_weight,
                                                    const GradientReadyHook& on_gradient) {
  if (!traced_train_step_enabled() || is_tracing()) return std::nullopt;
  for (const auto* group : {&x, &y}) {
    for (const auto& t : *group) {
      if (!t.defined() || t.is_symbolic()) return std::nullopt;
    }
  }
  if (sample_weight.defined() && sample_weight.is_symbolic()) return std::nullopt;
  std::vector<Variable> vars = model.trainable_weights();

  Entry* entry = nullptr;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if ((*it)->matches(x, y, sample_weight, vars, loss_scale)) {
      entry = it->get();
      std::rotate(it, it + 1, entries_.end());  // most recently used last
      break;
    }
  }
  if (entry == nullptr && entries_.size() >= kEntriesPerModel && evictions_ >= kEntriesPerModel) {
    // Retracing for every new signature would cost more than the traced steps save.
    if (!thrashing_logged_) {
      thrashing_logged_ = true;
      log_debug("model '", model.name(), "': eager train step for new input signatures (", evictions_,
                " traced signatures dropped already; the ", kEntriesPerModel, " cached ones stay traced)");
    }
    return std::nullopt;
  }
  if (entry == nullptr) {
    // Not traceable yet (a layer still to be built): eager, and try again next step.
    const std::string why = untraceable_model(model, optimizer);
    auto e = std::make_unique<Entry>();
    for (const auto& t : x) e->x.push_back({t.dtype(), t.shape()});
    for (const auto& t : y) e->y.push_back({t.dtype(), t.shape()});
    e->has_sample_weight = sample_weight.defined();
    if (e->has_sample_weight) e->sample_weight = {sample_weight.dtype(), sample_weight.shape()};
    for (const auto& v : vars) e->variable_ids.push_back(v.id());
    e->loss_scale = loss_scale;
    if (!why.empty() && why.find("is not built yet") != std::string::npos) {
      log_debug("model '", model.name(), "': eager train step (", why, ")");
      return std::nullopt;
    }
    if (why.empty()) {
      ++counters().traces;
      std::vector<TensorSpec> specs;
      for (const auto& m : e->x) specs.emplace_back(m.shape, m.dtype, "x");
      for (const auto& m : e->y) specs.emplace_back(m.shape, m.dtype, "y");
      if (e->has_sample_weight) specs.emplace_back(e->sample_weight.shape, e->sample_weight.dtype, "sample_weight");
      const std::size_t nx = x.size(), ny = y.size();
      try {
        Graph graph = trace(
            [&](const std::vector<Tensor>& in) {
              const std::vector<Tensor> tx(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(nx));
              const std::vector<Tensor> ty(in.begin() + static_cast<std::ptrdiff_t>(nx),
                                           in.begin() + static_cast<std::ptrdiff_t>(nx + ny));
              const Tensor tsw = e->has_sample_weight ? in.back() : Tensor();
              StepResult r;
              {
                // Layers take their differentiable paths, as under the eager step's tape (no op
                // records on it while tracing).
                GradientTape tape;
                r = forward(tx, ty, tsw);
              }
              if (r.call_losses) throw NotTraceable{"a layer adds losses in call() (add_loss)"};
              if (!r.added_metrics.empty()) throw NotTraceable{"a layer adds metrics in call() (add_metric)"};
              const Tensor target = loss_scale != 0.0 ? r.total * scalar_like(r.total, loss_scale) : r.total;
              const std::vector<Tensor> grads = symbolic_gradients(in, target, vars);
              std::vector<Tensor> outputs{r.total};
              for (const auto* group : {&r.per_output, &r.y_pred, &r.y_true}) {
                outputs.insert(outputs.end(), group->begin(), group->end());
              }
              for (const auto& w : r.metric_weights) {
                e->metric_weight_defined.push_back(w.defined());
                if (w.defined()) outputs.push_back(w);
              }
              for (const auto& g : grads) {
                e->gradient_defined.push_back(g.defined());
                if (g.defined()) outputs.push_back(g);
              }
              e->outputs = r.per_output.size();
              for (std::size_t i = 0; i < r.y_pred.size() && i < losses.size(); ++i) {
                if (!losses[i]) continue;
                if (auto check = label_check(*losses[i], i, r.y_pred[i])) e->label_checks.push_back(*check);
              }
              return outputs;
            },
            specs, detail::concat(model.name(), "_train_step"));
        std::string inexact = inexact_graph(graph, model);
        if (inexact.empty()) {
          e->graph = optimize_graph(graph, x.front().device(), /*for_inference=*/false);
        } else {
          e->fallback = std::move(inexact);
        }
      } catch (const NotTraceable& n) {
        e->fallback = n.why;
      } catch (const std::exception& ex) {
        // A layer, loss or metric that needs values (or anything else the trace cannot do):
        // the eager step runs it as before.
        e->fallback = detail::concat("tracing failed: ", ex.what());
      }
    } else {
      e->fallback = why;
    }
    if (!e->graph) {
      ++counters().fallbacks;
      log_debug("model '", model.name(), "': eager train step (", e->fallback, ")");
    }
    if (entries_.size() >= kEntriesPerModel) {
      entries_.erase(entries_.begin());
      ++evictions_;
    }
    entries_.push_back(std::move(e));
    entry = entries_.back().get();
  }
  if (!entry->graph) return std::nullopt;

  for (const auto& check : entry->label_checks) run_label_check(check, y[check.output]);
  std::vector<Tensor> inputs = x;
  inputs.insert(inputs.end(), y.begin(), y.end());
  if (sample_weight.defined()) inputs.push_back(sample_weight);
  const std::size_t n = entry->outputs;
  std::optional<GraphOutputScope> report;
  if (on_gradient) {
    // The graph's outputs: the total, per-output losses, y_pred, y_true, the defined metric
    // weights, then the defined gradients in variable order.
    std::size_t k = 1 + 3 * n + static_cast<std::size_t>(std::count(entry->metric_weight_defined.begin(),
                                                                      entry->metric_weight_defined.end(), true));
    std::vector<std::ptrdiff_t> variable_of(k, -1);
    for (std::size_t v = 0; v < entry->gradient_defined.size(); ++v) {
      if (entry->gradient_defined[v]) {
        variable_of.push_back(static_cast<std::ptrdiff_t>(v));
      } else {
        on_gradient(v, Tensor());
      }
    }
    report.emplace([&on_gradient, variable_of = std::move(variable_of)](std::size_t output, const Tensor& value) {
      if (output < variable_of.size() && variable_of[output] >= 0) {
        on_gradient(static_cast<std::size_t>(variable_of[output]), value);
      }
    });
  }
  std::vector<Tensor> values = entry->graph->run(inputs);
  report.reset();
  TracedGradients out;
  std::size_t k = 0;
  out.result.total = values[k++];
  for (auto* group : {&out.result.per_output, &out.result.y_pred, &out.result.y_true}) {
    group->assign(values.begin() + static_cast<std::ptrdiff_t>(k), values.begin() + static_cast<std::ptrdiff_t>(k + n));
    k += n;
  }
  for (const bool defined : entry->metric_weight_defined) {
    out.result.metric_weights.push_back(defined ? values[k++] : Tensor());
  }
  for (const bool defined : entry->gradient_defined) out.gradients.push_back(defined ? values[k++] : Tensor());
  out.variables = std::move(vars);
  ++counters().traced;
  return out;
}

}  // namespace internal
}  // namespace strata
