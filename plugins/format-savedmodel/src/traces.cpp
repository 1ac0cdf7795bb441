// The traced functions of a SavedModel: the model's call in inference and training mode,
// with and without its loss terms, the serving signature, and what the traces cannot hold.
#include <signal.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "function_graph.hpp"
#include "layer_metadata.hpp"
#include "savedmodel_format.hpp"
#include "savedmodel_internal.hpp"
#include "strata/checkpoint.hpp"
#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/graph.hpp"
#include "strata/initializers.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

// The specs a model's call is traced with: its symbolic inputs (Functional, Sequential with
// an input shape) or the shapes it was built with (subclassed), batch dimension unknown.
std::vector<strata::TensorSpec> input_specs(const strata::Model& model) {
  std::vector<strata::TensorSpec> specs;
  const auto batch_free = [](strata::Shape shape) {
    if (!shape.has_known_rank() || shape.rank() == 0) return shape;
    std::vector<std::int64_t> dims = shape.dims();
    dims[0] = strata::Shape::kUnknown;
    return strata::Shape(std::move(dims));
  };
  const auto ins = model.inputs();
  for (std::size_t i = 0; i < ins.size(); ++i) {
    specs.emplace_back(batch_free(ins[i].shape()), ins[i].dtype(), "input_" + std::to_string(i + 1));
  }
  if (specs.empty() && model.built()) {
    const auto& shapes = model.build_input_shapes();
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      specs.emplace_back(batch_free(shapes[i]), model.dtype(), "input_" + std::to_string(i + 1));
    }
  }
  return specs;
}

namespace {
// A name TensorFlow takes as a signature key (it becomes part of a placeholder's name).
bool valid_key(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// `proposed`, or input_<i>/output_<i> for every key when one is missing, repeated or not valid.
std::vector<std::string> keys_or_numbered(std::vector<std::string> proposed, std::size_t count, const char* prefix) {
  std::set<std::string> seen;
  bool usable = proposed.size() == count;
  for (const auto& k : proposed) usable = usable && valid_key(k) && seen.insert(k).second;
  if (usable) return proposed;
  std::vector<std::string> numbered;
  for (std::size_t i = 0; i < count; ++i) numbered.push_back(prefix + std::to_string(i + 1));
  return numbered;
}
}  // namespace

ServingKeys serving_keys(const strata::Model& model, std::size_t num_inputs, std::size_t num_outputs) {
  ServingKeys keys;
  std::vector<std::string> in_names;
  for (const auto& in : model.inputs()) {
    if (in.is_symbolic() && in.node()->layer) in_names.push_back(in.node()->layer->name());
  }
  keys.inputs = keys_or_numbered(std::move(in_names), num_inputs, "input_");
  // Keras's output_names: each output layer's name, a name already taken followed by _1, _2,
  // ... (one counter per layer name).
  std::vector<std::string> out_names;
  std::set<std::string> taken;
  std::map<std::string, int> suffix;
  for (const auto& out : model.outputs()) {
    if (!out.is_symbolic() || !out.node()->layer) break;
    const std::string& base = out.node()->layer->name();
    std::string proposal = base;
    while (taken.count(proposal)) {
      int& next = suffix.emplace(base, 1).first->second;
      proposal = base + "_" + std::to_string(next++);
    }
    taken.insert(proposal);
    out_names.push_back(proposal);
  }
  keys.outputs = keys_or_numbered(std::move(out_names), num_outputs, "output_");
  return keys;
}

std::vector<std::size_t> sorted_order(const std::vector<std::string>& keys) {
  std::vector<std::size_t> order(keys.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
  return order;
}

bool is_variable_node(const strata::CheckpointObjectGraph::Node& node) {
  return node.children.empty() && node.attributes.size() == 1 && node.attributes[0].name == "VARIABLE_VALUE";
}

void spec_to_proto(const strata::TensorSpec& spec, strata::tf::TensorSpecProto& out) {
  out.set_name(spec.name);
  out.set_dtype(static_cast<strata::tf::DataType>(strata::dtype_to_tf(spec.dtype)));
  if (!spec.shape.has_known_rank()) {
    out.mutable_shape()->set_unknown_rank(true);
    return;
  }
  for (const std::int64_t d : spec.shape.dims()) out.mutable_shape()->add_dim()->set_size(d < 0 ? -1 : d);
}


// Python's inspect.FullArgSpec, as TensorFlow's FunctionSpec stores it, of a function with
// positional `args` (the last defaults.size() of them defaulted) and keyword-only `kwonly`;
// no input_signature.
void set_function_spec(strata::tf::FunctionSpec& out, const std::vector<std::string>& args,
                       const std::vector<strata::tf::StructuredValue>& defaults, const std::vector<std::string>& kwonly) {
  auto* spec = out.mutable_fullargspec()->mutable_named_tuple_value();
  spec->set_name("FullArgSpec");
  const auto field = [&](const char* key) {
    auto* pair = spec->add_values();
    pair->set_key(key);
    return pair->mutable_value();
  };
  auto* arg_list = field("args")->mutable_list_value();
  for (const auto& a : args) arg_list->add_values()->set_string_value(a);
  field("varargs")->mutable_none_value();
  field("varkw")->mutable_none_value();
  auto* d = field("defaults");
  if (defaults.empty()) {
    d->mutable_none_value();
  } else {
    for (const auto& v : defaults) *d->mutable_tuple_value()->add_values() = v;
  }
  auto* kw = field("kwonlyargs")->mutable_list_value();
  for (const auto& k : kwonly) kw->add_values()->set_string_value(k);
  field("kwonlydefaults")->mutable_none_value();
  field("annotations")->mutable_dict_value();
  out.mutable_input_signature()->mutable_none_value();
}

// One output: its TensorSpec; several: a tuple of them.
void set_output_signature(const strata::Graph& graph, strata::tf::SavedConcreteFunction& cf) {
  const auto spec_of = [](const strata::Tensor& t, std::size_t o) {
    return strata::TensorSpec(t.shape(), t.dtype(), "output_" + std::to_string(o + 1));
  };
  if (graph.outputs().size() == 1) {
    spec_to_proto(spec_of(graph.outputs()[0], 0), *cf.mutable_output_signature()->mutable_tensor_spec_value());
    return;
  }
  auto* outs = cf.mutable_output_signature()->mutable_tuple_value();
  for (std::size_t o = 0; o < graph.outputs().size(); ++o) {
    spec_to_proto(spec_of(graph.outputs()[o], o), *outs->add_values()->mutable_tensor_spec_value());
  }
}

void set_call_signature(const std::vector<strata::TensorSpec>& specs, bool training, const strata::Graph& graph,
                        strata::tf::SavedConcreteFunction& cf) {
  auto* sig = cf.mutable_canonicalized_input_signature()->mutable_tuple_value();
  auto* args = sig->add_values()->mutable_tuple_value();
  if (specs.size() == 1) {
    spec_to_proto(specs[0], *args->add_values()->mutable_tensor_spec_value());
  } else {
    auto* list = args->add_values()->mutable_list_value();
    for (const auto& spec : specs) spec_to_proto(spec, *list->add_values()->mutable_tensor_spec_value());
  }
  args->add_values()->set_bool_value(training);
  args->add_values()->mutable_none_value();
  sig->add_values()->mutable_dict_value();
  set_output_signature(graph, cf);
}

// The root's `signatures` (a signature_map) with `serving_default`: a bare concrete function
// of keyword arguments (the model's input names) returning a dict keyed by its output names.
// `graph` takes its inputs and returns its outputs in key order, as TensorFlow flattens both.
void add_serving_signature(const strata::Graph& graph, const std::vector<strata::TensorSpec>& specs,
                           const ServingKeys& keys, const std::vector<int>& bound, strata::tf::SavedObjectGraph& og) {
  auto& cf = (*og.mutable_concrete_functions())[kServingFunction];
  for (const int b : bound) cf.add_bound_inputs(b);
  auto* sig = cf.mutable_canonicalized_input_signature()->mutable_tuple_value();
  sig->add_values()->mutable_tuple_value();
  auto* kwargs = sig->add_values()->mutable_dict_value()->mutable_fields();
  std::vector<std::string> sorted_inputs;
  for (const std::size_t i : sorted_order(keys.inputs)) {
    sorted_inputs.push_back(keys.inputs[i]);
    strata::TensorSpec named = specs[i];
    named.name = keys.inputs[i];
    spec_to_proto(named, *(*kwargs)[keys.inputs[i]].mutable_tensor_spec_value());
  }
  auto* outs = cf.mutable_output_signature()->mutable_dict_value()->mutable_fields();
  const auto out_order = sorted_order(keys.outputs);
  for (std::size_t o = 0; o < out_order.size(); ++o) {
    const std::string& key = keys.outputs[out_order[o]];
    spec_to_proto(strata::TensorSpec(graph.outputs()[o].shape(), graph.outputs()[o].dtype(), key),
                  *(*outs)[key].mutable_tensor_spec_value());
  }
  const int map_node = og.nodes_size();
  auto* map = og.add_nodes()->mutable_user_object();
  map->set_identifier("signature_map");
  map->mutable_version()->set_producer(1);
  map->mutable_version()->set_min_consumer(1);
  const int fn_node = og.nodes_size();
  auto* bare = og.add_nodes()->mutable_bare_concrete_function();
  bare->set_concrete_function_name(kServingFunction);
  for (const auto& k : sorted_inputs) bare->add_argument_keywords(k);
  set_function_spec(*bare->mutable_function_spec(), {}, {}, sorted_inputs);
  auto* to_fn = og.mutable_nodes(map_node)->add_children();
  to_fn->set_node_id(fn_node);
  to_fn->set_local_name("serving_default");
  auto* to_map = og.mutable_nodes(0)->add_children();
  to_map->set_node_id(map_node);
  to_map->set_local_name("signatures");
}

// Itanium C++ ABI (GCC and Clang on Linux): the function a virtual member resolves to for
// `object`'s dynamic type, read from its vtable. A pointer to a virtual member function
// holds the slot's byte offset: x86-64 and others store 1 + offset in `ptr`; ARM stores
// the offset in `ptr` and marks virtual with the low bit of `adj`. nullptr when `member`
// is not virtual.
template <class Member>
const void* resolved_virtual(const strata::Model& object, Member member) {
  struct Representation {
    std::ptrdiff_t ptr;
    std::ptrdiff_t adj;
  };
  static_assert(sizeof(Member) == sizeof(Representation), "not the Itanium C++ ABI");
  Representation r{};
  std::memcpy(&r, &member, sizeof r);
#if defined(__arm__) || defined(__aarch64__)
  if ((r.adj & 1) == 0) return nullptr;
  const std::ptrdiff_t offset = r.ptr, adjust = r.adj >> 1;
#else
  if ((r.ptr & 1) == 0) return nullptr;
  const std::ptrdiff_t offset = r.ptr - 1, adjust = r.adj;
#endif
  const char* self = reinterpret_cast<const char*>(&object) + adjust;
  const char* vtable = nullptr;
  std::memcpy(&vtable, self, sizeof vtable);
  const void* fn = nullptr;
  std::memcpy(&fn, vtable + offset, sizeof fn);
  return fn;
}

// A model class that overrides nothing of Model's training API: the reference the
// vtable comparison needs.
class PlainModel final : public strata::Model {
 public:
  PlainModel() : Model("PlainModel", Config{{"name", "plain_model_probe"}}) {}
  std::vector<strata::Tensor> call(const std::vector<strata::Tensor>& inputs, const strata::CallContext&) const override {
    return inputs;
  }
};

// What a SavedModel's traces cannot hold (Keras's guide): the model's overridden training
// members (train_step, test_step: code that only a class provides) and ops that run on a
// mask passed to the model's call (the traces take no mask). Each found is a warning naming
// the class or the layers; loading the SavedModel without the class then revives a model
// that lacks them. Returns {"overridden": [...], "mask_readers": [...]}, which the root's
// metadata keeps as "strata_traces_lack" so a revived model can ask for the class when it
// is needed.
Config warn_what_traces_cannot_hold(const strata::Model& model, const std::vector<strata::TensorSpec>& specs) {
  Config lack = Config::object();
  lack["overridden"] = Config::array();
  lack["mask_readers"] = Config::array();
  if (const auto* revived = dynamic_cast<const RevivedFromTraces*>(&model)) {
    // Its train_step/test_step overrides are the loader's (they warn when the original
    // class's own are missing): what the traces lack is what they lacked when first saved.
    for (const auto& n : revived->original_overridden()) lack["overridden"].push_back(n);
    for (const auto& n : revived->original_mask_readers()) lack["mask_readers"].push_back(n);
    return lack;
  }
  static const PlainModel plain;
  std::vector<std::string> overridden;
  if (resolved_virtual(model, &strata::Model::train_step) != resolved_virtual(plain, &strata::Model::train_step)) {
    overridden.emplace_back("train_step");
  }
  if (resolved_virtual(model, &strata::Model::test_step) != resolved_virtual(plain, &strata::Model::test_step)) {
    overridden.emplace_back("test_step");
  }
  for (const auto& n : overridden) lack["overridden"].push_back(n);
  if (!overridden.empty()) {
    std::string names;
    for (const auto& n : overridden) names += (names.empty() ? "" : " and ") + n;
    strata::log_warning("model '", model.name(), "' (class '", model.class_name(), "') overrides ", names,
                        ": a SavedModel holds its traced call only, so a model revived from it without the class "
                        "trains with the standard ", names, ". Load the class (plugin or custom_objects) with the "
                        "SavedModel to keep them.");
  }
  // Trace the call once more with a mask placeholder per input of rank >= 2 ([batch, steps]):
  // the layers whose ops read a mask are the ones the saved traces (traced without) lose.
  std::vector<strata::TensorSpec> with_masks = specs;
  std::size_t masked = 0;
  for (const auto& spec : specs) {
    if (spec.shape.has_known_rank() && spec.shape.rank() >= 2) {
      with_masks.emplace_back(strata::Shape{strata::Shape::kUnknown, spec.shape.dims()[1]}, strata::DType::kBool,
                              "mask_" + std::to_string(masked++));
    }
  }
  if (masked == 0) return lack;
  strata::Graph graph;
  try {
    graph = strata::trace(
        [&](const std::vector<strata::Tensor>& in) {
          strata::CallContext ctx;
          std::size_t m = specs.size();
          for (std::size_t i = 0; i < specs.size(); ++i) {
            const bool has = specs[i].shape.has_known_rank() && specs[i].shape.rank() >= 2;
            ctx.masks.push_back(has ? in[m++] : strata::Tensor());
          }
          const std::vector<strata::Tensor> inputs(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(specs.size()));
          return model(inputs, ctx);
        },
        with_masks, "mask_probe");
  } catch (const strata::Error&) {
    return lack;  // a call that refuses masks loses nothing
  }
  std::set<const strata::GraphNode*> mask_nodes;
  for (std::size_t i = specs.size(); i < graph.inputs().size(); ++i) mask_nodes.insert(graph.inputs()[i].node().get());
  std::set<std::string> readers;
  for (const auto& node : graph.nodes()) {
    for (const auto& in : node->inputs) {
      if (!in.is_symbolic() || mask_nodes.count(in.node().get()) == 0) continue;
      // The layer is the first name scope below the model's ("seq/lstm/Cast" -> "lstm").
      std::string name = node->name;
      const std::string model_scope = model.name() + "/";
      if (name.rfind(model_scope, 0) == 0) name.erase(0, model_scope.size());
      const auto slash = name.find('/');
      readers.insert(slash == std::string::npos ? name : name.substr(0, slash));
    }
  }
  if (readers.empty()) return lack;
  // Models made of Strata's own classes always load from them; their traces matter only
  // when revival is forced (LoadOptions::revive_from_traces): a note, not a warning.
  // Who provides a class: 0 Strata as a Keras class (registered with a keras.* module),
  // 1 a custom class of a plugin, 2 nobody.
  const auto provider = [](const strata::Layer& layer) {
    const auto& registry = strata::Registry::global();
    for (const auto kind : {strata::ObjectKind::kLayer, strata::ObjectKind::kModel}) {
      const auto match = registry.find_erased(kind, layer.class_name());
      if (match.value) return match.module.rfind("keras", 0) == 0 ? 0 : 1;
    }
    return 2;
  };
  // The model's layers must all be Strata's; inside a Strata layer, unregistered children
  // (LSTM's cell) are its own parts.
  std::vector<std::pair<const strata::Layer*, bool>> pending{{&model, false}};  // layer, part of a Strata layer
  bool own_classes = true;
  for (std::size_t i = 0; i < pending.size() && own_classes && i < 100000; ++i) {
    const auto [layer, part] = pending[i];
    const int who = provider(*layer);
    if (who == 2 && part) continue;
    own_classes = who == 0;
    if (dynamic_cast<const strata::Sequential*>(layer) || dynamic_cast<const strata::Functional*>(layer)) {
      for (const auto& l : static_cast<const strata::Model*>(layer)->layers()) pending.emplace_back(l.get(), false);
    } else {
      for (const auto& c : layer->children()) pending.emplace_back(c.layer.get(), true);
    }
  }
  std::string names;
  for (const auto& r : readers) {
    names += (names.empty() ? "'" : ", '") + r + "'";
    lack["mask_readers"].push_back(r);
  }
  strata::log_message(own_classes ? strata::LogLevel::kInfo : strata::LogLevel::kWarning,
                      strata::detail::concat(
                          "model '", model.name(), "': ", names, " use", readers.size() == 1 ? "s" : "",
                          " a mask passed to the model's call; the SavedModel's traced call takes no mask, so a model "
                          "revived from it without its classes refuses such masks (masks the model computes itself, "
                          "e.g. with Masking or Embedding(mask_zero=True), are traced)"));
  return lack;
}

// Traces the model's call (inference, then training mode when that traces too) into the
// MetaGraph's function library, binds each function's variables to their object-graph
// nodes (SavedConcreteFunction.bound_inputs) and gives the root a `__call__` function
// object listing them. Anything that cannot be traced is a warning naming it, and the
// SavedModel is written without traces (loading it then needs the classes).
Config add_traces(const strata::Model& model, const strata::CheckpointObjectGraph& ckpt, strata::tf::MetaGraphDef& mg) {
  const auto specs = input_specs(model);
  if (specs.empty()) {
    strata::log_warning("model '", model.name(), "' is not built, so it is saved without traced functions (call or "
                        "build it before saving, or loading it will need its classes)");
    return Config();
  }
  Config lack = warn_what_traces_cannot_hold(model, specs);
  std::map<std::string, int> node_of;
  std::set<std::string> ambiguous;
  for (std::size_t id = 0; id < ckpt.nodes.size(); ++id) {
    if (!is_variable_node(ckpt.nodes[id])) continue;
    if (!node_of.emplace(ckpt.nodes[id].attributes[0].full_name, static_cast<int>(id)).second) {
      ambiguous.insert(ckpt.nodes[id].attributes[0].full_name);
    }
  }
  auto* og = mg.mutable_object_graph_def();
  // Writes `graph` as concrete function `fname` bound to the variable nodes it reads; the
  // problem (untraceable, unbound variable) when it cannot.
  const auto write = [&](const strata::Graph& graph, const std::string& fname, bool training,
                         std::vector<int>& bound) -> std::string {
    for (const auto& v : graph.captured_variables()) {
      const auto it = node_of.find(v.name());
      if (it == node_of.end() || ambiguous.count(v.name())) {
        return strata::detail::concat("its call reads variable '", v.name(), "', which the model does not track ",
                                      "under a unique name");
      }
      bound.push_back(it->second);
    }
    try {
      strata::savedmodel::add_function(graph, fname, *mg.mutable_graph_def()->mutable_library());
    } catch (const strata::Error& e) {
      return e.message();
    }
    auto& cf = (*og->mutable_concrete_functions())[fname];
    for (const int b : bound) cf.add_bound_inputs(b);
    set_call_signature(specs, training, graph, cf);
    return {};
  };
  std::vector<std::string> saved, saved_with_losses;
  for (const bool training : {false, true}) {
    const std::string fname = training ? kTrainingCallFunction : kCallFunction;
    std::string problem;
    strata::Graph graph;
    std::size_t num_outputs = 0;
    try {
      // The call's add_loss terms and the weights' regularization penalties are traced too,
      // as extra outputs after the model's.
      graph = strata::trace(
          [&](const std::vector<strata::Tensor>& in) {
            strata::LossCollector collector;
            strata::CallContext ctx;
            ctx.training = training;
            std::vector<strata::Tensor> out = model(in, ctx);
            num_outputs = out.size();
            std::vector<strata::Tensor> losses = collector.losses();
            // In both modes: evaluate adds the penalties as fit does (Keras's test_step too).
            for (const auto& r : model.regularization_losses()) losses.push_back(r);
            for (const auto& l : losses) out.push_back(l.is_symbolic() ? l : strata::execute1("Identity", {l}));
            return out;
          },
          specs, fname);
    } catch (const strata::Error& e) {
      problem = strata::detail::concat("its call cannot be traced", training ? " in training mode" : "", ": ",
                                       e.message());
    }
    std::vector<int> bound;
    if (problem.empty() && graph.outputs().size() > num_outputs) {
      // __call__ returns the outputs only; call_and_return_conditional_losses (Keras's name)
      // the outputs and then the loss terms.
      const std::string lname = training ? kTrainingLossesFunction : kLossesFunction;
      std::vector<int> lbound;
      problem = write(graph, lname, training, lbound);
      if (problem.empty()) saved_with_losses.push_back(lname);
      const std::vector<strata::Tensor> outputs(graph.outputs().begin(),
                                                graph.outputs().begin() + static_cast<std::ptrdiff_t>(num_outputs));
      graph = strata::Graph(graph.inputs(), outputs, fname, graph.side_effects());
    }
    if (problem.empty()) problem = write(graph, fname, training, bound);
    if (!problem.empty()) {
      if (!training) {
        strata::log_warning("model '", model.name(), "' is saved without traced functions: ", problem,
                            ". Loading it will need its classes (plugins or custom_objects).");
        mg.mutable_graph_def()->mutable_library()->Clear();
        og->mutable_concrete_functions()->clear();
        return Config();
      }
      strata::log_info("model '", model.name(), "': no training-mode trace (", problem,
                       "); a model revived from this SavedModel trains with its inference trace");
      break;
    }
    saved.push_back(fname);
    if (!training) {
      // The serving signature: the same graph as a function of keyword arguments (the input
      // names) returning a dict keyed by the output names, both in key order, as
      // tf.saved_model.load's `signatures` expects.
      const ServingKeys keys = serving_keys(model, specs.size(), graph.outputs().size());
      std::vector<strata::Tensor> ins, outs;
      for (const std::size_t i : sorted_order(keys.inputs)) ins.push_back(graph.inputs()[i]);
      for (const std::size_t o : sorted_order(keys.outputs)) outs.push_back(graph.outputs()[o]);
      const strata::Graph serving(ins, outs, kServingFunction, graph.side_effects());
      std::vector<int> serving_bound;
      for (const auto& v : serving.captured_variables()) serving_bound.push_back(node_of.at(v.name()));
      strata::savedmodel::add_function(serving, kServingFunction, *mg.mutable_graph_def()->mutable_library());
      add_serving_signature(serving, specs, keys, serving_bound, *og);
    }
  }
  // call(inputs, training=False, mask=None).
  std::vector<strata::tf::StructuredValue> defaults(2);
  defaults[0].set_bool_value(false);
  defaults[1].mutable_none_value();
  const auto add_function_node = [&](const std::vector<std::string>& names, const char* child_name) {
    if (names.empty()) return;
    const int fn_node = og->nodes_size();
    auto* fn = og->add_nodes()->mutable_function();
    for (const auto& name : names) fn->add_concrete_functions(name);
    set_function_spec(*fn->mutable_function_spec(), {"inputs", "training", "mask"}, defaults, {});
    auto* child = og->mutable_nodes(0)->add_children();
    child->set_node_id(fn_node);
    child->set_local_name(child_name);
  };
  add_function_node(saved, "__call__");
  add_function_node(saved_with_losses, "call_and_return_conditional_losses");
  return lack;
}

}  // namespace strata::savedmodel
