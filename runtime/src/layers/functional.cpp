// Functional models: graphs of layer calls, their Keras configs, and model_from_config.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "layers/add_loss_layers.hpp"
#include "layers/call_arguments.hpp"
#include "layers/config_util.hpp"
#include "layers/keras3_dialect.hpp"
#include "layers/model_internal.hpp"
#include "strata/log.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/plugin/layers.hpp"

namespace strata {

struct Functional::Impl {
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  std::vector<std::shared_ptr<Layer>> layers;              // Keras order (model.layers)
  std::vector<std::shared_ptr<GraphNode>> order;           // execution order
  std::unordered_set<const GraphNode*> network_nodes;
  std::map<int, std::vector<const GraphNode*>> nodes_by_depth;
  // Outputs of the AddLoss / AddMetric layers model.add_loss / add_metric joined to the
  // graph (or a config holds): computed with the model, not returned by it.
  std::vector<Tensor> side_outputs;
  // `order` indexed once (set_order), so that a call indexes vectors instead of hashing
  // nodes: per node, where each input comes from as (index in order, output); per model
  // input, its node's index (-1: unused); per output, its slot.
  std::vector<std::vector<std::pair<int, int>>> input_slots;
  std::vector<int> input_index;
  std::vector<std::pair<int, int>> output_slots;
};

namespace {

void set_order(Functional::Impl& impl, const Graph& graph) {
  impl.order = graph.nodes();
  std::unordered_map<const GraphNode*, int> index;
  for (std::size_t i = 0; i < impl.order.size(); ++i) index[impl.order[i].get()] = static_cast<int>(i);
  impl.input_slots.assign(impl.order.size(), {});
  for (std::size_t i = 0; i < impl.order.size(); ++i) {
    if (impl.order[i]->op == "Placeholder") continue;
    for (const auto& in : impl.order[i]->inputs) impl.input_slots[i].emplace_back(index.at(in.node().get()), in.output_index());
  }
  impl.input_index.clear();
  for (const auto& in : impl.inputs) {
    const auto it = index.find(in.node().get());
    impl.input_index.push_back(it == index.end() ? -1 : it->second);
  }
  impl.output_slots.clear();
  for (const auto& out : impl.outputs) impl.output_slots.emplace_back(index.at(out.node().get()), out.output_index());
}

// Keras's _map_graph_network: the model's nodes and its layers ordered by decreasing depth
// (inputs first), ties broken by the order in which a depth-first walk from the outputs
// first meets each layer.
void map_graph_network(Functional::Impl& impl) {
  std::vector<const GraphNode*> decreasing;  // post-order from the outputs
  std::unordered_map<const Layer*, int> layer_index;
  std::unordered_set<const GraphNode*> finished, in_progress;
  // Depth-first and post-order, iteratively: a chain of layers is as long as the file
  // says, so a recursive walk could overflow the stack (issue 20). `todo` holds the nodes
  // being visited and the index of the next input of each.
  std::vector<std::pair<const GraphNode*, std::size_t>> todo;
  const auto enter = [&](const GraphNode* node) {
    if (finished.count(node)) return;
    STRATA_CHECK(!in_progress.count(node), ValueError, "the graph of this model has a cycle at layer '", node->name, "'");
    const Layer* layer = node->layer.get();
    STRATA_CHECK(layer != nullptr, ValueError, "tensor produced by op '", node->op,
                 "' is not the output of a layer: Functional models are built from layers called on Input() tensors");
    if (!layer_index.count(layer)) layer_index.emplace(layer, static_cast<int>(layer_index.size()));
    in_progress.insert(node);
    todo.emplace_back(node, 0);
  };
  for (const auto& out : impl.outputs) {
    enter(out.node().get());
    while (!todo.empty()) {
      const GraphNode* node = todo.back().first;
      const std::size_t next = todo.back().second;
      if (node->op != "Placeholder" && next < node->inputs.size()) {
        ++todo.back().second;
        enter(node->inputs[next].node().get());
        continue;
      }
      finished.insert(node);
      in_progress.erase(node);
      decreasing.push_back(node);
      todo.pop_back();
    }
  }

  std::unordered_map<const GraphNode*, int> node_depth;
  std::unordered_map<const Layer*, int> layer_depth;
  std::vector<const Layer*> layer_seen_order;
  for (auto it = decreasing.rbegin(); it != decreasing.rend(); ++it) {
    const GraphNode* node = *it;
    int depth = node_depth.count(node) ? node_depth[node] : 0;
    const Layer* layer = node->layer.get();
    if (layer_depth.count(layer)) depth = std::max(depth, layer_depth[layer]);
    else layer_seen_order.push_back(layer);
    layer_depth[layer] = depth;
    node_depth[node] = depth;
    if (node->op != "Placeholder") {
      for (const auto& in : node->inputs) {
        const GraphNode* parent = in.node().get();
        node_depth[parent] = std::max(depth + 1, node_depth.count(parent) ? node_depth[parent] : 0);
      }
    }
  }
  for (const auto& in : impl.inputs) {
    const Layer* layer = in.node()->layer.get();
    if (!layer_depth.count(layer)) {
      layer_depth[layer] = 0;
      layer_index[layer] = -1;
      node_depth[in.node().get()] = 0;
      layer_seen_order.push_back(layer);
    }
  }
  for (const auto& [node, depth] : node_depth) {
    impl.network_nodes.insert(node);
    impl.nodes_by_depth[depth].push_back(node);
  }
  std::map<int, std::vector<const Layer*>, std::greater<>> by_depth;
  for (const Layer* l : layer_seen_order) by_depth[layer_depth[l]].push_back(l);
  std::unordered_map<const Layer*, std::shared_ptr<Layer>> owners;
  for (const auto* node : decreasing) owners[node->layer.get()] = node->layer;
  for (const auto& in : impl.inputs) owners[in.node()->layer.get()] = in.node()->layer;
  for (auto& [depth, layers] : by_depth) {
    std::stable_sort(layers.begin(), layers.end(), [&](const Layer* a, const Layer* b) { return layer_index[a] < layer_index[b]; });
    for (const Layer* l : layers) impl.layers.push_back(owners[l]);
  }
  // The side chains of add_loss / add_metric: tf-keras appends their layers after the
  // others, in the order they were added (Functional._insert_layers).
  for (const auto& side : impl.side_outputs) {
    std::vector<const GraphNode*> chain;
    std::unordered_set<const GraphNode*> seen;
    // Post-order, iteratively (as above).
    std::vector<std::pair<const GraphNode*, std::size_t>> pending;
    const auto enter_side = [&](const GraphNode* node) {
      if (impl.network_nodes.count(node) || seen.count(node)) return;
      STRATA_CHECK(node->layer != nullptr, ValueError, "tensor produced by op '", node->op,
                   "' is not the output of a layer: add_loss/add_metric take tensors made by layers");
      seen.insert(node);
      pending.emplace_back(node, 0);
    };
    enter_side(side.node().get());
    while (!pending.empty()) {
      const GraphNode* node = pending.back().first;
      const std::size_t next = pending.back().second;
      if (node->op != "Placeholder" && next < node->inputs.size()) {
        ++pending.back().second;
        enter_side(node->inputs[next].node().get());
        continue;
      }
      chain.push_back(node);
      pending.pop_back();
    }
    for (const GraphNode* node : chain) {
      impl.network_nodes.insert(node);
      impl.nodes_by_depth[0].push_back(node);
      const bool listed = std::any_of(impl.layers.begin(), impl.layers.end(),
                                      [&](const std::shared_ptr<Layer>& l) { return l.get() == node->layer.get(); });
      if (!listed) impl.layers.push_back(node->layer);
    }
  }
  // Layer names must be unique within a model (configs refer to layers by name).
  std::unordered_set<std::string> names;
  for (const auto& l : impl.layers) {
    STRATA_CHECK(names.insert(l->name()).second, ValueError, "the name \"", l->name(),
                 "\" is used by more than one layer of the model; every layer name must be unique");
  }
}

Config named_config(const std::string& name) {
  Config c = Config::object();
  c["name"] = name.empty() ? unique_layer_name("model") : name;
  return c;
}

}  // namespace

Functional::Functional(std::vector<Tensor> inputs, std::vector<Tensor> outputs, const std::string& name)
    : Model("Functional", named_config(name)), impl_(std::make_unique<Impl>()) {
  STRATA_CHECK(!inputs.empty() && !outputs.empty(), ValueError, "a Functional model needs inputs and outputs");
  for (const auto& in : inputs) {
    STRATA_CHECK(in.is_symbolic() && in.node()->op == "Placeholder" && in.node()->layer, ValueError,
                 "Functional model '", this->name(), "': every input must come from Input()");
  }
  for (const auto& out : outputs) {
    STRATA_CHECK(out.is_symbolic(), ValueError, "Functional model '", this->name(),
                 "': every output must be a symbolic tensor made by calling layers on Input() tensors");
  }
  impl_->inputs = std::move(inputs);
  impl_->outputs = std::move(outputs);
  map_graph_network(*impl_);
  Graph graph(impl_->inputs, impl_->outputs, this->name());  // validates: outputs depend only on the inputs
  set_order(*impl_, graph);
  std::vector<Shape> shapes;
  for (const auto& in : impl_->inputs) shapes.push_back(in.shape());
  set_built(shapes);
}

Functional::~Functional() = default;

std::vector<std::shared_ptr<Layer>> Functional::layers() const { return impl_->layers; }
std::vector<Tensor> Functional::inputs() const { return impl_->inputs; }
std::vector<Tensor> Functional::outputs() const { return impl_->outputs; }

std::vector<Tensor> Functional::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

Layer::Outputs Functional::call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  STRATA_CHECK(inputs.size() == impl_->inputs.size(), ValueError, "model '", name(), "' takes ", impl_->inputs.size(),
               " inputs, got ", inputs.size());
  struct Value {
    std::vector<Tensor> tensors, masks;
  };
  const Impl& impl = *impl_;
  std::vector<Value> values(impl.order.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& spec = impl.inputs[i];
    STRATA_CHECK(inputs[i].shape().is_compatible_with(spec.shape()), ShapeError, "model '", name(), "' input ", i, " ('",
                 spec.node()->name, "') expects shape ", spec.shape().to_string(), ", got ", inputs[i].shape().to_string());
    Tensor mask = i < ctx.masks.size() ? ctx.masks[i] : Tensor();
    if (impl.input_index[i] >= 0) values[static_cast<std::size_t>(impl.input_index[i])] = {{inputs[i]}, {mask}};
  }
  const auto tensor_at = [&](const std::pair<int, int>& slot) -> const Tensor& {
    return values[static_cast<std::size_t>(slot.first)].tensors.at(static_cast<std::size_t>(slot.second));
  };
  const auto mask_at = [&](const std::pair<int, int>& slot) {
    const auto& masks = values[static_cast<std::size_t>(slot.first)].masks;
    const auto k = static_cast<std::size_t>(slot.second);
    return masks.size() > k ? masks[k] : Tensor();
  };
  for (std::size_t n = 0; n < impl.order.size(); ++n) {
    const GraphNode& node = *impl.order[n];
    if (node.op == "Placeholder") continue;
    std::vector<Tensor> args, masks;
    args.reserve(impl.input_slots[n].size());
    masks.reserve(impl.input_slots[n].size());
    for (const auto& slot : impl.input_slots[n]) {
      args.push_back(tensor_at(slot));
      masks.push_back(mask_at(slot));
    }
    CallContext step{ctx.training, std::move(masks)};
    if (node.attrs.has("training")) step.training = node.attrs.get<bool>("training");
    auto out = internal::run_layer_node(node, args, step);
    values[n] = {std::move(out.tensors), std::move(out.masks)};
  }
  Outputs result;
  for (const auto& slot : impl.output_slots) {
    result.tensors.push_back(tensor_at(slot));
    result.masks.push_back(mask_at(slot));
  }
  return result;
}

// ---- config -----------------------------------------------------------------------------------

namespace {

// Keras renumbers a layer's nodes to count only those in the model; graph models (whose
// node 0 is internal in Keras) start at 1.
// Keras 3 numbers every layer's nodes from 0.
std::map<std::pair<const Layer*, const GraphNode*>, int> node_numbers(const Functional::Impl& impl) {
  std::map<std::pair<const Layer*, const GraphNode*>, int> out;
  const bool keras3 = internal::keras3_dialect();
  for (const auto& layer : impl.layers) {
    int kept = internal::is_graph_model(*layer) && !keras3 ? 1 : 0;
    for (const auto& node : layer->inbound_nodes()) {
      if (impl.network_nodes.count(node.get())) out[{layer.get(), node.get()}] = kept++;
    }
  }
  return out;
}

Config tensor_ref(const Tensor& t, const std::map<std::pair<const Layer*, const GraphNode*>, int>& numbers) {
  const GraphNode* node = t.node().get();
  return Config::array({node->layer->name(), numbers.at({node->layer.get(), node}), t.output_index()});
}

// A CallArgumentsLayer's inbound node as tf-keras writes it: the first argument's structure
// with each tensor a [layer, node, tensor, kwargs] reference and each constant
// ["_CONSTANT_VALUE", -1, value, kwargs], kwargs holding references for its tensors; a
// first argument that is one tensor (or constant) is written bare.
Config call_arguments_node(const Config& arguments, const std::vector<Tensor>& inputs,
                           const std::map<std::pair<const Layer*, const GraphNode*>, int>& numbers,
                           const std::string& layer) {
  auto frame = ErrorContext::push("writing the call arguments of layer '", layer, "'");
  STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                   arguments["args"].size() == 1 && (!arguments.contains("kwargs") || arguments["kwargs"].is_object()),
               ValueError, "call arguments must be {\"args\": [first], \"kwargs\": {...}}, got ", arguments.dump());
  auto ref_of = [&](const Config& slot) {
    const Config& index = slot["strata.tensor"];
    STRATA_CHECK(index.is_number_integer() && index.get<std::int64_t>() >= 0 &&
                     static_cast<std::size_t>(index.get<std::int64_t>()) < inputs.size(),
                 ValueError, "tensor placeholder ", index.dump(), " names none of the call's ", inputs.size(), " inputs");
    return tensor_ref(inputs[index.get<std::size_t>()], numbers);
  };
  std::function<Config(const Config&)> with_refs = [&](const Config& v) -> Config {
    if (v.is_object() && v.size() == 1 && v.contains("strata.tensor")) return ref_of(v);
    if (!v.is_structured()) return v;
    Config out = v.is_object() ? Config::object() : Config::array();
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = with_refs(*it);
    } else {
      for (const auto& e : v) out.push_back(with_refs(e));
    }
    return out;
  };
  const Config kwargs = with_refs(arguments.contains("kwargs") ? arguments["kwargs"] : Config::object());
  std::function<Config(const Config&)> first = [&](const Config& v) -> Config {
    if (v.is_object() && v.size() == 1 && v.contains("strata.tensor")) {
      Config ref = ref_of(v);
      ref.push_back(kwargs);
      return ref;
    }
    if (v.is_object() && v.size() == 1 && v.contains("strata.constant")) {
      return Config::array({"_CONSTANT_VALUE", -1, with_refs(v["strata.constant"]), kwargs});
    }
    STRATA_CHECK(v.is_array(), ValueError, "the first argument holds ", v.dump(),
                 ", neither a tensor placeholder, a constant nor a list");
    Config out = Config::array();
    for (const auto& e : v) out.push_back(first(e));
    return out;
  };
  return first(arguments["args"][0]);
}

// One inbound node in tf-keras's list form (FORMATS §2.4).
Config legacy_node(const Layer& layer, const GraphNode& node,
                   const std::map<std::pair<const Layer*, const GraphNode*>, int>& numbers) {
  if (const auto* with_args = dynamic_cast<const CallArgumentsLayer*>(&layer)) {
    // Each node's own arguments (strata/plugin/call_arguments.hpp, "Per node").
    const std::optional<Config> stored = internal::stored_call_arguments(node);
    Config arguments = stored ? *stored : with_args->call_arguments();
    // A call made with training=... from C++ (a file's node already holds it).
    if (node.attrs.has("training") && arguments.is_object() &&
        !(arguments.contains("kwargs") && arguments["kwargs"].contains("training"))) {
      arguments["kwargs"]["training"] = node.attrs.get<bool>("training");
    }
    return call_arguments_node(arguments, node.inputs, numbers, layer.name());
  }
  Config call = Config::array();
  for (const auto& in : node.inputs) {
    Config ref = tensor_ref(in, numbers);
    Config kwargs = Config::object();
    if (node.attrs.has("training")) kwargs["training"] = node.attrs.get<bool>("training");
    ref.push_back(kwargs);
    call.push_back(ref);
  }
  return call;
}

// Keras 3's reference to a tensor: {"class_name": "__keras_tensor__", "config": {"shape",
// "dtype", "keras_history": [layer, node, index]}}.
Config keras3_tensor(const Tensor& t, const std::map<std::pair<const Layer*, const GraphNode*>, int>& numbers) {
  Config c = Config::object();
  c["shape"] = internal::shape_to_json(t.shape());
  c["dtype"] = std::string(dtype_name(t.dtype()));
  c["keras_history"] = tensor_ref(t, numbers);
  return Config{{"class_name", "__keras_tensor__"}, {"config", c}};
}

// One inbound node in Keras 3's form {"args": [...], "kwargs": {...}}. A CallArgumentsLayer's
// stored arguments have the same shape, with tensor placeholders and constants in them.
Config keras3_node(const Layer& layer, const GraphNode& node,
                   const std::map<std::pair<const Layer*, const GraphNode*>, int>& numbers) {
  if (const auto* with_args = dynamic_cast<const CallArgumentsLayer*>(&layer)) {
    const std::optional<Config> stored = internal::stored_call_arguments(node);
    Config arguments = stored ? *stored : with_args->call_arguments();
    auto frame = ErrorContext::push("writing the call arguments of layer '", layer.name(), "'");
    STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array(), ValueError,
                 "call arguments must be {\"args\": [...], \"kwargs\": {...}}, got ", arguments.dump());
    std::function<Config(const Config&)> resolve = [&](const Config& v) -> Config {
      if (v.is_object() && v.size() == 1 && v.contains("strata.tensor")) {
        const Config& index = v["strata.tensor"];
        STRATA_CHECK(index.is_number_integer() && index.get<std::int64_t>() >= 0 &&
                         static_cast<std::size_t>(index.get<std::int64_t>()) < node.inputs.size(),
                     ValueError, "tensor placeholder ", index.dump(), " names none of the call's ", node.inputs.size(),
                     " inputs");
        return keras3_tensor(node.inputs[index.get<std::size_t>()], numbers);
      }
      if (v.is_object() && v.size() == 1 && v.contains("strata.constant")) return v["strata.constant"];
      if (!v.is_structured()) return v;
      Config out = v.is_object() ? Config::object() : Config::array();
      if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = resolve(*it);
      } else {
        for (const auto& e : v) out.push_back(resolve(e));
      }
      return out;
    };
    Config kwargs = arguments.contains("kwargs") ? resolve(arguments["kwargs"]) : Config::object();
    if (node.attrs.has("training") && !kwargs.contains("training")) kwargs["training"] = node.attrs.get<bool>("training");
    Config args = resolve(arguments["args"]);
    // tf-keras's nodes hold the first argument flattened: one tensor wrapped in a list (Keras
    // 3 passes the tensor itself). A recurrent layer's initial states appended there are
    // format-keras's to move (keras3_config.cpp): the runtime names no plugin's classes.
    if (!args.empty() && args[0].is_array() && args[0].size() == 1) {
      const Config only = args[0][0];
      args[0] = only;
    }
    return Config{{"args", args}, {"kwargs", kwargs}};
  }
  Config first;
  if (node.inputs.size() == 1) {
    first = keras3_tensor(node.inputs[0], numbers);
  } else {
    first = Config::array();
    for (const auto& in : node.inputs) first.push_back(keras3_tensor(in, numbers));
  }
  Config kwargs = Config::object();
  if (node.attrs.has("training")) kwargs["training"] = node.attrs.get<bool>("training");
  return Config{{"args", Config::array({first})}, {"kwargs", kwargs}};
}

// Functional::get_config in Keras 3's dialect (keras3_dialect.hpp).
Config keras3_functional_config(const Functional& model, const Functional::Impl& impl,
                                const std::map<std::pair<const Layer*, const GraphNode*>, int>& numbers) {
  Config layers = Config::array();
  for (const auto& layer : impl.layers) {
    Config entry = internal::serialize_child_layer(*layer, false, false);
    entry["name"] = layer->name();
    Config inbound = Config::array();
    for (const auto& node : layer->inbound_nodes()) {
      if (!impl.network_nodes.count(node.get()) || node->op == "Placeholder") continue;
      // Classes of another Keras (tf-keras's TFOpLambda: no Keras 3 class, no Keras 3 call
      // signature) keep tf-keras's node form, which Keras 3 and Strata read too.
      const std::string& module = Registry::global().find_erased(ObjectKind::kLayer, layer->class_name()).module;
      const bool other_keras = !module.empty() && module.rfind("keras", 0) != 0;
      inbound.push_back(other_keras ? legacy_node(*layer, *node, numbers) : keras3_node(*layer, *node, numbers));
    }
    entry["inbound_nodes"] = inbound;
    layers.push_back(entry);
  }
  Config c = Config::object();
  c["name"] = model.name();
  c["trainable"] = model.trainable();
  c["layers"] = layers;
  // One input or output is a bare [layer, node, index]; several are a list of them.
  auto refs = [&](const std::vector<Tensor>& tensors) {
    if (tensors.size() == 1) return tensor_ref(tensors[0], numbers);
    Config out = Config::array();
    for (const auto& t : tensors) out.push_back(tensor_ref(t, numbers));
    return out;
  };
  c["input_layers"] = refs(impl.inputs);
  c["output_layers"] = refs(impl.outputs);
  return c;
}

}  // namespace

Config Functional::get_config() const {
  const auto numbers = node_numbers(*impl_);
  if (internal::keras3_dialect()) return keras3_functional_config(*this, *impl_, numbers);
  const bool legacy = internal::legacy_children();
  Config layers = Config::array();
  for (const auto& layer : impl_->layers) {
    // A Functional model passes the legacy dialect on to nested graph models.
    Config entry = internal::serialize_child_layer(*layer, legacy, legacy && internal::is_graph_model(*layer));
    entry["name"] = layer->name();
    Config inbound = Config::array();
    for (const auto& node : layer->inbound_nodes()) {
      if (!impl_->network_nodes.count(node.get()) || node->op == "Placeholder") continue;
      inbound.push_back(legacy_node(*layer, *node, numbers));
    }
    entry["inbound_nodes"] = inbound;
    layers.push_back(entry);
  }
  Config c = Config::object();
  c["name"] = name();
  c["trainable"] = trainable();
  c["layers"] = layers;
  Config ins = Config::array(), outs = Config::array();
  for (const auto& t : impl_->inputs) ins.push_back(tensor_ref(t, numbers));
  for (const auto& t : impl_->outputs) outs.push_back(tensor_ref(t, numbers));
  c["input_layers"] = ins;
  c["output_layers"] = outs;
  return c;
}

namespace {

struct Ref {
  std::string layer;
  int node = 0;
  int tensor = 0;
};

Ref parse_ref(const Config& v, std::string_view what) {
  STRATA_CHECK(v.is_array() && v.size() >= 3 && v[0].is_string() && v[1].is_number_integer() && v[2].is_number_integer(),
               FormatError, what, " must be [layer_name, node_index, tensor_index], got ", v.dump());
  return {v[0].get<std::string>(), v[1].get<int>(), v[2].get<int>()};
}

// The tensors a node entry refers to, in Keras 2 (list of refs) or Keras 3
// ({"args": [...], "kwargs": {...}}) form, plus its training kwarg.
struct NodeSpec {
  std::vector<Ref> refs;
  std::optional<bool> training;
  Config call_arguments;  // for a CallArgumentsLayer: {"args", "kwargs"} (strata/plugin/call_arguments.hpp)
};

// tf-keras's _is_serialized_node_data: [layer, node, tensor] with optional kwargs, or
// ["_CONSTANT_VALUE", -1, value] likewise.
bool is_serialized_node_data(const Config& v) {
  return v.is_array() && (v.size() == 3 || (v.size() == 4 && v[3].is_object())) && v[0].is_string();
}
bool is_constant_data(const Config& v) { return is_serialized_node_data(v) && v[0] == "_CONSTANT_VALUE"; }

// Replaces the tensors named in `v` by {"strata.tensor": i}, appending them to `out`.
void extract_kwarg_tensors(Config& v, std::vector<Ref>& out) {
  if (is_serialized_node_data(v) && !is_constant_data(v)) {
    out.push_back(parse_ref(v, "a tensor in call arguments"));
    v = Config{{"strata.tensor", out.size() - 1}};
  } else if (v.is_structured()) {
    for (auto& e : v) extract_kwarg_tensors(e, out);
  }
}

// A tensor in a Keras 3 node: {"class_name": "__keras_tensor__", "config": {"shape", "dtype",
// "keras_history": [layer, node, tensor]}} (an object with config.keras_history alone is
// taken as one too).
bool is_keras3_tensor(const Config& v) {
  return v.is_object() && v.contains("config") && v["config"].is_object() && v["config"].contains("keras_history") &&
         (!v.contains("class_name") || v["class_name"] == "__keras_tensor__");
}

// Replaces the Keras 3 tensors in `v` by {"strata.tensor": i}, appending them to `out`
// (depth first, object keys in file order).
void extract_keras3_tensors(Config& v, std::vector<Ref>& out) {
  if (is_keras3_tensor(v)) {
    out.push_back(parse_ref(v["config"]["keras_history"], "keras_history"));
    v = Config{{"strata.tensor", out.size() - 1}};
  } else if (v.is_structured()) {
    for (auto& e : v) extract_keras3_tensors(e, out);
  }
}

bool contains_keras3_tensor(const Config& v) {
  if (is_keras3_tensor(v)) return true;
  if (!v.is_structured()) return false;
  return std::any_of(v.begin(), v.end(), [](const Config& e) { return contains_keras3_tensor(e); });
}

bool contains_ref(const Config& v) {
  if (v.is_array() && v.size() >= 3 && v[0].is_string() && v[1].is_number_integer() && v[2].is_number_integer()) {
    return true;
  }
  if (!v.is_structured()) return false;
  return std::any_of(v.begin(), v.end(), [](const Config& e) { return contains_ref(e); });
}

// A layer that does not implement CallArgumentsLayer takes its tensors positionally: a
// tensor given by keyword would be silently dropped, so it is refused. Its other keyword
// arguments (besides training) are ignored, as before call arguments reached layers.
void refuse_keyword_tensors(const Config& kwargs, const std::string& layer) {
  for (const auto& [key, v] : kwargs.items()) {
    STRATA_CHECK(!contains_ref(v), FormatError, "layer '", layer, "' is called with the tensor argument '", key,
                 "', which its class does not take (it does not implement strata::CallArgumentsLayer)");
  }
}

// A CallArgumentsLayer's node (see strata/plugin/call_arguments.hpp): its first argument's
// structure, and the keyword arguments of its last element (tf-keras writes the same ones
// with every element and calls the layer with the last).
NodeSpec parse_call_arguments_node(const Config& node, const std::string& layer) {
  NodeSpec spec;
  Config kwargs = Config::object();
  std::function<Config(const Config&)> first = [&](const Config& v) -> Config {
    if (is_serialized_node_data(v)) {
      if (v.size() == 4) kwargs = v[3];
      if (is_constant_data(v)) return Config{{"strata.constant", v[2]}};
      spec.refs.push_back(parse_ref(v, "an inbound tensor of layer '" + layer + "'"));
      return Config{{"strata.tensor", spec.refs.size() - 1}};
    }
    STRATA_CHECK(v.is_array(), FormatError, "inbound node of layer '", layer,
                 "' must be a tensor reference or a list of them, got ", v.dump());
    Config out = Config::array();
    for (const auto& e : v) out.push_back(first(e));
    return out;
  };
  Config args = Config::array({first(node)});
  if (kwargs.contains("training") && kwargs["training"].is_boolean()) spec.training = kwargs["training"].get<bool>();
  extract_kwarg_tensors(kwargs, spec.refs);
  spec.call_arguments = Config{{"args", std::move(args)}, {"kwargs", std::move(kwargs)}};
  return spec;
}

// A Keras 3 node, {"args": [...], "kwargs": {...}}. A CallArgumentsLayer gets every
// positional argument and the keyword arguments, tensors numbered depth first (args, then
// kwargs in file order), and maps the positional ones after the first onto its parameters
// (strata/plugin/call_arguments.hpp); other layers take the tensors of the first argument
// only, and a tensor anywhere else is refused as in a Keras 2 node.
NodeSpec parse_keras3_node(const Config& node, const std::string& layer, bool call_arguments) {
  NodeSpec spec;
  const Config* args_in = internal::find_key(node, "args");
  const Config* kwargs_in = internal::find_key(node, "kwargs");
  STRATA_CHECK(args_in && args_in->is_array() && (!kwargs_in || kwargs_in->is_object()), FormatError,
               "inbound node of layer '", layer, "' must be {\"args\": [...], \"kwargs\": {...}}, got ", node.dump());
  Config args = *args_in;
  Config kwargs = kwargs_in ? *kwargs_in : Config::object();
  // Unlike tf-keras, Keras 3 lets the model's own training flag override a node's recorded
  // `training` (its Functional passes training= to every layer whenever the caller gave one,
  // as predict and fit do); it records training=True for every layer whose call defaults to
  // it (the random augmentation layers), so honouring it would augment at inference.
  if (call_arguments) {
    extract_keras3_tensors(args, spec.refs);
    extract_keras3_tensors(kwargs, spec.refs);
    spec.call_arguments = Config{{"args", std::move(args)}, {"kwargs", std::move(kwargs)}};
    return spec;
  }
  if (!args.empty()) {
    extract_keras3_tensors(args[0], spec.refs);
    for (std::size_t i = 1; i < args.size(); ++i) {
      STRATA_CHECK(!contains_keras3_tensor(args[i]), FormatError, "layer '", layer, "' is called with a tensor as ",
                   "positional argument ", i + 1, ", which its class does not take (it does not implement ",
                   "strata::CallArgumentsLayer)");
    }
  }
  for (const auto& [key, v] : kwargs.items()) {
    // Keras 3 passes a layer whose call takes `mask` its input's keras mask and records that
    // tensor in the node (computed by op layers: NotEqual after Embedding(mask_zero=True), Any
    // after Masking). Strata propagates keras masks itself, so it is not made an input (the op
    // layers that computed it stay out of the graph unless something else uses them).
    if (key == "mask" && is_keras3_tensor(v)) continue;
    STRATA_CHECK(!contains_keras3_tensor(v), FormatError, "layer '", layer, "' is called with the tensor argument '",
                 key, "', which its class does not take (it does not implement strata::CallArgumentsLayer)");
  }
  return spec;
}

NodeSpec parse_node(const Config& node, const std::string& layer, bool call_arguments) {
  if (node.is_object()) return parse_keras3_node(node, layer, call_arguments);
  if (call_arguments) return parse_call_arguments_node(node, layer);
  NodeSpec spec;
  STRATA_CHECK(node.is_array(), FormatError, "inbound node of layer '", layer, "' must be a list, got ", node.dump());
  const Config* kwargs = nullptr;
  for (const auto& ref : node) {
    spec.refs.push_back(parse_ref(ref, "an inbound tensor of layer '" + layer + "'"));
    if (ref.size() >= 4 && ref[3].is_object()) kwargs = &ref[3];
    if (ref.size() >= 4 && ref[3].is_object() && ref[3].contains("training") && ref[3]["training"].is_boolean()) {
      spec.training = ref[3]["training"].get<bool>();
    }
  }
  if (kwargs != nullptr) refuse_keyword_tensors(*kwargs, layer);
  return spec;
}

std::vector<Ref> parse_io(const Config& v, std::string_view what) {
  std::vector<Ref> out;
  if (v.is_array() && !v.empty() && v[0].is_string()) {
    out.push_back(parse_ref(v, what));  // Keras 3: a single bare triple
    return out;
  }
  STRATA_CHECK(v.is_array(), FormatError, what, " must be a list, got ", v.dump());
  for (const auto& e : v) out.push_back(parse_ref(e, what));
  return out;
}

}  // namespace

Functional::Functional(const Config& config) : Model("Functional", named_config(internal::get_string(config, "name", ""))),
                                                impl_(std::make_unique<Impl>()) {
  auto frame = ErrorContext::push("building Functional model '", name(), "' from its config");
  const Config* layer_list = internal::find_key(config, "layers");
  STRATA_CHECK(layer_list && layer_list->is_array(), FormatError, "a Functional config needs a \"layers\" list");
  struct Entry {
    std::shared_ptr<Layer> layer;
    std::vector<NodeSpec> pending;
    std::size_t done = 0;  // pending[0, done) are made (not erased: a layer may have many nodes)
    int next_index = 0;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::size_t> by_name;
  std::map<std::pair<std::string, int>, std::vector<Tensor>> created;
  for (const auto& item : *layer_list) {
    STRATA_CHECK(item.is_object(), FormatError, "a Functional layer entry must be an object, got ", item.dump());
    std::string layer_name = internal::get_string(item, "name", "");
    auto layer = deserialize_layer(item);
    if (layer_name.empty()) layer_name = layer->name();
    STRATA_CHECK(!by_name.count(layer_name), FormatError, "the config names two layers '", layer_name, "'");
    Entry e{layer, {}, 0, internal::is_graph_model(*layer) ? 1 : 0};
    if (auto* input = dynamic_cast<internal::InputLayer*>(layer.get())) {
      created[{layer_name, 0}] = {input->tensor()};
    } else if (const Config* nodes = internal::find_key(item, "inbound_nodes")) {
      STRATA_CHECK(nodes->is_array(), FormatError, "inbound_nodes of layer '", layer_name, "' must be a list");
      const bool call_arguments = dynamic_cast<CallArgumentsLayer*>(layer.get()) != nullptr;
      for (const auto& n : *nodes) e.pending.push_back(parse_node(n, layer_name, call_arguments));
      // Keras 3 (nodes as {"args", "kwargs"}) numbers a nested graph model's calls from 0;
      // tf-keras from 1 (its node 0 is the model's own).
      if (!nodes->empty() && nodes->front().is_object() && nodes->front().contains("args")) e.next_index = 0;
    }
    by_name[layer_name] = entries.size();
    entries.push_back(std::move(e));
  }
  // Process nodes in layer order until every node is made (shared layers may need
  // several passes).
  bool progress = true;
  while (progress) {
    progress = false;
    for (auto& e : entries) {
      while (e.done < e.pending.size()) {
        const NodeSpec& spec = e.pending[e.done];
        std::vector<Tensor> args;
        bool ready = true;
        for (const auto& ref : spec.refs) {
          auto it = created.find({ref.layer, ref.node});
          if (it == created.end()) {
            ready = false;
            break;
          }
          STRATA_CHECK(ref.tensor >= 0 && static_cast<std::size_t>(ref.tensor) < it->second.size(), FormatError,
                       "layer '", e.layer->name(), "' refers to output ", ref.tensor, " of layer '", ref.layer,
                       "', which has ", it->second.size(), " outputs");
          args.push_back(it->second[static_cast<std::size_t>(ref.tensor)]);
        }
        if (!ready) break;
        CallContext ctx;
        if (spec.training) ctx.training = *spec.training;
        if (auto* with_args = dynamic_cast<CallArgumentsLayer*>(e.layer.get())) with_args->set_call_arguments(spec.call_arguments);
        auto outs = (*e.layer)(args, ctx);
        if (spec.training) {
          // Keep the explicit training argument on the recorded node.
          outs.front().node()->attrs.set("training", *spec.training);
        }
        created[{e.layer->name(), e.next_index++}] = outs;
        ++e.done;
        progress = true;
      }
    }
  }
  for (const auto& e : entries) {
    if (e.done == e.pending.size()) continue;
    std::string missing;
    for (const auto& ref : e.pending[e.done].refs) {
      if (!created.count({ref.layer, ref.node})) missing = detail::concat("['", ref.layer, "', ", ref.node, ", ", ref.tensor, "]");
    }
    STRATA_THROW(FormatError, "layer '", e.layer->name(), "' has an inbound node referring to ", missing,
                 ", which no layer of the config produces (dangling inbound node)");
  }
  auto resolve = [&](const Ref& r, std::string_view what) {
    auto it = created.find({r.layer, r.node});
    STRATA_CHECK(it != created.end() && static_cast<std::size_t>(r.tensor) < it->second.size(), FormatError, what, " [",
                 r.layer, ", ", r.node, ", ", r.tensor, "] does not exist in the config");
    return it->second[static_cast<std::size_t>(r.tensor)];
  };
  const Config* ins = internal::find_key(config, "input_layers");
  const Config* outs = internal::find_key(config, "output_layers");
  STRATA_CHECK(ins && outs, FormatError, "a Functional config needs input_layers and output_layers");
  for (const auto& r : parse_io(*ins, "input_layers")) impl_->inputs.push_back(resolve(r, "input_layers entry"));
  for (const auto& r : parse_io(*outs, "output_layers")) impl_->outputs.push_back(resolve(r, "output_layers entry"));
  // AddLoss / AddMetric layers (tf-keras's model.add_loss / add_metric): kept although no
  // output depends on them.
  for (const auto& e : entries) {
    if (!internal::is_add_loss_or_metric(e.layer->class_name())) continue;
    for (int i = 0; i < e.next_index; ++i) impl_->side_outputs.push_back(created.at({e.layer->name(), i}).at(0));
  }
  map_graph_network(*impl_);
  std::vector<Tensor> computed = impl_->outputs;
  computed.insert(computed.end(), impl_->side_outputs.begin(), impl_->side_outputs.end());
  Graph graph(impl_->inputs, computed, name());
  set_order(*impl_, graph);
  std::vector<Shape> shapes;
  for (const auto& in : impl_->inputs) shapes.push_back(in.shape());
  set_built(shapes);
  // The layers' own flags come from their configs: "trainable": true at the top must not
  // unfreeze a layer saved frozen (tf-keras's from_config leaves the layers' flags alone;
  // before, a frozen BatchNormalization came back trainable from every format).
  if (!internal::get_bool(config, "trainable", true)) set_trainable(false);
}

// ---- model-level add_loss / add_metric -----------------------------------------------------------

namespace {

// Joins `side` (an AddLoss / AddMetric output) to the model's graph: its layers join
// model.layers, its nodes run with the model.
void join_side_output(Functional::Impl& impl, const Tensor& side, const std::string& model_name) {
  auto rebuild = [&] {
    impl.layers.clear();
    impl.network_nodes.clear();
    impl.nodes_by_depth.clear();
    map_graph_network(impl);
    std::vector<Tensor> computed = impl.outputs;
    computed.insert(computed.end(), impl.side_outputs.begin(), impl.side_outputs.end());
    Graph graph(impl.inputs, computed, model_name);
    set_order(impl, graph);
  };
  impl.side_outputs.push_back(side);
  try {
    rebuild();
  } catch (...) {
    impl.side_outputs.pop_back();
    rebuild();
    throw;
  }
}

Functional& functional_for(Model& model, const char* what) {
  auto* f = dynamic_cast<Functional*>(&model);
  STRATA_CHECK(f != nullptr, ValueError, "model '", model.name(), "' (", model.class_name(), "): ", what,
               "(tensor) from outside call() needs a Functional model, as in Keras; a subclassed model calls it in "
               "its call()", std::string_view(what) == "add_loss" ? ", or pass add_loss a zero-argument function" : "");
  return *f;
}

}  // namespace

void Model::add_loss(const Tensor& symbolic_loss) {
  Functional& f = functional_for(*this, "add_loss");
  STRATA_CHECK(symbolic_loss.is_symbolic(), ValueError, "model '", name(),
               "': add_loss(tensor) takes a symbolic tensor computed by layers from the model's tensors (Keras: "
               "\"Expected a symbolic Tensor or a callable for the loss value\"); pass a zero-argument function for "
               "a loss computed from weights");
  auto layer = make_layer("AddLoss", Config{{"name", unique_layer_name("add_loss")}, {"unconditional", false}});
  join_side_output(*f.impl_, (*layer)(std::vector<Tensor>{symbolic_loss}).at(0), name());
}


void Model::add_metric(const Tensor& symbolic_value, const std::string& metric_name, const std::string& aggregation) {
  Functional& f = functional_for(*this, "add_metric");
  STRATA_CHECK(symbolic_value.is_symbolic(), ValueError, "model '", name(),
               "': add_metric(tensor) takes a symbolic tensor computed by layers from the model's tensors");
  STRATA_CHECK(!metric_name.empty(), ValueError, "model '", name(), "': add_metric needs a name");
  auto layer = make_layer("AddMetric", Config{{"name", unique_layer_name("add_metric")},
                                              {"aggregation", aggregation},
                                              {"metric_name", metric_name}});
  join_side_output(*f.impl_, (*layer)(std::vector<Tensor>{symbolic_value}).at(0), name());
}

// ---- summary helpers ---------------------------------------------------------------------------

namespace internal {

std::unordered_set<const GraphNode*> model_nodes(const Model& model) {
  std::unordered_set<const GraphNode*> out;
  const auto outputs = model.outputs();
  if (outputs.empty()) return out;
  Graph g(model.inputs(), outputs);
  for (const auto& n : g.nodes()) out.insert(n.get());
  return out;
}

std::string python_class_name(const Layer& layer) { return std::string(bare_name(layer.class_name())); }

bool summary_is_sequential_like(const Model& model) {
  if (model.class_name() == "Sequential" || model.outputs().empty()) return true;
  const auto nodes = model_nodes(model);
  // Keras: one node per depth, each with at most one input, and no layer used twice.
  std::map<const Layer*, int> uses;
  for (const GraphNode* n : nodes) {
    if (n->inputs.size() > 1) return false;
    if (++uses[n->layer.get()] > 1) return false;
  }
  // One node per depth holds for a chain: every node has at most one consumer.
  std::map<const GraphNode*, int> consumers;
  for (const GraphNode* n : nodes) {
    for (const auto& in : n->inputs) {
      if (++consumers[in.node().get()] > 1) return false;
    }
  }
  return true;
}

std::string summary_output_shape(const Layer& layer, const std::unordered_set<const GraphNode*>&,
                                 const std::function<std::string(const Shape&)>& fmt) {
  const auto nodes = layer.inbound_nodes();
  if (nodes.empty()) return "multiple";
  auto describe = [&](const GraphNode& n) -> std::string {
    const std::optional<Config> arguments = stored_call_arguments(n);
    const Config* structure = arguments && arguments->is_object() && arguments->contains("outputs")
                                  ? &(*arguments)["outputs"] : nullptr;
    if (n.outputs.size() == 1 && n.op != "Placeholder" && !structure) return fmt(n.outputs[0].shape);
    // A call whose arguments give its outputs' Python structure (strata/plugin/call_arguments.hpp:
    // "tuple", or lists, {"tuple": [...]} and output indices) prints it, as Keras prints a
    // layer's output_shape: `((None, 3), [(None, 3), (None, 3)])` for an LSTMCell.
    std::vector<bool> used(n.outputs.size(), false);
    std::function<std::optional<std::string>(const Config&)> render = [&](const Config& v) -> std::optional<std::string> {
      if (v.is_number_unsigned()) {
        const auto i = v.get<std::size_t>();
        if (i >= n.outputs.size() || used[i]) return std::nullopt;
        used[i] = true;
        return fmt(n.outputs[i].shape);
      }
      const bool tuple = v.is_object() && v.size() == 1 && v.contains("tuple") && v["tuple"].is_array();
      if (!tuple && !v.is_array()) return std::nullopt;
      std::string s = tuple ? "(" : "[";
      const Config& items = tuple ? v["tuple"] : v;
      for (std::size_t i = 0; i < items.size(); ++i) {
        const auto item = render(items[i]);
        if (!item) return std::nullopt;
        s += (i ? ", " : "") + *item;
      }
      return s + (tuple ? ")" : "]");
    };
    if (structure && !structure->is_string()) {
      const auto text = render(*structure);
      if (text && std::all_of(used.begin(), used.end(), [](bool u) { return u; })) return *text;
    }
    const bool tuple = structure && structure->is_string() && *structure == "tuple";
    std::string s = tuple ? "(" : "[";
    for (std::size_t i = 0; i < n.outputs.size(); ++i) s += (i ? ", " : "") + fmt(n.outputs[i].shape);
    return s + (tuple ? ")" : "]");
  };
  const std::string first = describe(*nodes[0]);
  for (const auto& n : nodes) {
    if (describe(*n) != first) return "multiple";
  }
  return first;
}

std::string summary_connections(const Layer& layer, const std::unordered_set<const GraphNode*>& model_nodes) {
  std::vector<std::string> parts;
  for (const auto& node : layer.inbound_nodes()) {
    if (!model_nodes.count(node.get()) || node->op == "Placeholder") continue;
    for (const Tensor& in : node->inputs) {
      const GraphNode* src = in.node().get();
      const auto src_nodes = src->layer->inbound_nodes();
      std::size_t index = 0;
      for (std::size_t i = 0; i < src_nodes.size(); ++i) {
        if (src_nodes[i].get() == src) index = i;
      }
      parts.push_back(detail::concat("'", src->layer->name(), "[", index, "][", in.output_index(), "]'"));
    }
  }
  std::string out = "[";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + "]";
}

}  // namespace internal

// ---- model_from_config and friends ----------------------------------------------------------

namespace {

// Every class name a model config mentions, with its kind, for one combined
// UnknownObjectError before anything is built. No config is copied: a model nested N deep
// would copy each level's subtree, O(N x size).
void prescan(const Config& value, ObjectResolver& resolver, const std::string& where);

void prescan_layer(const Config& entry, ObjectResolver& resolver, const std::string& where) {
  auto kind_for_key = [](const std::string& key) -> std::optional<ObjectKind> {
    auto ends = [&](std::string_view suffix) {
      return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends("_initializer")) return ObjectKind::kInitializer;
    if (ends("_regularizer")) return ObjectKind::kRegularizer;
    if (ends("_constraint")) return ObjectKind::kConstraint;
    if (key == "activation" || key == "recurrent_activation") return ObjectKind::kActivation;
    return std::nullopt;
  };
  if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string()) return;
  internal::SerializedRef parsed;
  try {
    parsed = internal::parse_serialized_ref(entry, "layer");
  } catch (const FormatError&) {
    return;
  }
  const Config& config = *parsed.config;
  const std::string layer_where = detail::concat("layer '", internal::get_string(config, "name", "?"), "' of ", where);
  // A class that is not a model must be a layer (a miss is reported as a layer).
  ObjectResolver models(nullptr);
  if (!models.find<ObjectKind::kModel>(parsed.class_name)) resolver.find<ObjectKind::kLayer>(parsed.class_name, layer_where);
  for (auto it = config.begin(); it != config.end(); ++it) {
    const auto kind = kind_for_key(it.key());
    if (!kind || it->is_null()) continue;
    if (*kind == ObjectKind::kActivation && it->is_string() && it->get<std::string>().empty()) continue;
    try {
      resolver.find_erased(*kind, internal::parse_serialized_ref(*it, it.key()).class_name, layer_where);
    } catch (const FormatError&) {
    }
  }
  prescan(config, resolver, detail::concat("model '", internal::get_string(config, "name", "?"), "'"));
  if (const Config* inner = internal::find_key(config, "layer")) prescan_layer(*inner, resolver, layer_where);
}

void prescan(const Config& value, ObjectResolver& resolver, const std::string& where) {
  if (!value.is_object()) return;
  const Config* layers = internal::find_key(value, "layers");
  if (layers && layers->is_array()) {
    for (const auto& entry : *layers) prescan_layer(entry, resolver, where);
  }
}

}  // namespace

std::shared_ptr<Model> model_from_config(const Config& config, const CustomObjects* custom_objects) {
  STRATA_CHECK(config.is_object(), FormatError, "a model config must be a JSON object, got ", config.dump().substr(0, 200));
  const internal::SerializedRef parsed = internal::parse_serialized_ref(config, "model config");
  std::optional<CustomObjectScope> scope;
  if (custom_objects) scope.emplace(*custom_objects);
  {
    ObjectResolver resolver(nullptr);
    resolver.find<ObjectKind::kModel>(parsed.class_name, "the model config");
    prescan(*parsed.config, resolver, detail::concat("model '", internal::get_string(*parsed.config, "name", "?"), "'"));
    resolver.raise_if_missing();
  }
  ObjectResolver resolver(nullptr);
  auto factory = resolver.require<ObjectKind::kModel>(parsed.class_name, "the model config");
  auto model = (*factory)(*parsed.config);
  STRATA_CHECK(model != nullptr, ValueError, "the factory of model class '", parsed.class_name, "' returned nothing");
  internal::remember_registered_name(*model, parsed.class_name);
  return model;
}

Config model_config(const Model& model) {
  internal::ChildrenDialectScope legacy(true);
  Config c = Config::object();
  c["class_name"] = internal::registered_name_read(model).value_or(model.class_name());
  c["config"] = model.get_config();
  return c;
}

Config model_config_keras3(const Model& model, bool include_compile) {
  internal::Keras3DialectScope keras3;
  Config c = internal::serialize_child_layer(model, false, false);
  // Keras 3's build_config of the model itself: null input shape for a Functional model,
  // the input shape for a Sequential one.
  if (internal::is_graph_model(model)) {
    Config shape = nullptr;
    if (dynamic_cast<const Functional*>(&model) == nullptr && model.inputs().size() == 1) {
      shape = internal::shape_to_json(model.inputs()[0].shape());
    }
    c["build_config"] = Config{{"input_shape", shape}};
  }
  if (include_compile && model.is_compiled()) c["compile_config"] = model.compile_config();
  return c;
}

std::shared_ptr<Model> clone_model(const Model& model, const CustomObjects* custom_objects) {
  return model_from_config(model_config(model), custom_objects);
}

Config Model::get_config() const {
  STRATA_THROW(ValueError, "model '", name(), "' (class ", class_name(),
               ") is a subclassed model: its architecture cannot be written as a config, as in Keras. Save its weights "
               "instead (save_weights or a checkpoint) and rebuild the model in code, or give the class a get_config() "
               "and a constructor taking that config");
}

namespace internal {

void register_model_classes(Registrar& r) {
  r.set_module(ObjectKind::kLayer, "keras.layers");
  r.set_module(ObjectKind::kModel, "keras");
  register_layer<InputLayer>(r, "InputLayer");
  register_add_loss_layers(r);
  r.add<ObjectKind::kModel>("Sequential", [](const Config& c) -> std::shared_ptr<Model> { return std::make_shared<Sequential>(c); });
  r.add<ObjectKind::kModel>("Functional", [](const Config& c) -> std::shared_ptr<Model> { return std::make_shared<Functional>(c); });
  r.add<ObjectKind::kModel>("Model", [](const Config& c) -> std::shared_ptr<Model> { return std::make_shared<Functional>(c); });
}

}  // namespace internal

}  // namespace strata
