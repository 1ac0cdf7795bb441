// The "savedmodel" format: TensorFlow SavedModel directories (docs FORMATS.md §4).
// Reading builds the model from its classes when they are available (the root's Keras
// metadata: model_config through model_from_config, or a subclassed model's registered class
// and build_input_shape), restores variables/ through the checkpoint format and compiles
// from training_config; when a class is missing it revives the model from the traced
// functions (RevivedModel). Writing traces the model's call (function_graph.cpp) and writes
// Keras metadata for every layer (layer_metadata.cpp), so TensorFlow and tf-keras load the
// result. See README.md next to this file.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
#include "strata/checkpoint.hpp"
#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/graph.hpp"
#include "strata/initializers.hpp"
#include "strata/ops.hpp"
#include "strata/format.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace {

namespace fs = std::filesystem;
using strata::Config;

constexpr std::size_t kMaxProtoBytes = std::size_t{1} << 31;  // protobuf's own message limit

struct Metadata {
  Config root;            // the root's Keras metadata JSON
  std::string source;     // which file it came from
};

strata::tf::SavedModel read_saved_model(const fs::path& dir) {
  const fs::path file = dir / "saved_model.pb";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    STRATA_CHECK(!fs::exists(dir / "saved_model.pbtxt", ec), FormatError, "'", dir.string(),
                 "' holds saved_model.pbtxt (text format), which Strata does not read");
    STRATA_THROW(FormatError, "'", dir.string(), "' is not a SavedModel: it has no saved_model.pb");
  }
  const std::string bytes = strata::read_file(file, kMaxProtoBytes);
  strata::tf::SavedModel sm;
  STRATA_CHECK(sm.ParseFromString(bytes), FormatError, "'", file.string(), "' is not a valid SavedModel protobuf");
  STRATA_CHECK(sm.meta_graphs_size() >= 1, FormatError, "'", file.string(), "' has no MetaGraphDef");
  return sm;
}

Config parse_metadata(const std::string& json, const std::string& where) {
  Config c = strata::parse_python_json(json, where);
  STRATA_CHECK(c.is_object(), FormatError, where, ": the Keras metadata is not a JSON object");
  return c;
}

Metadata read_metadata(const fs::path& dir, const strata::tf::SavedModel& sm) {
  const fs::path file = dir / "keras_metadata.pb";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    strata::keras::SavedMetadata md;
    STRATA_CHECK(md.ParseFromString(strata::read_file(file, kMaxProtoBytes)), FormatError, "'", file.string(),
                 "' is not a valid Keras SavedMetadata protobuf");
    for (const auto& node : md.nodes()) {
      if (node.node_id() == 0 || node.node_path() == "root") {
        std::string where = "'";
        where.append(file.string()).append("' node 0 (").append(node.identifier()).append(")");
        return {parse_metadata(node.metadata(), where), file.string()};
      }
    }
    STRATA_THROW(FormatError, "'", file.string(), "' has no metadata for the root object (node 0)");
  }
  // TF <= 2.4: the JSON lives in the object graph's SavedUserObject.metadata.
  const auto& graph = sm.meta_graphs(0).object_graph_def();
  STRATA_CHECK(graph.nodes_size() > 0 && graph.nodes(0).has_user_object() &&
                   !graph.nodes(0).user_object().metadata().empty(),
               FormatError, "'", dir.string(),
               "' has no keras_metadata.pb and no Keras metadata in saved_model.pb: it was not written by "
               "tf-keras (plain tf.Module SavedModels need their traced functions, which Strata does not run)");
  std::string where = "'";
  where.append((dir / "saved_model.pb").string()).append("' object 0 (").append(graph.nodes(0).user_object().identifier()).append(")");
  return {parse_metadata(graph.nodes(0).user_object().metadata(), where), (dir / "saved_model.pb").string()};
}

constexpr const char* kCallFunction = "__inference_call";
constexpr const char* kTrainingCallFunction = "__inference_call_training";
// The call followed by its loss terms (written only when the call adds losses or, in
// training mode, weights have regularizers).
constexpr const char* kLossesFunction = "__inference_call_and_return_conditional_losses";
constexpr const char* kTrainingLossesFunction = "__inference_call_and_return_conditional_losses_training";

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

constexpr const char* kServingFunction = "__inference_signature_wrapper";

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

// The root's `signatures` (a signature_map) with `serving_default`: a bare concrete function
// of keyword arguments input_<i> returning {output_<i>: ...} (TensorFlow orders both by key).
void add_serving_signature(const strata::Graph& graph, const std::vector<strata::TensorSpec>& specs,
                           const std::vector<int>& bound, strata::tf::SavedObjectGraph& og) {
  auto& cf = (*og.mutable_concrete_functions())[kServingFunction];
  for (const int b : bound) cf.add_bound_inputs(b);
  auto* sig = cf.mutable_canonicalized_input_signature()->mutable_tuple_value();
  sig->add_values()->mutable_tuple_value();
  auto* kwargs = sig->add_values()->mutable_dict_value()->mutable_fields();
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    keys.push_back("input_" + std::to_string(i + 1));
    strata::TensorSpec named = specs[i];
    named.name = keys.back();
    spec_to_proto(named, *(*kwargs)[keys.back()].mutable_tensor_spec_value());
  }
  auto* outs = cf.mutable_output_signature()->mutable_dict_value()->mutable_fields();
  for (std::size_t o = 0; o < graph.outputs().size(); ++o) {
    const std::string key = "output_" + std::to_string(o + 1);
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
  for (const auto& k : keys) bare->add_argument_keywords(k);
  set_function_spec(*bare->mutable_function_spec(), {}, {}, keys);
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
    // Keras's layout of a call: ((inputs, training, mask), {}), inputs a TensorSpec or, for
    // several inputs, a list of them.
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
    return {};
  };
  std::vector<std::string> saved, saved_with_losses;
  for (const bool training : {false, true}) {
    const std::string fname = training ? kTrainingCallFunction : kCallFunction;
    std::string problem;
    strata::Graph graph;
    std::size_t num_outputs = 0;
    try {
      // The call's add_loss terms (and, in training mode, the weights' regularization
      // penalties) are traced too, as extra outputs after the model's.
      graph = strata::trace(
          [&](const std::vector<strata::Tensor>& in) {
            strata::LossCollector collector;
            strata::CallContext ctx;
            ctx.training = training;
            std::vector<strata::Tensor> out = model(in, ctx);
            num_outputs = out.size();
            std::vector<strata::Tensor> losses = collector.losses();
            if (training) {
              for (const auto& r : model.regularization_losses()) losses.push_back(r);
            }
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
      // The serving signature: the same graph as a function of keyword arguments input_<i>
      // returning {output_<i>: ...}, as tf.saved_model.load's `signatures` expects.
      if (specs.size() < 10 && graph.outputs().size() < 10) {
        strata::savedmodel::add_function(graph, kServingFunction, *mg.mutable_graph_def()->mutable_library());
        add_serving_signature(graph, specs, bound, *og);
      }
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

// The TF1 view of the SavedModel, for session-based loaders (`saved_model_cli run`, TF
// Serving's SavedModelBundle, tf.compat.v1 loaders): the MetaGraph's graph_def gets a
// placeholder per serving input (the signature's tensor names), a VarHandleOp per variable,
// a StatefulPartitionedCall of the serving function (its outputs are the signature's
// outputs), and a V2 saver: `saver_filename` fed with the variables prefix, `restore_all`
// (RestoreV2 + AssignVariableOp per variable) and `saver_save` (SaveV2 of every variable).
// TF2 loaders ignore these nodes; they read the object graph.
void add_session_graph(strata::tf::MetaGraphDef& mg, const strata::WrittenCheckpoint& written) {
  const strata::CheckpointObjectGraph& ckpt = written.object_graph;
  using strata::tf::DataType;
  const auto& og = mg.object_graph_def();
  const auto serving = og.concrete_functions().find(kServingFunction);
  if (serving == og.concrete_functions().end()) return;
  const strata::tf::FunctionDef* fn = nullptr;
  for (const auto& f : mg.graph_def().library().function()) {
    if (f.signature().name() == kServingFunction) fn = &f;
  }
  if (fn == nullptr) return;
  auto& gd = *mg.mutable_graph_def();
  const auto add_node = [&gd](const std::string& name, const std::string& op) {
    auto* n = gd.add_node();
    n->set_name(name);
    n->set_op(op);
    return n;
  };
  const auto set_shape = [](strata::tf::TensorShapeProto& out, const strata::Shape& shape) {
    for (const std::int64_t d : shape.dims()) out.add_dim()->set_size(d < 0 ? -1 : d);
  };
  const auto string_const = [&](const std::string& name, const std::vector<std::string>& values) {
    auto* n = add_node(name, "Const");
    (*n->mutable_attr())["dtype"].set_type(strata::tf::DT_STRING);
    auto& t = *(*n->mutable_attr())["value"].mutable_tensor();
    t.set_dtype(strata::tf::DT_STRING);
    t.mutable_tensor_shape()->add_dim()->set_size(static_cast<std::int64_t>(values.size()));
    for (const auto& v : values) t.add_string_val(v);
  };

  // Every variable of the object graph, in node order.
  struct Var {
    std::string handle, key;
    DataType dtype;
  };
  std::map<int, Var> vars;
  for (std::size_t id = 0; id < ckpt.nodes.size() && static_cast<int>(id) < og.nodes_size(); ++id) {
    if (!is_variable_node(ckpt.nodes[id])) continue;
    const std::string& key = ckpt.nodes[id].attributes[0].checkpoint_key;
    const auto& value = written.values.at(key);
    Var v{"Variable_" + std::to_string(id), key, static_cast<DataType>(strata::dtype_to_tf(value.dtype))};
    auto* n = add_node(v.handle, "VarHandleOp");
    (*n->mutable_attr())["dtype"].set_type(v.dtype);
    set_shape(*(*n->mutable_attr())["shape"].mutable_shape(), value.shape);
    (*n->mutable_attr())["shared_name"].set_s(v.handle);
    (*n->mutable_attr())["container"].set_s("");
    vars.emplace(static_cast<int>(id), std::move(v));
  }
  for (const int b : serving->second.bound_inputs()) {
    if (!vars.count(b)) return;  // not a variable the checkpoint holds: no session graph
  }

  // The serving call.
  auto* call = add_node("StatefulPartitionedCall", "StatefulPartitionedCall");
  auto& tin = *(*call->mutable_attr())["Tin"].mutable_list();
  int next_input = 1;
  for (const auto& arg : fn->signature().input_arg()) {
    if (arg.type() == strata::tf::DT_RESOURCE) continue;
    const std::string name = "serving_default_input_" + std::to_string(next_input++);
    auto* ph = add_node(name, "Placeholder");
    (*ph->mutable_attr())["dtype"].set_type(arg.type());
    const auto shapes = fn->arg_attr().find(static_cast<std::uint32_t>(next_input - 2));
    if (shapes != fn->arg_attr().end()) {
      const auto a = shapes->second.attr().find("_output_shapes");
      if (a != shapes->second.attr().end() && a->second.list().shape_size() == 1) {
        *(*ph->mutable_attr())["shape"].mutable_shape() = a->second.list().shape(0);
      }
    }
    call->add_input(name);
    tin.add_type(arg.type());
  }
  for (const int b : serving->second.bound_inputs()) {
    call->add_input(vars.at(b).handle);
    tin.add_type(strata::tf::DT_RESOURCE);
  }
  auto& tout = *(*call->mutable_attr())["Tout"].mutable_list();
  for (const auto& arg : fn->signature().output_arg()) tout.add_type(arg.type());
  (*call->mutable_attr())["f"].mutable_func()->set_name(kServingFunction);
  for (const char* a : {"config", "config_proto", "executor_type"}) (*call->mutable_attr())[a].set_s("");
  // Output i of the call is the signature's output_<i+1> ("StatefulPartitionedCall:i").

  // The saver.
  auto* filename = add_node("saver_filename", "Placeholder");
  (*filename->mutable_attr())["dtype"].set_type(strata::tf::DT_STRING);
  (*filename->mutable_attr())["shape"].mutable_shape();
  std::vector<std::string> keys, slices;
  for (const auto& [id, v] : vars) {
    keys.push_back(v.key);
    slices.emplace_back();
  }
  string_const("saver/tensor_names", keys);
  string_const("saver/shape_and_slices", slices);
  auto* restore = add_node("saver/RestoreV2", "RestoreV2");
  for (const char* in : {"saver_filename", "saver/tensor_names", "saver/shape_and_slices"}) restore->add_input(in);
  auto* save = add_node("saver/SaveV2", "SaveV2");
  for (const char* in : {"saver_filename", "saver/tensor_names", "saver/shape_and_slices"}) save->add_input(in);
  auto& restore_types = *(*restore->mutable_attr())["dtypes"].mutable_list();
  auto& save_types = *(*save->mutable_attr())["dtypes"].mutable_list();
  auto* restore_all = add_node("restore_all", "NoOp");
  std::size_t k = 0;
  for (const auto& [id, v] : vars) {
    restore_types.add_type(v.dtype);
    save_types.add_type(v.dtype);
    auto* assign = add_node("saver/Assign_" + std::to_string(k), "AssignVariableOp");
    assign->add_input(v.handle);
    assign->add_input("saver/RestoreV2:" + std::to_string(k));
    (*assign->mutable_attr())["dtype"].set_type(v.dtype);
    restore_all->add_input("^saver/Assign_" + std::to_string(k));
    auto* read = add_node("saver/Read_" + std::to_string(k), "ReadVariableOp");
    read->add_input(v.handle);
    (*read->mutable_attr())["dtype"].set_type(v.dtype);
    save->add_input("saver/Read_" + std::to_string(k));
    ++k;
  }
  auto* saved = add_node("saver_save", "Identity");
  saved->add_input("saver_filename");
  saved->add_input("^saver/SaveV2");
  (*saved->mutable_attr())["T"].set_type(strata::tf::DT_STRING);
  auto* saver = mg.mutable_saver_def();
  saver->set_save_tensor_name("saver_save:0");
  saver->set_restore_op_name("restore_all");
  gd.mutable_versions()->set_producer(1);
}

// The training flag a concrete function was traced with: a keyword argument `training`
// (Strata), or the positional bool after the inputs (Keras's `call(inputs, training, mask)`).
bool training_flag(const strata::tf::SavedConcreteFunction& cf) {
  bool is_training = false;
  const auto& sig = cf.canonicalized_input_signature();
  if (sig.has_tuple_value() && sig.tuple_value().values_size() == 2) {
    const auto& positional = sig.tuple_value().values(0);
    const auto& keywords = sig.tuple_value().values(1);
    if (keywords.has_dict_value()) {
      const auto t = keywords.dict_value().fields().find("training");
      if (t != keywords.dict_value().fields().end() && t->second.kind_case() == strata::tf::StructuredValue::kBoolValue) {
        is_training = t->second.bool_value();
      }
    }
    if (positional.has_tuple_value()) {
      for (const auto& v : positional.tuple_value().values()) {
        if (v.kind_case() == strata::tf::StructuredValue::kBoolValue) {
          is_training = v.bool_value();
          break;
        }
      }
    }
  }
  return is_training;
}

// A model revived from its traced functions (its class is not needed): call() runs the
// saved graph of the mode asked for (training falls back to the inference graph when no
// training trace was saved) on the restored variables, so it predicts, and trains through
// the ops' gradients, like the original.
class RevivedModel final : public strata::Model {
 public:
  RevivedModel(const std::string& class_name, const std::string& name)
      : Model(class_name, Config{{"name", name}}) {}

  strata::Variable add_variable(const std::string& name, const strata::Tensor& value, bool trainable) {
    strata::WeightSpec spec;
    spec.name = name;
    spec.shape = value.shape();
    spec.dtype = value.dtype();
    spec.trainable = trainable;
    spec.initializer = strata::get_initializer(Config("zeros"));
    strata::Variable v = add_weight(spec);
    v.assign(value);
    return v;
  }
  void set_graphs(strata::Graph inference, std::optional<strata::Graph> training) {
    std::vector<strata::Shape> shapes;
    for (const auto& in : inference.inputs()) shapes.push_back(in.shape());
    inference_ = std::move(inference);
    training_ = std::move(training);
    // Inference runs the graph the device's passes optimised (the oneDNN backend fuses
    // MatMul + BiasAdd + activation); training and other devices run the traced one.
    const strata::Device cpu = strata::Device::cpu();
    optimized_ = strata::optimize_graph(inference_, cpu, true);
    set_built(shapes);
  }
  // The calls that also return their loss terms (add_loss, and in training mode the
  // weights' regularization penalties), after the outputs.
  void set_loss_graphs(std::optional<strata::Graph> inference, std::optional<strata::Graph> training) {
    for (const auto* g : {&inference, &training}) {
      STRATA_CHECK(!*g || (*g)->outputs().size() >= inference_.outputs().size(), FormatError, "model '", name(),
                   "': call_and_return_conditional_losses returns fewer values than __call__");
    }
    inference_losses_ = std::move(inference);
    training_losses_ = std::move(training);
  }
  // What the saving model's class had that the traces lack (root metadata
  // "strata_traces_lack"): overridden training members, layers reading a caller's mask.
  void set_lacking(std::vector<std::string> overridden, std::vector<std::string> mask_readers) {
    overridden_ = std::move(overridden);
    mask_readers_ = std::move(mask_readers);
  }
  strata::Logs train_step(const std::vector<strata::Tensor>& x, const std::vector<strata::Tensor>& y,
                          const strata::Tensor& sample_weight) override {
    warn_standard_step("train_step");
    return Model::train_step(x, y, sample_weight);
  }
  strata::Logs test_step(const std::vector<strata::Tensor>& x, const std::vector<strata::Tensor>& y,
                         const strata::Tensor& sample_weight) override {
    warn_standard_step("test_step");
    return Model::test_step(x, y, sample_weight);
  }
  std::vector<strata::Tensor> call(const std::vector<strata::Tensor>& inputs, const strata::CallContext& ctx) const override {
    if (!mask_readers_.empty() &&
        std::any_of(ctx.masks.begin(), ctx.masks.end(), [](const strata::Tensor& m) { return m.defined(); })) {
      std::string names;
      for (const auto& r : mask_readers_) names += (names.empty() ? "'" : ", '") + r + "'";
      STRATA_THROW(ValueError, "model '", name(), "' (class '", class_name(), "') was revived from its traced call",
                   ", which takes no mask, but a mask was passed and its layers ", names,
                   " read it. Load the classes (plugins or custom_objects) with the SavedModel to call it with a mask");
    }
    // Loss terms are computed only where someone collects them (fit, evaluate).
    const auto& with_losses = ctx.training ? training_losses_ : inference_losses_;
    if (with_losses && strata::LossCollector::active()) {
      std::vector<strata::Tensor> out = with_losses->run(inputs);
      const std::size_t n = inference_.outputs().size();
      for (std::size_t i = n; i < out.size(); ++i) add_loss(out[i]);
      out.resize(n);
      return out;
    }
    if (ctx.training) return (training_ ? *training_ : inference_).run(inputs);
    const bool on_cpu = !inputs.empty() && inputs.front().device().type() == "cpu";
    return (on_cpu ? optimized_ : inference_).run(inputs);
  }
  // Like a subclassed model: saved again, it is revived from its traces again.
  Config get_config() const override {
    STRATA_THROW(ValueError, "model '", name(), "' was revived from traced functions and has no config");
  }

 private:
  void warn_standard_step(const char* member) {
    if (std::find(overridden_.begin(), overridden_.end(), member) == overridden_.end()) return;
    std::call_once(*warned_, [&] {
      strata::log_warning("model '", name(), "' (class '", class_name(), "') was revived from its traced call",
                          ": its class overrides ", member, ", which a SavedModel cannot hold, so the standard ",
                          member, " runs. Load the plugin that provides '", class_name(),
                          "' (or pass it in custom_objects) to get the class's own.");
    });
  }

  strata::Graph inference_, optimized_;
  std::optional<strata::Graph> training_, inference_losses_, training_losses_;
  std::vector<std::string> overridden_, mask_readers_;
  std::unique_ptr<std::once_flag> warned_ = std::make_unique<std::once_flag>();
};

class SavedModelFormat final : public strata::Format {
 public:
  std::string name() const override { return "savedmodel"; }
  // Keras: a model saved to a path without an extension is a SavedModel directory.
  std::vector<std::string> model_extensions() const override { return {""}; }
  std::vector<std::string> weights_extensions() const override { return {}; }
  unsigned capabilities() const override { return strata::kLoadModel | strata::kSaveModel; }

  // Atomic (DESIGN.md §6): the new SavedModel is built in a sibling directory, then
  // swapped in with one renameat2(RENAME_EXCHANGE), so the path always names a complete
  // SavedModel, old or new, even if the process dies at any point.
  void save_model(const strata::Model& model, const fs::path& dir, const strata::SaveOptions& options) const override {
    std::error_code ec;
    STRATA_CHECK(options.overwrite || !fs::exists(dir, ec), IOError, "'", dir.string(), "' already exists");
    const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
    // Like tf.saved_model.save, missing parent directories are created.
    if (!fs::is_directory(parent, ec)) strata::file_system().create_directories(parent);
    STRATA_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), IOError, "cannot save a SavedModel to '",
                 dir.string(), "': it exists and is not a directory");
    remove_abandoned_temporaries(parent, dir.filename().string());
    const std::string stem = "." + dir.filename().string() + ".strata-tmp-" + std::to_string(::getpid()) + "-";
    static std::atomic<unsigned> counter{0};
    const fs::path tmp = parent / (stem + std::to_string(counter++));
    // Every change on disk goes through the file-system seam (DESIGN.md §6), the clean-ups too.
    strata::FileSystem& files = strata::file_system();
    if (fs::exists(tmp, ec)) files.remove_all(tmp);
    try {
      files.create_directories(tmp / "variables");
      files.create_directories(tmp / "assets");
      write_contents(model, tmp, options);
      files.sync_directory(tmp / "variables");
      files.sync_directory(tmp);
      if (fs::exists(dir, ec)) {
        files.exchange(tmp, dir);  // the commit point; tmp now holds the old SavedModel
        files.sync_directory(parent);
        try {
          files.remove_all(tmp);
        } catch (const strata::Error& e) {
          strata::log_warning("the previous SavedModel, now at '", tmp.string(), "', could not be removed: ", e.message());
        }
        return;
      }
      files.rename(tmp, dir);  // the commit point
    } catch (...) {
      try {
        if (fs::exists(tmp, ec)) files.remove_all(tmp);
      } catch (const strata::Error& e) {
        strata::log_warning("the unfinished SavedModel '", tmp.string(), "' could not be removed: ", e.message());
      }
      throw;
    }
    files.sync_directory(parent);
  }

  // Temporaries of saves to `name` whose process no longer exists (killed mid-save).
  static void remove_abandoned_temporaries(const fs::path& parent, const std::string& name) {
    const std::string stem = "." + name + ".strata-tmp-";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind(stem, 0) != 0) continue;
      const std::string rest = file.substr(stem.size());  // "<pid>-<n>"
      const auto dash = rest.find('-');
      if (dash == std::string::npos || dash == 0) continue;
      pid_t pid = 0;
      try {
        pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
      } catch (const std::exception&) {
        continue;
      }
      if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
        try {
          strata::file_system().remove_all(entry.path());
        } catch (const strata::Error& e) {
          strata::log_warning("the abandoned temporary '", entry.path().string(), "' could not be removed: ", e.message());
        }
      }
    }
  }

  static void write_contents(const strata::Model& model, const fs::path& tmp, const strata::SaveOptions& options) {
    const fs::path prefix = tmp / "variables" / "variables";
    // variables/ holds the checkpoint Checkpoint(root=model).write writes (as tf.saved_model.save:
    // no `checkpoint` state file there). The SavedObjectGraph mirrors its object graph node for
    // node (same ids), taken from the write itself, not read back from the files.
    const std::shared_ptr<const strata::Model> root_model(std::shared_ptr<const strata::Model>(), &model);
    const strata::WrittenCheckpoint written = strata::Checkpoint::with_root(root_model).write_with_graph(prefix);
    const strata::CheckpointObjectGraph* graph = &written.object_graph;

    strata::tf::SavedModel sm;
    sm.set_saved_model_schema_version(1);
    auto* mg = sm.add_meta_graphs();
    auto* info = mg->mutable_meta_info_def();
    info->add_tags("serve");
    info->set_tensorflow_version("2.17.1");
    info->set_tensorflow_git_version("strata");
    info->set_stripped_default_attrs(true);
    mg->mutable_graph_def()->mutable_versions()->set_producer(1);
    auto* saver = mg->mutable_saver_def();
    saver->set_filename_tensor_name("saver_filename:0");
    saver->set_version(strata::tf::SaverDef::V2);

    auto& sig = (*mg->mutable_signature_def())["serving_default"];
    sig.set_method_name("tensorflow/serving/predict");
    const auto add_info = [](strata::tf::TensorInfo& ti, const std::string& name, const strata::Shape& shape) {
      ti.set_name(name);
      ti.set_dtype(strata::tf::DT_FLOAT);
      if (!shape.has_known_rank()) {
        ti.mutable_tensor_shape()->set_unknown_rank(true);
        return;
      }
      for (const std::int64_t d : shape.dims()) ti.mutable_tensor_shape()->add_dim()->set_size(d < 0 ? -1 : d);
    };
    // Inputs: the model's (or, subclassed, the shapes it was built with), batch dimension
    // unknown; outputs: the model's, or what its call makes of those shapes.
    const auto in_specs = input_specs(model);
    for (std::size_t i = 0; i < in_specs.size(); ++i) {
      const std::string key = "input_" + std::to_string(i + 1);
      add_info((*sig.mutable_inputs())[key], "serving_default_" + key + ":0", in_specs[i].shape);
    }
    std::vector<strata::Shape> out_shapes;
    for (const auto& o : model.outputs()) out_shapes.push_back(o.shape());
    if (out_shapes.empty() && !in_specs.empty()) {
      std::vector<strata::Shape> shapes;
      for (const auto& spec : in_specs) shapes.push_back(spec.shape);
      try {
        out_shapes = model.compute_output_shape(shapes);
      } catch (const strata::Error&) {
        out_shapes.clear();  // the signature then lists no outputs
      }
    }
    for (std::size_t i = 0; i < out_shapes.size(); ++i) {
      const std::string key = "output_" + std::to_string(i + 1);
      add_info((*sig.mutable_outputs())[key], "StatefulPartitionedCall:" + std::to_string(i), out_shapes[i]);
    }

    std::map<std::string, bool> trainable;
    for (const auto& w : model.weights()) trainable[w.name()] = w.trainable();
    auto* og = mg->mutable_object_graph_def();
    for (std::size_t id = 0; id < graph->nodes.size(); ++id) {
      const auto& node = graph->nodes[id];
      auto* so = og->add_nodes();
      for (const auto& c : node.children) {
        // The checkpoint's root names itself "root" (tf-keras's load_weights looks for it);
        // in the object graph that edge would make the model its own attribute.
        if (id == 0 && c.node_id == 0) continue;
        auto* ref = so->add_children();
        ref->set_node_id(c.node_id);
        ref->set_local_name(c.local_name);
      }
      for (const auto& sv : node.slot_variables) {
        auto* ref = so->add_slot_variables();
        ref->set_original_variable_node_id(sv.original_variable_node_id);
        ref->set_slot_name(sv.slot_name);
        ref->set_slot_variable_node_id(sv.slot_variable_node_id);
      }
      if (is_variable_node(node)) {
        auto* v = so->mutable_variable();
        const std::string& key = node.attributes[0].checkpoint_key;
        const auto& value = written.values.at(key);
        v->set_dtype(static_cast<strata::tf::DataType>(strata::dtype_to_tf(value.dtype)));
        const strata::Shape& vshape = value.shape;
        for (const std::int64_t d : vshape.dims()) v->mutable_shape()->add_dim()->set_size(d);
        v->set_name(node.attributes[0].full_name);
        const auto t = trainable.find(node.attributes[0].full_name);
        v->set_trainable(t != trainable.end() && t->second);  // optimizer state is not trainable
      } else {
        auto* uo = so->mutable_user_object();
        uo->set_identifier(id == 0 ? "_tf_keras_network" : "_generic_user_object");
        uo->mutable_version()->set_producer(1);
        uo->mutable_version()->set_min_consumer(1);
      }
    }

    // keras_metadata.pb: the root's metadata (what load_model needs to revive the model).
    Config root = Config::object();
    // A subclassed model has no config (get_config throws, as in Keras): its metadata then
    // holds the class name and build input shape only, and loading needs either the class
    // (plugin, custom_objects) or the traced functions.
    std::optional<Config> config;
    std::string class_name = model.class_name();
    try {
      config = model.get_config();
      class_name = strata::parse_python_json(strata::model_to_json(model), "model JSON")["class_name"];
    } catch (const strata::ValueError&) {
      config.reset();
    }
    root["class_name"] = class_name;
    root["name"] = model.name();
    root["trainable"] = model.trainable();
    root["dtype"] = std::string(strata::dtype_name(model.dtype()));
    if (config) root["config"] = *config;
    root["is_graph_network"] = config.has_value() && !model.inputs().empty();
    if (model.built() && !model.build_input_shapes().empty()) {
      Config shapes = Config::array();
      for (const auto& shape : model.build_input_shapes()) {
        Config dims = Config::array();
        for (const std::int64_t d : shape.dims()) dims.push_back(d < 0 ? Config() : Config(d));
        shapes.push_back(dims);
      }
      root["build_input_shape"] = shapes.size() == 1 ? Config(shapes[0]) : shapes;
    }
    root["keras_version"] = strata::kKerasVersion;
    root["backend"] = strata::kKerasBackend;
    if (config) {
      Config mc = Config::object();
      mc["class_name"] = class_name;
      mc["config"] = *config;
      root["model_config"] = mc;
    }
    if (options.include_optimizer && model.is_compiled()) root["training_config"] = model.training_config();
    strata::keras::SavedMetadata md;
    auto* n = md.add_nodes();
    n->set_node_id(0);
    n->set_node_path("root");
    n->set_identifier(class_name == "Sequential" ? "_tf_keras_sequential"
                      : config                   ? "_tf_keras_network"
                                                 : "_tf_keras_model");
    if (options.save_traces) {
      const Config lack = add_traces(model, *graph, *mg);
      if (!lack.is_null()) root["strata_traces_lack"] = lack;
    }
    if (options.save_traces) add_session_graph(*mg, written);
    n->set_metadata(strata::to_python_json(root));
    n->mutable_version()->set_producer(2);
    n->mutable_version()->set_min_consumer(1);
    og->mutable_nodes(0)->mutable_user_object()->set_identifier(n->identifier());
    strata::savedmodel::add_layer_metadata(model, *graph, *og, md);

    std::string bytes;
    STRATA_CHECK(md.SerializeToString(&bytes), IOError, "cannot serialize keras_metadata.pb");
    strata::write_file_atomically(tmp / "keras_metadata.pb", bytes);
    bytes.clear();
    STRATA_CHECK(sm.SerializeToString(&bytes), IOError, "cannot serialize saved_model.pb");
    strata::write_file_atomically(tmp / "saved_model.pb", bytes);
  }

  bool sniff(const fs::path& path) const override {
    std::error_code ec;
    return fs::is_directory(path, ec) &&
           (fs::exists(path / "saved_model.pb", ec) || fs::exists(path / "keras_metadata.pb", ec));
  }

  // With the classes available (built-in, plugin, custom_objects) the model is built from
  // its config (or, for a subclassed model, from its class and build input shape) and its
  // variables restored; otherwise, or when options.revive_from_traces asks for it, it is
  // revived from its traced functions.
  std::shared_ptr<strata::Model> load_model(const fs::path& dir, const strata::LoadOptions& options) const override {
    const strata::tf::SavedModel sm = read_saved_model(dir);
    const Metadata md = read_metadata(dir, sm);
    const fs::path prefix = dir / "variables" / "variables";
    std::error_code ec;
    STRATA_CHECK(fs::exists(prefix.string() + ".index", ec), FormatError, "'", dir.string(),
                 "' has no variables/variables.index: the SavedModel's weights are missing");
    const std::string root_class = md.root.value("class_name", std::string());
    const bool container_without_config = !md.root.contains("model_config") &&
                                          (root_class == "Functional" || root_class == "Sequential" || root_class == "Model");
    // A Sequential/Functional without a config was itself revived from traces: no class can
    // rebuild it.
    if (options.revive_from_traces || container_without_config) return revive_from_traces(dir, sm, md, options, "");
    try {
      return revive_from_classes(dir, md, options);
    } catch (const strata::UnknownObjectError& e) {
      if (!has_traces(sm)) {
        auto missing = e.missing();
        for (auto& m : missing) {
          m.context += strata::detail::concat(m.context.empty() ? "" : "; ", "'", dir.string(),
                                              "' was saved without traced functions (save_traces=false), so loading it "
                                              "needs its classes");
        }
        throw strata::UnknownObjectError(std::move(missing));
      }
      strata::log_info("'", dir.string(), "': ", e.message(), "; reviving the model from its traced functions");
      return revive_from_traces(dir, sm, md, options, e.message());
    }
  }

  static bool has_traces(const strata::tf::SavedModel& sm) {
    return !sm.meta_graphs(0).object_graph_def().concrete_functions().empty() &&
           sm.meta_graphs(0).graph_def().library().function_size() > 0;
  }

  static void compile_from_metadata(strata::Model& model, const Metadata& md, const strata::LoadOptions& options) {
    const bool compile = options.compile && md.root.contains("training_config") &&
                         md.root["training_config"].is_object() &&
                         md.root["training_config"].contains("optimizer_config") &&
                         !md.root["training_config"]["optimizer_config"].is_null();
    if (!compile) return;
    auto frame = strata::ErrorContext::push("compiling the model from the training_config of ", md.source);
    const Config& tc = md.root["training_config"];
    Config metrics = tc.value("metrics", Config());
    if (model.outputs().size() <= 1 && metrics.is_array() && metrics.size() == 1 && metrics[0].is_array()) {
      metrics = Config(metrics[0]);
    }
    model.compile(tc["optimizer_config"], tc.value("loss", Config()), metrics, tc.value("loss_weights", Config()));
  }

  static std::shared_ptr<strata::Model> revive_from_classes(const fs::path& dir, const Metadata& md,
                                                           const strata::LoadOptions& options) {
    std::shared_ptr<strata::Model> model;
    const bool subclassed = !(md.root.contains("model_config") && md.root["model_config"].is_object());
    if (!subclassed) {
      const Config& mc = md.root["model_config"];
      STRATA_CHECK(mc.contains("class_name") && mc.contains("config"), FormatError, md.source,
                   ": the root's model_config must have 'class_name' and 'config'");
      model = strata::model_from_config(mc, options.custom_objects);
    } else {
      // A subclassed model: its class (registered by a plugin or given in custom_objects)
      // rebuilds it; the build input shape builds its weights.
      STRATA_CHECK(md.root.contains("class_name") && md.root["class_name"].is_string(), FormatError, md.source,
                   ": the root object has neither a model_config nor a class_name");
      Config mc = Config::object();
      mc["class_name"] = md.root["class_name"];
      mc["config"] = md.root.contains("config") && md.root["config"].is_object() ? md.root["config"] : Config::object();
      if (!mc["config"].contains("name") && md.root.contains("name")) mc["config"]["name"] = md.root["name"];
      model = strata::model_from_config(mc, options.custom_objects);
      STRATA_CHECK(md.root.contains("build_input_shape"), FormatError, md.source, ": subclassed model '",
                   md.root["class_name"].get<std::string>(), "' has no build_input_shape, so its weights cannot be built");
      build_from_shape(*model, md.root, md.source);
    }
    compile_from_metadata(*model, md, options);
    strata::LoadOptions lo;
    lo.format = "checkpoint";
    auto frame = strata::ErrorContext::push("restoring the variables of '", dir.string(), "'");
    strata::LoadStatus status = strata::load_weights(*model, dir / "variables" / "variables", lo);
    if (subclassed) status.assert_existing_objects_matched();  // the class must be the one saved
    status.expect_partial();
    return model;
  }

  // Calls a subclassed model once on zeros of its build input shape (unknown dimensions: 1).
  // The shape comes from the file, so the zeros are bounded before they are allocated.
  static void build_from_shape(strata::Model& model, const Config& root, const std::string& source) {
    constexpr std::int64_t kMaxBuildElements = std::int64_t{1} << 26;  // 256 MiB of float32
    const strata::ConfigReader r(root, source);
    const std::string what = r.describe("build_input_shape");
    std::vector<strata::Tensor> zeros;
    std::int64_t total = 0;
    for (const auto& shape : r.shapes("build_input_shape")) {
      std::vector<std::int64_t> dims = shape.dims();
      for (auto& d : dims) d = d == strata::Shape::kUnknown ? 1 : d;
      total = strata::checked_add(total, strata::checked_element_count(dims, what), what);
      STRATA_CHECK(total <= kMaxBuildElements, FormatError, what, " asks for ", total,
                   " elements of zeros to build the model; at most ", kMaxBuildElements, " are allowed");
      zeros.push_back(strata::zeros(strata::Shape(std::move(dims))));
    }
    (void)model(zeros);
  }

  // Keras's revived model: the saved traced functions run with the restored variables.
  static std::shared_ptr<strata::Model> revive_from_traces(const fs::path& dir, const strata::tf::SavedModel& sm,
                                                          const Metadata& md, const strata::LoadOptions& options,
                                                          const std::string& why) {
    const auto& mg = sm.meta_graphs(0);
    const auto& og = mg.object_graph_def();
    const std::string what = "'" + (dir / "saved_model.pb").string() + "'";
    const std::string class_name = md.root.value("class_name", std::string("Model"));
    STRATA_CHECK(has_traces(sm), FormatError, "'", dir.string(), "' has no traced functions (it was saved with ",
                 "save_traces=false), so it cannot be loaded without its classes");
    // The root's __call__ function object lists the concrete functions;
    // call_and_return_conditional_losses, when present, the same calls returning their
    // loss terms after the outputs.
    const strata::tf::SavedFunction* call = nullptr;
    const strata::tf::SavedFunction* call_with_losses = nullptr;
    STRATA_CHECK(og.nodes_size() > 0, FormatError, what, ": the object graph is empty");
    for (const auto& child : og.nodes(0).children()) {
      STRATA_CHECK(child.node_id() >= 0 && child.node_id() < og.nodes_size(), FormatError, what, ": child '",
                   child.local_name(), "' of the root refers to node ", child.node_id(), " of ", og.nodes_size());
      if (!og.nodes(child.node_id()).has_function()) continue;
      if (child.local_name() == "__call__") call = &og.nodes(child.node_id()).function();
      if (child.local_name() == "call_and_return_conditional_losses") {
        call_with_losses = &og.nodes(child.node_id()).function();
      }
    }
    STRATA_CHECK(call != nullptr, FormatError, what, ": the root object has no traced __call__ function",
                 why.empty() ? "" : " (and ", why, why.empty() ? "" : ")");
    // The inference and training concrete functions of a function object.
    const auto by_mode = [&](const strata::tf::SavedFunction& fn, const char* fn_name) {
      std::pair<std::string, std::string> names;  // inference, training
      for (const auto& name : fn.concrete_functions()) {
        const auto it = og.concrete_functions().find(name);
        STRATA_CHECK(it != og.concrete_functions().end(), FormatError, what, ": ", fn_name, " names concrete function '",
                     name, "', which the object graph does not describe");
        (training_flag(it->second) ? names.second : names.first) = name;
      }
      return names;
    };
    const auto [inference, training] = by_mode(*call, "__call__");
    STRATA_CHECK(!inference.empty(), FormatError, what, ": __call__ has no inference-mode (training=False) function");

    // The variables every function is bound to, restored from variables/ through the
    // checkpoint's object graph (same node ids as the SavedObjectGraph).
    const fs::path prefix = dir / "variables" / "variables";
    const auto reader = strata::load_checkpoint(prefix);
    const auto ckpt = reader->object_graph();
    STRATA_CHECK(ckpt.has_value(), FormatError, "'", prefix.string(), "' has no object graph");
    auto model = std::make_shared<RevivedModel>(class_name, md.root.value("name", std::string("model")));
    std::map<int, strata::Variable> variables;
    const auto bind = [&](const std::string& fname) {
      strata::savedmodel::ImportedArguments args;
      for (const int id : og.concrete_functions().at(fname).bound_inputs()) {
        STRATA_CHECK(id >= 0 && id < og.nodes_size() && og.nodes(id).has_variable(), FormatError, what,
                     ": concrete function '", fname, "' is bound to node ", id, ", which is not a variable");
        if (!variables.count(id)) {
          STRATA_CHECK(static_cast<std::size_t>(id) < ckpt->nodes.size() && is_variable_node(ckpt->nodes[static_cast<std::size_t>(id)]),
                       FormatError, "'", prefix.string(), "': object ", id, " (variable '", og.nodes(id).variable().name(),
                       "' in saved_model.pb) has no value in the checkpoint");
          const std::string& key = ckpt->nodes[static_cast<std::size_t>(id)].attributes[0].checkpoint_key;
          const strata::Tensor value = reader->get_tensor(key);
          const auto& sv = og.nodes(id).variable();
          if (sv.has_shape() && !sv.shape().unknown_rank()) {
            std::vector<std::int64_t> dims;
            for (const auto& d : sv.shape().dim()) dims.push_back(d.size());
            STRATA_CHECK(strata::Shape(dims) == value.shape() || std::any_of(dims.begin(), dims.end(), [](auto d) { return d < 0; }),
                         FormatError, what, ": variable '", sv.name(), "' has shape ", value.shape().to_string(),
                         " in the checkpoint but ", strata::Shape(dims).to_string(), " in saved_model.pb");
          }
          variables.emplace(id, model->add_variable(sv.name().empty() ? key : sv.name(), value, sv.trainable()));
        }
        args.captured.push_back(variables.at(id));
      }
      return strata::savedmodel::import_function(mg.graph_def().library(), fname, args, what);
    };
    strata::Graph inference_graph = bind(inference);
    std::optional<strata::Graph> training_graph;
    if (!training.empty()) training_graph = bind(training);
    model->set_graphs(std::move(inference_graph), std::move(training_graph));
    if (call_with_losses != nullptr) {
      const auto [inference_losses, training_losses] = by_mode(*call_with_losses, "call_and_return_conditional_losses");
      std::optional<strata::Graph> a, b;
      if (!inference_losses.empty()) a = bind(inference_losses);
      if (!training_losses.empty()) b = bind(training_losses);
      model->set_loss_graphs(std::move(a), std::move(b));
    }
    compile_from_metadata(*model, md, options);
    // What the traces cannot hold (Keras's guide: an overridden train_step, ops run on a
    // mask argument). Strata's SavedModels say what the saving model had; for others, a
    // subclassed model's own members are unknown and may be gone.
    if (md.root.contains("strata_traces_lack") && md.root["strata_traces_lack"].is_object()) {
      const Config& lack = md.root["strata_traces_lack"];
      const auto strings = [&](const char* key) {
        std::vector<std::string> out;
        if (!lack.contains(key) || !lack[key].is_array()) return out;
        for (const auto& v : lack[key]) {
          if (v.is_string()) out.push_back(v.get<std::string>());
        }
        return out;
      };
      model->set_lacking(strings("overridden"), strings("mask_readers"));
    } else if (class_name != "Functional" && class_name != "Sequential" && class_name != "Model") {
      strata::log_warning("model '", model->name(), "' of class '", class_name,
                          "' was revived from its traced call: members its class overrides besides call (a custom "
                          "train_step or test_step) are not in a SavedModel. Load the plugin that provides '",
                          class_name, "' (or pass it in custom_objects) to get them.");
    }
    return model;
  }

  std::string describe(const fs::path& dir) const override {
    const strata::tf::SavedModel sm = read_saved_model(dir);
    std::string out = "format: savedmodel\n";
    const auto line = [&out](std::string_view key, const std::string& value) {
      out.append(key).append(": ").append(value).append("\n");
    };
    const auto& mg = sm.meta_graphs(0);
    line("schema_version", std::to_string(sm.saved_model_schema_version()));
    line("tensorflow_version", mg.meta_info_def().tensorflow_version());
    line("objects", std::to_string(mg.object_graph_def().nodes_size()));
    const auto info = [](const std::string& key, const strata::tf::TensorInfo& ti) {
      std::string text = key + " " + std::string(strata::dtype_name(strata::dtype_from_tf(static_cast<int>(ti.dtype()))));
      if (ti.tensor_shape().unknown_rank()) return text + "(?)";
      text += "(";
      for (int d = 0; d < ti.tensor_shape().dim_size(); ++d) {
        const auto size = ti.tensor_shape().dim(d).size();
        text += (d ? ", " : "") + (size < 0 ? std::string("None") : std::to_string(size));
      }
      return text + ")";
    };
    for (const auto& [key, sig] : mg.signature_def()) {
      if (key.rfind("__", 0) == 0) continue;
      std::string text = std::to_string(sig.inputs_size()) + " input(s), " + std::to_string(sig.outputs_size()) + " output(s):";
      for (const auto& [k, ti] : sig.inputs()) text += " in " + info(k, ti) + ";";
      for (const auto& [k, ti] : sig.outputs()) text += " out " + info(k, ti) + ";";
      text.pop_back();
      line("signature " + key, text);
    }
    const auto& og = mg.object_graph_def();
    std::string traced;
    for (int c = 0; og.nodes_size() > 0 && c < og.nodes(0).children_size(); ++c) {
      const auto& child = og.nodes(0).children(c);
      if (child.local_name() != "__call__" || child.node_id() < 0 || child.node_id() >= og.nodes_size()) continue;
      for (const auto& f : og.nodes(child.node_id()).function().concrete_functions()) traced += (traced.empty() ? "" : ", ") + f;
    }
    line("traced functions", traced.empty() ? std::string("none (saved with save_traces=false): loading needs the classes")
                                            : traced + " (" + std::to_string(mg.graph_def().library().function_size()) +
                                                  " in the function library)");
    std::size_t variables = 0;
    for (const auto& node : og.nodes()) variables += node.has_variable();
    line("variables", std::to_string(variables));
    for (const auto& node : og.nodes()) {
      if (!node.has_variable()) continue;
      std::string shape;
      for (int d = 0; d < node.variable().shape().dim_size(); ++d) {
        shape += (d ? ", " : "") + std::to_string(node.variable().shape().dim(d).size());
      }
      out += "  " + node.variable().name() + " " +
             std::string(strata::dtype_name(strata::dtype_from_tf(static_cast<int>(node.variable().dtype())))) + "(" +
             shape + ")" + (node.variable().trainable() ? "" : " non-trainable") + "\n";
    }
    try {
      const Metadata md = read_metadata(dir, sm);
      if (md.root.contains("model_config")) {
        line("class", md.root["model_config"].value("class_name", std::string("?")));
      } else if (md.root.contains("class_name") && md.root["class_name"].is_string()) {
        line("class", md.root["class_name"].get<std::string>() + " (subclassed: no config)");
      }
      if (md.root.contains("keras_version") && md.root["keras_version"].is_string()) {
        line("keras_version", md.root["keras_version"].get<std::string>());
      }
    } catch (const strata::Error& e) {
      line("keras metadata", std::string("unreadable: ") + e.what());
    }
    return out;
  }
};

}  // namespace

std::shared_ptr<strata::Format> strata::savedmodel::make_format() { return std::make_shared<SavedModelFormat>(); }
