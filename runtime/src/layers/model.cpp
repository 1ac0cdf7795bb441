// Model base (layers, predict, summary) and the InputLayer.
#include "strata/model.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <sstream>
#include <typeinfo>

#include "core/foreign_exception.hpp"
#include "core/threads_env.hpp"
#include "distribute/replica.hpp"
#include "layers/config_util.hpp"
#include "layers/keras3_dialect.hpp"
#include "layers/model_internal.hpp"
#include "strata/config_reader.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/registry.hpp"
#include "strata/ops.hpp"
#include "strata/threads.hpp"

namespace strata {
namespace internal {

// ---- InputLayer -------------------------------------------------------------------------------

InputLayer::InputLayer(const Config& config) : Layer("InputLayer", with_default_name(config)) {
  STRATA_CHECK(batch_input_shape().has_value(), FormatError, "InputLayer '", name(),
               "' needs batch_input_shape (or batch_shape / input_shape)");
  sparse_ = get_bool(config, "sparse", false);
  ragged_ = get_bool(config, "ragged", false);
  STRATA_CHECK(!sparse_ && !ragged_, ValueError, "InputLayer '", name(), "': sparse and ragged inputs are not supported");
  // tf-keras 2.21 writes "optional" (false unless the input may be None); 2.17 has no such key
  // and refuses it, so it is written back only when it was read.
  if (config.is_object() && config.contains("optional")) {
    optional_ = get_bool(config, "optional", false);
    STRATA_CHECK(!*optional_, ValueError, "InputLayer '", name(),
                 "': optional inputs (optional=True, which accept None) are not supported");
  }
  set_built({*batch_input_shape()});
}

Config InputLayer::with_default_name(const Config& config) {
  if (config.is_object() && config.contains("name") && config["name"].is_string()) return config;
  Config c = config.is_object() ? config : Config::object();
  c["name"] = unique_layer_name("input", /*zero_based=*/false);
  return c;
}

Tensor InputLayer::tensor() const {
  std::lock_guard lock(mutex_);
  if (auto node = node_.lock()) return Tensor::symbolic(dtype(), *batch_input_shape(), node, 0);
  auto node = std::make_shared<GraphNode>();
  node->op = "Placeholder";
  node->name = name();
  node->attrs.set("dtype", dtype());
  node->attrs.set("shape", *batch_input_shape());
  node->outputs = {{dtype(), *batch_input_shape()}};
  node->output_has_mask = {false};
  node->layer = std::const_pointer_cast<Layer>(shared_from_this());
  node_ = node;
  note_inbound_node(node);
  return Tensor::symbolic(dtype(), *batch_input_shape(), node, 0);
}

std::vector<Tensor> InputLayer::call(const std::vector<Tensor>& inputs, const CallContext&) const { return inputs; }

Config InputLayer::get_config() const {
  Config c = Config::object();
  c["batch_input_shape"] = shape_to_json(*batch_input_shape());
  c["dtype"] = std::string(dtype_name(dtype()));
  c["sparse"] = sparse_;
  c["ragged"] = ragged_;
  c["name"] = name();
  if (optional_) c["optional"] = *optional_;
  return c;
}

std::shared_ptr<InputLayer> make_input_layer(const Shape& batch_shape, const std::string& name, DType dtype) {
  Config c = Config::object();
  c["batch_input_shape"] = shape_to_json(batch_shape);
  c["dtype"] = std::string(dtype_name(dtype));
  if (!name.empty()) c["name"] = name;
  return std::make_shared<InputLayer>(c);
}

namespace {
std::vector<bool>& dialect_stack() {
  thread_local std::vector<bool> stack;
  return stack;
}
}  // namespace

bool legacy_children() {
  const auto& stack = dialect_stack();
  return stack.empty() ? true : stack.back();
}

ChildrenDialectScope::ChildrenDialectScope(bool legacy) { dialect_stack().push_back(legacy); }
ChildrenDialectScope::~ChildrenDialectScope() { dialect_stack().pop_back(); }

Config serialize_child_layer(const Layer& layer, bool legacy, bool children_legacy) {
  const bool keras3 = keras3_dialect();
  if (keras3) legacy = children_legacy = false;
  ChildrenDialectScope scope(children_legacy);
  if (legacy) return serialize_layer(layer);
  const std::string& cls = layer.class_name();
  const std::string module = Registry::global().find_erased(ObjectKind::kLayer, cls).module;
  Config c = Config::object();
  if (cls == "Functional") {
    c["module"] = keras3 ? "keras.src.models.functional" : "tf_keras.src.engine.functional";
    c["class_name"] = cls;
    c["config"] = layer.get_config();
    c["registered_name"] = "Functional";
  } else if (cls == "Sequential") {
    c["module"] = "keras";
    c["class_name"] = cls;
    c["config"] = layer.get_config();
    c["registered_name"] = nullptr;
  } else {
    const bool builtin = !module.empty();
    c["module"] = builtin ? module : "strata.custom";
    c["class_name"] = std::string(bare_name(cls));
    c["config"] = internal::call_layer_code(layer, "get_config", [&] { return layer.get_config(); });
    // tf-keras writes null for classes of its public API (module "keras.layers") and the
    // class name for the others (TFOpLambda's module is "tf_keras.src.layers.core.tf_op_layer").
    const bool public_module = module.rfind("keras", 0) == 0;
    // A custom class keeps the registered name its file gave it ("package>Name"): Keras finds
    // custom classes by that name.
    const std::optional<std::string> read = registered_name_read(layer);
    c["registered_name"] = !builtin ? Config(read.value_or(cls))
                           : public_module ? Config(nullptr)
                                           : Config(std::string(bare_name(cls)));
  }
  if (keras3 && c["config"].is_object()) {
    // Keras 3's InputLayer keys, and every other layer's dtype as a DTypePolicy object.
    if (cls == "InputLayer") {
      keras3_input_layer_config(c["config"]);
    } else if (c["config"].contains("dtype")) {
      c["config"]["dtype"] = keras3_dtype_policy(c["config"]["dtype"]);
    }
  }
  const auto& shapes = layer.build_input_shapes();
  // Keras 3 writes no build_config for graph models nested in a model (their layers hold it).
  // Nor for layers called with several arguments (recurrent layers with initial states,
  // attention): Keras 3's build takes them by name, and the model's graph builds them.
  const bool keras3_skips = keras3 && (is_graph_model(layer) || (shapes.size() > 1 && dynamic_cast<const CallArgumentsLayer*>(&layer)));
  if (layer.built() && !shapes.empty() && cls != "InputLayer" && !keras3_skips) {
    Config input_shape = shapes.size() == 1 ? shape_to_json(shapes[0]) : Config::array();
    if (shapes.size() > 1) {
      for (const auto& s : shapes) input_shape.push_back(shape_to_json(s));
    }
    c["build_config"] = Config{{"input_shape", input_shape}};
  }
  return c;
}

bool is_graph_model(const Layer& layer) {
  const auto* model = dynamic_cast<const Model*>(&layer);
  return model != nullptr && !model->inputs().empty();
}

}  // namespace internal

Tensor Input(const Shape& shape, const std::string& name, DType dtype, std::optional<std::int64_t> batch_size) {
  STRATA_CHECK(shape.has_known_rank(), ShapeError, "Input needs a shape of known rank");
  std::vector<std::int64_t> dims{batch_size.value_or(Shape::kUnknown)};
  dims.insert(dims.end(), shape.dims().begin(), shape.dims().end());
  return internal::make_input_layer(Shape(dims), name, dtype)->tensor();
}

// ---- Model ----------------------------------------------------------------------------------

Model::Model(std::string class_name, const Config& config) : Layer(std::move(class_name), config) {}
namespace {

// The functions given to Model::add_loss, by model. Kept outside Model so that adding them
// changed no class layout (plugins derive from Model; plugin ABI minor versions keep layouts).
std::mutex g_loss_functions_mutex;
std::unordered_map<const Model*, std::vector<std::function<Tensor()>>>& loss_function_table() {
  static auto* table = new std::unordered_map<const Model*, std::vector<std::function<Tensor()>>>();
  return *table;
}

}  // namespace

// Drops the model's predict plans: their graphs hold its weights (Read nodes) and
// constants, which must not outlive it (defined with the plans, below).
void forget_predict_plans(const Model* model);

Model::~Model() {
  detail::forget_model_threads(this);
  internal::forget_model_strategy(this);
  forget_predict_plans(this);
  std::lock_guard<std::mutex> lock(g_loss_functions_mutex);
  loss_function_table().erase(this);
}

void Model::add_loss(std::function<Tensor()> loss) {
  STRATA_CHECK(static_cast<bool>(loss), ValueError, "model '", name(), "': add_loss was given an empty function");
  std::lock_guard<std::mutex> lock(g_loss_functions_mutex);
  loss_function_table()[this].push_back(std::move(loss));
}

std::vector<std::function<Tensor()>> Model::loss_functions() const {
  std::lock_guard<std::mutex> lock(g_loss_functions_mutex);
  const auto& table = loss_function_table();
  const auto it = table.find(this);
  return it == table.end() ? std::vector<std::function<Tensor()>>{} : it->second;
}

void Model::to(const Device& device) {
  Layer::to(device);
  // The optimizer's slots and the metrics' states follow the weights, so that training
  // resumes on the new device.
  if (!is_compiled()) return;
  if (const auto& opt = optimizer()) {
    for (auto v : opt->variables()) v.to(device);
  }
  for (const auto& metric : metrics()) {
    for (auto v : metric->variables()) v.to(device);
  }
}

std::vector<std::shared_ptr<Layer>> Model::layers() const {
  std::vector<std::shared_ptr<Layer>> out;
  for (const auto& c : Layer::children()) out.push_back(c.layer);
  return out;
}

std::vector<Layer::TrackedChild> Model::children() const { return Layer::children(); }

namespace {
void append_new(std::vector<Variable>& out, const std::vector<Variable>& more) {
  for (const auto& v : more) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
}
}  // namespace

std::vector<Variable> Model::weights() const {
  std::vector<Variable> out;
  for (const auto& c : children()) append_new(out, c.layer->weights());
  for (const auto& w : own_weights()) {
    if (w.variable.trainable()) append_new(out, {w.variable});
  }
  for (const auto& w : own_weights()) {
    if (!w.variable.trainable()) append_new(out, {w.variable});
  }
  return out;
}

std::vector<Variable> Model::trainable_weights() const {
  std::vector<Variable> out;
  if (!trainable()) return out;
  for (const auto& c : children()) append_new(out, c.layer->trainable_weights());
  for (const auto& w : own_weights()) {
    if (w.variable.trainable()) append_new(out, {w.variable});
  }
  return out;
}

std::vector<Variable> Model::non_trainable_weights() const {
  std::vector<Variable> out;
  for (const auto& c : children()) append_new(out, trainable() ? c.layer->non_trainable_weights() : c.layer->weights());
  if (!trainable()) {
    for (const auto& w : own_weights()) {
      if (w.variable.trainable()) append_new(out, {w.variable});
    }
  }
  for (const auto& w : own_weights()) {
    if (!w.variable.trainable()) append_new(out, {w.variable});
  }
  return out;
}

namespace {
// Graph models own their layers: they are the children that weights, trainability and
// checkpoints walk, in model.layers order.
std::vector<Layer::TrackedChild> layers_as_children(const std::vector<std::shared_ptr<Layer>>& layers) {
  std::vector<Layer::TrackedChild> out;
  for (std::size_t i = 0; i < layers.size(); ++i) out.push_back({detail::concat("layers/", i), layers[i]});
  return out;
}
}  // namespace

std::vector<Layer::TrackedChild> Sequential::children() const { return layers_as_children(layers_); }
std::vector<Layer::TrackedChild> Functional::children() const { return layers_as_children(layers()); }

std::shared_ptr<Layer> Model::get_layer(std::string_view name) const {
  std::string available;
  for (const auto& l : layers()) {
    if (l->name() == name) return l;
    available += (available.empty() ? "" : ", ") + l->name();
  }
  STRATA_THROW(ValueError, "model '", this->name(), "' has no layer named '", name, "' (layers: ", available, ")");
}

std::shared_ptr<Layer> Model::get_layer(std::size_t index) const {
  const auto all = layers();
  STRATA_CHECK(index < all.size(), ValueError, "model '", name(), "' has ", all.size(), " layers; index ", index,
               " is out of range");
  return all[index];
}

std::vector<Tensor> Model::inputs() const { return {}; }
std::vector<Tensor> Model::outputs() const { return {}; }

namespace {
// Samples [start, start + len) of a string tensor (host only; no op kernel takes strings).
Tensor slice_strings(const Tensor& in, std::int64_t start, std::int64_t len) {
  const auto all = in.strings();
  const std::int64_t per = in.shape()[0] == 0 ? 0 : in.num_elements() / in.shape()[0];
  std::vector<std::string> part(all.begin() + start * per, all.begin() + (start + len) * per);
  std::vector<std::int64_t> dims = in.shape().dims();
  dims[0] = len;
  return Tensor::from_strings(part, Shape(dims));
}
// The pieces of one output along the batch axis (Concat for numbers, host copies for strings).
Tensor concat_batches(const std::vector<Tensor>& pieces) {
  if (pieces.front().dtype() != DType::kString) return concat(pieces, 0);
  std::vector<std::string> all;
  std::vector<std::int64_t> dims = pieces.front().shape().dims();
  dims[0] = 0;
  for (const auto& p : pieces) {
    const auto s = p.strings();
    all.insert(all.end(), s.begin(), s.end());
    dims[0] += p.shape()[0];
  }
  return Tensor::from_strings(all, Shape(dims));
}
}  // namespace

InferenceTraceable::~InferenceTraceable() = default;

// ---- predict plans ----------------------------------------------------------------------------
// Eager predict of a Functional or Sequential model made only of the layers below (whose
// inference is their ops, with no state outside Variables) runs, per input signature (each
// input's dtype and shape, the device, the registry's generation), the model's call traced
// once and optimised by the device's graph passes, as a graph (whose own plan skips shape
// inference and kernel lookup). Variables are read on each run, so assigned weights are
// seen; a Sequential given or relieved of layers, another signature or a change of plugins
// traces again; a call that cannot be traced runs eagerly (and is not traced again).
// STRATA_GRAPH_PLANS=0 turns this off with the graph plans.
namespace {

bool predict_plans_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("STRATA_GRAPH_PLANS");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return enabled;
}

bool traceable_layer(const Layer& layer) {
  return dynamic_cast<const InferenceTraceable*>(&layer) != nullptr || typeid(layer) == typeid(internal::InputLayer);
}

struct PredictPlan {
  std::vector<TensorMeta> inputs;
  const BackendDevice* device = nullptr;
  std::uint64_t generation = 0;
  std::shared_ptr<const Graph> graph;  // null: this signature runs eagerly
};
struct PredictPlans {
  std::weak_ptr<const Layer> owner;  // expired: the model is gone (its address may be reused)
  std::vector<const Layer*> layers;  // the model's layers when planned, all traceable
  std::vector<PredictPlan> plans;    // newest last, at most kPredictPlans
};
constexpr std::size_t kPredictPlans = 8;
std::mutex g_predict_plans_mutex;
std::unordered_map<const Model*, PredictPlans>& predict_plans() {
  static auto* table = new std::unordered_map<const Model*, PredictPlans>();
  return *table;
}

}  // namespace

void forget_predict_plans(const Model* model) {
  std::lock_guard lock(g_predict_plans_mutex);
  predict_plans().erase(model);
}

namespace {

bool same_metas(const std::vector<TensorMeta>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].dtype != b[i].dtype() || !(a[i].shape == b[i].shape())) return false;
  }
  return true;
}

// The model's outputs for `inputs` through its plan; nullopt: run the model's call.
std::optional<std::vector<Tensor>> planned_predict(const Model& model, const std::vector<Tensor>& inputs) {
  if (!predict_plans_enabled() || is_tracing() || is_recording_gradients()) return std::nullopt;
  // Exactly these classes: a subclass may override call() with anything.
  if (typeid(model) != typeid(Functional) && typeid(model) != typeid(Sequential)) return std::nullopt;
  std::weak_ptr<const Layer> owner = model.weak_from_this();
  if (owner.expired()) return std::nullopt;
  for (const auto& in : inputs) {
    if (!in.defined() || in.is_symbolic() || in.dtype() == DType::kString || !in.shape().is_fully_defined()) {
      return std::nullopt;
    }
  }
  const BackendDevice* device = inputs.empty() ? nullptr : &inputs.front().backend_device();
  const std::uint64_t generation = Registry::global().generation();
  const auto layers = model.layers();
  std::vector<const Layer*> layer_ptrs;
  layer_ptrs.reserve(layers.size());
  for (const auto& l : layers) layer_ptrs.push_back(l.get());
  const auto find = [&]() -> const PredictPlan* {
    const auto it = predict_plans().find(&model);
    if (it == predict_plans().end() || it->second.owner.expired() || it->second.layers != layer_ptrs) return nullptr;
    for (auto p = it->second.plans.rbegin(); p != it->second.plans.rend(); ++p) {
      if (p->device == device && p->generation == generation && same_metas(p->inputs, inputs)) return &*p;
    }
    return nullptr;
  };
  std::shared_ptr<const Graph> graph;
  bool found = false;
  {
    std::lock_guard lock(g_predict_plans_mutex);
    if (const PredictPlan* p = find()) {
      found = true;
      graph = p->graph;
    }
  }
  if (!found) {
    PredictPlan plan;
    for (const auto& in : inputs) plan.inputs.push_back({in.dtype(), in.shape()});
    plan.device = device;
    plan.generation = generation;
    const bool traceable = std::all_of(layers.begin(), layers.end(), [](const std::shared_ptr<Layer>& l) {
      return l && traceable_layer(*l);
    });
    if (traceable) {
      std::vector<TensorSpec> specs;
      const auto model_inputs = model.inputs();
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        std::string name = i < model_inputs.size() && model_inputs[i].is_symbolic() ? model_inputs[i].node()->name : "";
        specs.emplace_back(inputs[i].shape(), inputs[i].dtype(), std::move(name));
      }
      try {
        const Graph traced = trace([&](const std::vector<Tensor>& in) { return model(in, CallContext{}); }, specs,
                                   model.name());
        if (traced.side_effects().empty()) {
          graph = std::make_shared<const Graph>(
              optimize_graph(traced, inputs.empty() ? default_device() : inputs.front().device(), true));
        }
      } catch (const Error&) {
        graph = nullptr;  // the eager call reports what is wrong, or runs what a trace cannot
      }
    }
    plan.graph = graph;
    std::lock_guard lock(g_predict_plans_mutex);
    auto& table = predict_plans();
    if (table.size() >= 64) {  // forget models that are gone
      for (auto it = table.begin(); it != table.end();) it = it->second.owner.expired() ? table.erase(it) : std::next(it);
    }
    PredictPlans& entry = table[&model];
    if (entry.owner.expired() || entry.layers != layer_ptrs) {
      entry = PredictPlans{};
      entry.owner = owner;
      entry.layers = layer_ptrs;
    }
    if (entry.plans.size() >= kPredictPlans) entry.plans.erase(entry.plans.begin());
    entry.plans.push_back(std::move(plan));
  }
  if (!graph) return std::nullopt;
  try {
    return graph->run(inputs);
  } catch (const Error&) {
    return std::nullopt;  // the eager call says it with the layer's name (or succeeds)
  }
}

}  // namespace

std::vector<Tensor> Model::predict(const std::vector<Tensor>& inputs, std::int64_t batch_size) const {
  STRATA_CHECK(!inputs.empty(), ValueError, "predict needs at least one input");
  STRATA_CHECK(batch_size > 0, ValueError, "predict: batch_size must be positive, got ", batch_size);
  const ThreadScope threads(detail::model_call_threads(*this));
  const std::int64_t n = inputs[0].shape().dims().empty() ? 1 : inputs[0].shape()[0];
  for (const auto& in : inputs) {
    STRATA_CHECK(in.rank() >= 1 && in.shape()[0] == n, ShapeError, "predict: every input needs the same number of samples (",
                 n, "), got shape ", in.shape().to_string());
  }
  CallContext ctx;
  if (n <= batch_size) {
    if (auto planned = planned_predict(*this, inputs)) return std::move(*planned);
    return (*this)(inputs, ctx);
  }
  std::vector<std::vector<Tensor>> parts;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t len = std::min(batch_size, n - start);
    std::vector<Tensor> batch;
    for (const auto& in : inputs) {
      std::vector<std::int64_t> begin(in.rank(), 0), size = in.shape().dims();
      begin[0] = start;
      size[0] = len;
      batch.push_back(in.dtype() == DType::kString ? slice_strings(in, start, len) : slice(in, begin, size));
    }
    auto planned = planned_predict(*this, batch);
    parts.push_back(planned ? std::move(*planned) : (*this)(batch, ctx));
  }
  std::vector<Tensor> out;
  for (std::size_t k = 0; k < parts[0].size(); ++k) {
    std::vector<Tensor> pieces;
    for (const auto& p : parts) pieces.push_back(p[k]);
    out.push_back(concat_batches(pieces));
  }
  return out;
}

Tensor Model::predict(const Tensor& input, std::int64_t batch_size) const {
  auto out = predict(std::vector<Tensor>{input}, batch_size);
  STRATA_CHECK(out.size() == 1, ValueError, "model '", name(), "' has ", out.size(),
               " outputs; use predict with a vector of inputs");
  return out[0];
}

// ---- summary -----------------------------------------------------------------------------------

namespace {

std::string py_shape(const Shape& s) {
  if (!s.has_known_rank()) return "?";
  std::string out = "(";
  for (std::size_t i = 0; i < s.rank(); ++i) {
    if (i) out += ", ";
    out += s.dims()[i] < 0 ? std::string("None") : std::to_string(s.dims()[i]);
  }
  if (s.rank() == 1) out += ",";
  return out + ")";
}

std::string readable_size(double bytes) {
  static const char* kUnits[] = {"Byte", "KB", "MB", "GB", "TB", "PB"};
  char buf[64];
  for (const char* unit : kUnits) {
    if (bytes / 1024 < 1) {
      std::snprintf(buf, sizeof buf, "%.2f %s", bytes, unit);
      return buf;
    }
    bytes /= 1024;
  }
  std::snprintf(buf, sizeof buf, "%.2f PB", bytes);
  return buf;
}

struct SummaryWriter {
  std::ostringstream out;
  std::vector<std::size_t> positions;

  void row(std::vector<std::string> fields) {
    auto any_left = [&] {
      return std::any_of(fields.begin(), fields.end(), [](const std::string& f) { return !f.empty(); });
    };
    while (any_left()) {
      std::string line;
      for (std::size_t col = 0; col < fields.size(); ++col) {
        const std::size_t start = col > 0 ? positions[col - 1] : 0;
        const std::size_t end = positions[col];
        const bool last = col == positions.size() - 1;
        const std::size_t space = last ? 0 : 2;
        std::ptrdiff_t cutoff = static_cast<std::ptrdiff_t>(end - start - space);
        if (!last) cutoff -= 1;
        if (cutoff < 0) cutoff = 0;
        std::string fit = fields[col].substr(0, static_cast<std::size_t>(cutoff));
        std::size_t best = std::string::npos;
        for (const char* cond : {"),", "},", "],", "',"}) {
          const auto pos = fit.find(cond);
          if (pos != std::string::npos) best = std::min(best, pos + 2);
        }
        std::size_t used = static_cast<std::size_t>(cutoff);
        if (best != std::string::npos) {
          used = best;
          fit = fit.substr(0, best);
        }
        if (col == 0) line += " ";
        line += fit;
        line += std::string(space, ' ');
        fields[col] = used < fields[col].size() ? fields[col].substr(used) : std::string();
        if (line.size() < positions[col]) line += std::string(positions[col] - line.size(), ' ');
      }
      out << line << "\n";
    }
  }
};

}  // namespace

std::string Model::summary(std::size_t line_length_in) const {
  const auto all = layers();
  const auto graph_nodes = internal::model_nodes(*this);  // empty for non-graph models
  bool sequential_like = internal::summary_is_sequential_like(*this);
  SummaryWriter w;
  std::size_t line_length;
  std::vector<std::string> header;
  if (sequential_like) {
    line_length = line_length_in ? line_length_in : 65;
    for (double p : {0.45, 0.85, 1.0}) w.positions.push_back(static_cast<std::size_t>(static_cast<double>(line_length) * p));
    header = {"Layer (type)", "Output Shape", "Param #"};
  } else {
    line_length = line_length_in ? line_length_in : 98;
    for (double p : {0.3, 0.6, 0.70, 1.0}) w.positions.push_back(static_cast<std::size_t>(static_cast<double>(line_length) * p));
    header = {"Layer (type)", "Output Shape", "Param #", "Connected to"};
  }
  w.out << "Model: \"" << name() << "\"\n" << std::string(line_length, '_') << "\n";
  w.row(header);
  w.out << std::string(line_length, '=') << "\n";
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& layer = *all[i];
    std::vector<std::string> fields;
    fields.push_back(layer.name() + " (" + internal::python_class_name(layer) + ")");
    fields.push_back(internal::summary_output_shape(layer, graph_nodes, py_shape));
    fields.push_back(layer.built() || internal::is_graph_model(layer) ? std::to_string(layer.count_params())
                                                                       : std::string("0 (unused)"));
    if (!sequential_like) fields.push_back(internal::summary_connections(layer, graph_nodes));
    w.row(fields);
    w.out << std::string(line_length, ' ') << "\n";
  }
  w.out << std::string(line_length, '=') << "\n";
  auto count = [](const std::vector<Variable>& vs) {
    std::int64_t n = 0, bytes = 0;
    for (const auto& v : vs) {
      n += v.shape().num_elements();
      bytes += v.shape().num_elements() * static_cast<std::int64_t>(dtype_size(v.dtype()));
    }
    return std::pair<std::int64_t, std::int64_t>{n, bytes};
  };
  const auto [tn, tb] = count(trainable_weights());
  const auto [nn, nb] = count(non_trainable_weights());
  w.out << "Total params: " << tn + nn << " (" << readable_size(static_cast<double>(tb + nb)) << ")\n";
  w.out << "Trainable params: " << tn << " (" << readable_size(static_cast<double>(tb)) << ")\n";
  w.out << "Non-trainable params: " << nn << " (" << readable_size(static_cast<double>(nb)) << ")\n";
  w.out << std::string(line_length, '_') << "\n";
  return w.out.str();
}

void build_from_build_config(Model& model, const Config& model_config, const std::string& where) {
  if (model.built() || !model_config.contains("build_config") || !model_config["build_config"].is_object()) return;
  // Keras 3 writes {"input_shape": null} for models built by their graph.
  if (model_config["build_config"].value("input_shape", Config()).is_null()) return;
  constexpr std::int64_t kMaxBuildElements = std::int64_t{1} << 26;  // 256 MiB of float32
  const ConfigReader r(model_config["build_config"], where + ": model_config's build_config");
  const std::string what = r.describe("input_shape");
  std::vector<Tensor> zeros_in;
  std::int64_t total = 0;
  for (const auto& shape : r.shapes("input_shape")) {
    std::vector<std::int64_t> dims = shape.dims();
    for (auto& d : dims) d = d == Shape::kUnknown ? 1 : d;
    total = checked_add(total, checked_element_count(dims, what), what);
    STRATA_CHECK(total <= kMaxBuildElements, FormatError, what, " asks for ", total,
                 " elements of zeros to build the model; at most ", kMaxBuildElements, " are allowed");
    zeros_in.push_back(zeros(Shape(std::move(dims))));
  }
  (void)model(zeros_in);
}

}  // namespace strata
