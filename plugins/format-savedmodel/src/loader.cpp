// Loading a SavedModel: from its classes (config, or a subclassed model's class and build
// input shape) with variables/ restored through the checkpoint, or revived from its traced
// functions (RevivedModel) when a class is missing or asked for.
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
#include "revived_layers.hpp"
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
#include "strata/plugin/layers.hpp"
#include "strata/registry.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"
#include "strata/stateful.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

namespace {

std::shared_ptr<strata::Model> revive_from_classes(const fs::path& dir, const strata::tf::SavedModel& sm, const Metadata& md,
                                                   const strata::LoadOptions& options, bool restore = true);
std::shared_ptr<strata::Model> revive_from_traces(const fs::path& dir, const strata::tf::SavedModel& sm, const Metadata& md,
                                                  const strata::LoadOptions& options, const std::string& why);
void build_from_shape(strata::Model& model, const Config& root, const std::string& source);
void compile_from_metadata(strata::Model& model, const Metadata& md, const strata::LoadOptions& options);

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

// Output `index` of a revived model's traced call, as a layer named after the output (the
// serving signature's key): what a revived model's outputs() are made of.
class SignatureOutput final : public strata::Layer {
 public:
  SignatureOutput(const std::string& name, strata::Graph graph, std::size_t index)
      : Layer("SignatureOutput", Config{{"name", name}}), graph_(std::move(graph)), index_(index) {}
  std::vector<strata::Tensor> call(const std::vector<strata::Tensor>& inputs, const strata::CallContext&) const override {
    return {graph_.run(inputs).at(index_)};
  }

 private:
  strata::Graph graph_;
  std::size_t index_;
};

// A model revived from its traced functions (its class is not needed): call() runs the
// saved graph of the mode asked for (training falls back to the inference graph when no
// training trace was saved) on the restored variables, so it predicts, and trains through
// the ops' gradients, like the original.
//
// The states of stateful layers (variables under a layer's keras_api/states) are bound like
// the weights, because the traced call reads and assigns them, but they are non-trainable
// and the model's state variables: reset_states() sets them to zeros.
class RevivedModel final : public RestoredModel, public strata::StateVariablesLayer, public RevivedFromTraces {
 public:
  RevivedModel(const std::string& class_name, const std::string& name)
      : RestoredModel(class_name, Config{{"name", name}}) {}

  void add_state(const strata::Variable& v) { states_.push_back(v); }
  // The revived layers (issue 19): model.layers, and the root's children under the file's
  // local names, so that checkpoints (the optimizer's slots too) match the saved object graph.
  void set_layers(std::vector<strata::Layer::TrackedChild> children, std::vector<std::shared_ptr<strata::Layer>> layers) {
    children_ = std::move(children);
    layers_ = std::move(layers);
  }
  std::vector<std::shared_ptr<strata::Layer>> layers() const override { return layers_; }
  std::vector<strata::Layer::TrackedChild> children() const override { return children_; }
  // The traced call's inputs and outputs as symbolic tensors named as the serving
  // signature names them (placeholders: nothing connects them; the call runs the trace).
  // Names: one per input/output, else "input_<i>" / "output_<i>".
  void set_specs_from_graph(const std::vector<std::string>& in_names, const std::vector<std::string>& out_names) {
    const auto make = [](const std::vector<strata::Tensor>& tensors, const std::vector<std::string>& names,
                         const char* fallback) {
      std::vector<strata::Tensor> out;
      std::set<std::string> seen;
      const bool named = names.size() == tensors.size() &&
                         std::all_of(names.begin(), names.end(), [&](const std::string& n) { return !n.empty() && seen.insert(n).second; });
      for (std::size_t i = 0; i < tensors.size(); ++i) {
        const strata::Shape& s = tensors[i].shape();
        if (!s.has_known_rank() || s.rank() == 0) return std::vector<strata::Tensor>{};
        std::vector<std::int64_t> dims(s.dims().begin() + 1, s.dims().end());
        const std::int64_t batch = s.dims()[0];
        out.push_back(strata::Input(strata::Shape(dims), named ? names[i] : strata::detail::concat(fallback, i + 1),
                                    tensors[i].dtype(), batch < 0 ? std::nullopt : std::optional<std::int64_t>(batch)));
      }
      return out;
    };
    inputs_ = make(inference_.inputs(), in_names, "input_");
    outputs_.clear();
    const auto& outs = inference_.outputs();
    if (inputs_.size() != inference_.inputs().size()) return;
    std::set<std::string> seen;
    const bool named = out_names.size() == outs.size() &&
                       std::all_of(out_names.begin(), out_names.end(), [&](const std::string& n) { return !n.empty() && seen.insert(n).second; });
    for (std::size_t i = 0; i < outs.size(); ++i) {
      // Connected to the inputs (summaries walk the graph between them) by a layer named as
      // the output, which stands for the traced call's output i.
      auto marker = std::make_shared<SignatureOutput>(named ? out_names[i] : strata::detail::concat("output_", i + 1),
                                                      inference_, i);
      outputs_.push_back((*marker)(inputs_).at(0));
    }
  }
  std::vector<strata::Tensor> inputs() const override { return inputs_; }
  std::vector<strata::Tensor> outputs() const override { return outputs_; }
  std::vector<strata::Variable> state_variables() const override { return states_; }
  // Keeps the symbolic calls of the revived layers alive (a layer holds its inbound nodes
  // weakly): they give the summary each layer's output shape, as tf-keras's revived
  // Functional model, rebuilt from its config, has.
  void keep_layer_calls(std::vector<strata::Tensor> tensors) { layer_calls_ = std::move(tensors); }
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
  // The calls that also return their loss terms (add_loss, and the weights' regularization
  // penalties: Strata traces them in both modes), after the outputs.
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
  const std::vector<std::string>& original_overridden() const override { return overridden_; }
  const std::vector<std::string>& original_mask_readers() const override { return mask_readers_; }
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
  std::vector<strata::Variable> states_;
  std::vector<strata::Tensor> layer_calls_;
  std::vector<strata::Layer::TrackedChild> children_;
  std::vector<std::shared_ptr<strata::Layer>> layers_;
  std::vector<strata::Tensor> inputs_, outputs_;
  std::unique_ptr<std::once_flag> warned_ = std::make_unique<std::once_flag>();
};

bool has_traces(const strata::tf::SavedModel& sm) {
  return !sm.meta_graphs(0).object_graph_def().concrete_functions().empty() &&
         sm.meta_graphs(0).graph_def().library().function_size() > 0;
}

void compile_from_metadata(strata::Model& model, const Metadata& md, const strata::LoadOptions& options) {
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

// The bytes of the SavedModel's variable files (variables/*): what its weights can take.
std::uint64_t variables_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir / "variables", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    const std::uintmax_t size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (!size_ec) total += size;
  }
  return total;
}

std::shared_ptr<strata::Model> revive_from_classes(const fs::path& dir, const strata::tf::SavedModel& sm, const Metadata& md,
                                                         const strata::LoadOptions& options, bool restore) {
  std::shared_ptr<strata::Model> model;
  const bool subclassed = !(md.root.contains("model_config") && md.root["model_config"].is_object());
  // As format-h5's: the variables hold every weight of the model (float16 at the smallest,
  // made as at most float64: 4x), so a config that asks for more is refused before anything
  // is allocated (a FormatError naming the file); the machine's memory bounds it too.
  const std::uint64_t budget_bytes = 4 * variables_bytes(dir) + (std::uint64_t{16} << 20);
  std::optional<strata::WeightBudget> budget;
  budget.emplace(budget_bytes, strata::detail::concat("the Keras metadata of '", dir.string(), "'"));
  if (!subclassed) {
    const Config& mc = md.root["model_config"];
    STRATA_CHECK(mc.contains("class_name") && mc.contains("config"), FormatError, md.source,
                 ": the root's model_config must have 'class_name' and 'config'");
    model = strata::model_from_config(mc, options.custom_objects);
    // A subclassed model with a config (the guide's CustomModel), or a Sequential without
    // an input shape: the config makes no weights; the build input shape does, as in
    // tf-keras's loader. (Before issue 19 such a model loaded with no weights at all.)
    if (!model->built() && md.root.contains("build_input_shape") && !md.root["build_input_shape"].is_null()) {
      build_from_shape(*model, md.root, md.source);
    }
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
  budget.reset();
  strata::savedmodel::load_lookup_vocabularies(dir, sm, *model);
  compile_from_metadata(*model, md, options);
  if (!restore) return model;  // load_architecture: variables/ is not read
  auto frame = strata::ErrorContext::push("restoring the variables of '", dir.string(), "'");
  // As a SavedModel: the stateful layers' states (keras_api/states/<i>) are restored too,
  // so predict continues from them as tf-keras's load_model does.
  const std::shared_ptr<const strata::Model> root(std::shared_ptr<const strata::Model>(), model.get());
  strata::LoadStatus status =
      strata::Checkpoint::with_root(root, strata::CheckpointSaveType::kSavedModel).restore(dir / "variables" / "variables");
  // Every weight of the model must come from the file (issue 19; tf-keras only warns). The
  // object graph may hold more than the model (tf-keras writes extra objects): only the
  // model's own weights are checked.
  status.assert_model_weights_restored(*model, options.allow_partial_checkpoint);
  return model;
}

// Calls a subclassed model once on zeros of its build input shape (unknown dimensions: 1).
// The shape comes from the file, so the zeros are bounded before they are allocated.
void build_from_shape(strata::Model& model, const Config& root, const std::string& source) {
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

// The names of the TensorSpecs in a structured value, depth first.
void spec_names(const strata::tf::StructuredValue& v, std::vector<std::string>& out) {
  switch (v.kind_case()) {
    case strata::tf::StructuredValue::kTensorSpecValue: out.push_back(v.tensor_spec_value().name()); break;
    case strata::tf::StructuredValue::kListValue:
      for (const auto& x : v.list_value().values()) spec_names(x, out);
      break;
    case strata::tf::StructuredValue::kTupleValue:
      for (const auto& x : v.tuple_value().values()) spec_names(x, out);
      break;
    case strata::tf::StructuredValue::kDictValue: {
      std::map<std::string, const strata::tf::StructuredValue*> sorted;  // TensorFlow flattens dicts by key
      for (const auto& [k, x] : v.dict_value().fields()) sorted.emplace(k, &x);
      for (const auto& entry : sorted) spec_names(*entry.second, out);
      break;
    }
    default: break;
  }
}

// The revived model's inputs() and outputs(): the traced call's shapes and dtypes, named
// as the call's input signature and the serving signature name them (Keras: the input
// and output layers' names).
void set_revived_specs(RevivedModel& model, const strata::tf::MetaGraphDef& mg, const strata::tf::SavedConcreteFunction& call,
                       const Config& root) {
  std::vector<std::string> in_names;
  const auto& sig = call.canonicalized_input_signature();
  if (sig.has_tuple_value() && sig.tuple_value().values_size() >= 1) spec_names(sig.tuple_value().values(0), in_names);
  std::vector<std::string> out_names;
  const auto serving = mg.signature_def().find("serving_default");
  if (serving != mg.signature_def().end()) {
    std::set<std::string> keys;
    for (const auto& entry : serving->second.outputs()) keys.insert(entry.first);
    // A Functional model's output layers give the order; otherwise the keys' (sorted).
    const Config* outs = nullptr;
    if (root.contains("config") && root["config"].is_object() && root["config"].contains("output_layers")) {
      outs = &root["config"]["output_layers"];
    }
    if (outs != nullptr && outs->is_array()) {
      for (const auto& o : *outs) {
        if (o.is_array() && !o.empty() && o[0].is_string() && keys.count(o[0].get<std::string>())) {
          out_names.push_back(o[0].get<std::string>());
        }
      }
    }
    if (out_names.size() != keys.size()) out_names.assign(keys.begin(), keys.end());
    if (in_names.empty()) {
      for (const auto& entry : serving->second.inputs()) in_names.push_back(entry.first);
      std::sort(in_names.begin(), in_names.end());
    }
  }
  // A Functional/Sequential model's metadata names its input and output layers: those
  // names win (the serving keys of older Strata files were "input_<i>").
  const auto layer_names = [&](const char* key) {
    std::vector<std::string> names;
    const Config* cfg = root.contains("config") && root["config"].is_object() ? &root["config"] : nullptr;
    if (cfg == nullptr || !cfg->contains(key) || !(*cfg)[key].is_array()) return names;
    for (const auto& o : (*cfg)[key]) {
      if (!o.is_array() || o.empty() || !o[0].is_string()) return std::vector<std::string>{};
      names.push_back(o[0].get<std::string>());
    }
    return names;
  };
  if (auto names = layer_names("input_layers"); !names.empty()) in_names = std::move(names);
  if (auto names = layer_names("output_layers"); !names.empty()) out_names = std::move(names);
  model.set_specs_from_graph(in_names, out_names);
}

// Calls the revived layers of a Functional or Sequential model symbolically as its config
// connects them (Keras's "inbound_nodes"; a Sequential's layers one after the other), from
// placeholders of its input layers, so that each layer has the node tf-keras's revived
// model has when it rebuilds the graph from the config with the revived classes in place,
// and the summary shows its output shape (issue 19; "multiple" before). The model keeps
// calling its whole-model trace: these nodes only describe. Any step that does not work (a
// layer without a trace, an inbound node it cannot resolve, a config of another shape)
// leaves the layers as they were.
void wire_layer_calls(RevivedModel& model, const Config& root) {
  const std::string cls = root.value("class_name", std::string());
  if ((cls != "Functional" && cls != "Sequential" && cls != "Model") || !root.contains("config") ||
      !root["config"].is_object() || !root["config"].contains("layers") || !root["config"]["layers"].is_array()) {
    return;
  }
  const Config& layers = root["config"]["layers"];
  std::map<std::string, std::shared_ptr<strata::Layer>> by_name;
  for (const auto& l : model.layers()) by_name.emplace(l->name(), l);
  // A placeholder for input layer `layer` (a node of its own where the model lists it).
  const auto placeholder_for = [](const Config& config, const std::shared_ptr<strata::Layer>& layer) -> strata::Tensor {
    const Config* shape = config.contains("batch_input_shape") ? &config["batch_input_shape"]
                          : config.contains("batch_shape")     ? &config["batch_shape"]
                                                               : nullptr;
    if (shape == nullptr || !shape->is_array()) return {};
    std::vector<std::int64_t> dims;
    for (const auto& d : *shape) dims.push_back(d.is_number_integer() ? d.get<std::int64_t>() : strata::Shape::kUnknown);
    const strata::DType dtype = strata::dtype_from_name(config.value("dtype", std::string("float32")));
    if (layer == nullptr) return strata::placeholder(strata::TensorSpec(strata::Shape(dims), dtype, config.value("name", std::string())));
    auto node = std::make_shared<strata::GraphNode>();
    node->op = "Placeholder";
    node->name = layer->name();
    node->attrs.set("dtype", dtype);
    node->attrs.set("shape", strata::Shape(dims));
    node->outputs = {{dtype, strata::Shape(dims)}};
    node->output_has_mask = {false};
    node->layer = layer;
    layer->note_inbound_node(node);
    return strata::Tensor::symbolic(dtype, strata::Shape(dims), node, 0);
  };
  std::vector<strata::Tensor> kept;
  try {
    if (cls == "Sequential") {
      strata::Tensor h;
      for (const auto& entry : layers) {
        const Config config = entry.value("config", Config::object());
        const std::string name = config.value("name", std::string());
        if (entry.value("class_name", std::string()) == "InputLayer") {
          h = placeholder_for(config, nullptr);
          continue;
        }
        const auto it = by_name.find(name);
        if (it == by_name.end()) return;
        if (!h.defined()) {
          if (!config.contains("batch_input_shape")) return;
          h = placeholder_for(config, nullptr);
        }
        if (!h.defined()) return;
        h = (*it->second)(h);
        kept.push_back(h);
      }
    } else {
      // Each layer's outputs, by node: produced[name][node index][tensor index].
      std::map<std::string, std::vector<std::vector<strata::Tensor>>> produced;
      for (const auto& entry : layers) {
        const std::string name = entry.value("name", entry.value("config", Config::object()).value("name", std::string()));
        const auto it = by_name.find(name);
        if (it == by_name.end()) return;
        if (entry.value("class_name", std::string()) == "InputLayer") {
          const strata::Tensor t = placeholder_for(entry.value("config", Config::object()), it->second);
          if (!t.defined()) return;
          produced[name].push_back({t});
          kept.push_back(t);
          continue;
        }
        if (!entry.contains("inbound_nodes") || !entry["inbound_nodes"].is_array()) return;
        for (const auto& node : entry["inbound_nodes"]) {
          if (!node.is_array()) return;
          std::vector<strata::Tensor> inputs;
          for (const auto& ref : node) {
            if (!ref.is_array() || ref.size() < 3 || !ref[0].is_string()) return;
            const auto p = produced.find(ref[0].get<std::string>());
            const auto n = ref[1].get<std::size_t>(), t = ref[2].get<std::size_t>();
            if (p == produced.end() || n >= p->second.size() || t >= p->second[n].size()) return;
            inputs.push_back(p->second[n][t]);
          }
          auto outputs = (*it->second)(inputs);
          kept.insert(kept.end(), outputs.begin(), outputs.end());
          produced[name].push_back(std::move(outputs));
        }
      }
    }
  } catch (const std::exception& e) {  // strata errors, and a config value of the wrong type
    strata::log_info("model '", model.name(), "': its revived layers' calls were not connected as its config says (",
                     e.what(), "); the summary shows their output shapes as 'multiple'");
    return;
  }
  model.keep_layer_calls(std::move(kept));
}

// Keras's revived model: the saved traced functions run with the restored variables.
std::shared_ptr<strata::Model> revive_from_traces(const fs::path& dir, const strata::tf::SavedModel& sm,
                                                        const Metadata& md, const strata::LoadOptions& options,
                                                        const std::string& why) {
  const auto& mg = sm.meta_graphs(0);
  const auto& og = mg.object_graph_def();
  // (concat rather than "'" + path + "'": GCC 12's -Wrestrict misfires on that once inlined here)
  const std::string what = strata::detail::concat("'", (dir / "saved_model.pb").string(), "'");
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
  // Stateful layers' states: the variables listed under "<object>/keras_api/states".
  std::set<int> state_nodes;
  const auto child_named = [&](const strata::tf::SavedObject& node, const char* name) {
    for (const auto& c : node.children()) {
      if (c.local_name() == name && c.node_id() >= 0 && c.node_id() < og.nodes_size()) return c.node_id();
    }
    return -1;
  };
  for (const auto& node : og.nodes()) {
    const int api = child_named(node, "keras_api");
    const int states = api < 0 ? -1 : child_named(og.nodes(api), "states");
    if (states < 0) continue;
    for (const auto& c : og.nodes(states).children()) {
      if (c.node_id() >= 0 && c.node_id() < og.nodes_size() && og.nodes(c.node_id()).has_variable()) state_nodes.insert(c.node_id());
    }
  }
  std::map<int, strata::Variable> variables;
  std::set<std::string> used_names;
  // The checkpoint value of variable node `id`, checked against saved_model.pb.
  const auto value_of = [&](int id) {
    STRATA_CHECK(static_cast<std::size_t>(id) < ckpt->nodes.size() && is_variable_node(ckpt->nodes[static_cast<std::size_t>(id)]),
                 FormatError, "'", prefix.string(), "': object ", id, " (variable '", og.nodes(id).variable().name(),
                 "' in saved_model.pb) has no value in the checkpoint");
    const std::string& key = ckpt->nodes[static_cast<std::size_t>(id)].attributes[0].checkpoint_key;
    strata::Tensor value = reader->get_tensor(key);
    const auto& sv = og.nodes(id).variable();
    if (sv.has_shape() && !sv.shape().unknown_rank()) {
      std::vector<std::int64_t> dims;
      for (const auto& d : sv.shape().dim()) dims.push_back(d.size());
      STRATA_CHECK(strata::Shape(dims) == value.shape() || std::any_of(dims.begin(), dims.end(), [](auto d) { return d < 0; }),
                   FormatError, what, ": variable '", sv.name(), "' has shape ", value.shape().to_string(),
                   " in the checkpoint but ", strata::Shape(dims).to_string(), " in saved_model.pb");
    }
    return std::make_pair(key, value);
  };
  // The layers, each owning its variables (issue 19); the traced calls bind to the same.
  const std::map<int, Config> node_metadata = read_node_metadata(dir, sm);
  RevivedTree tree = revive_layers(og, node_metadata, state_nodes, [&](int id, RevivedLayer& layer, const std::string& local) {
    if (const auto it = variables.find(id); it != variables.end()) return it->second;
    const auto [key, value] = value_of(id);
    const strata::Variable v =
        layer.add_revived_weight(local, value, og.nodes(id).variable().trainable(), og.nodes(id).variable().name());
    used_names.insert(v.name());
    variables.emplace(id, v);
    return v;
  });
  model->set_layers(tree.children, tree.layers);
  const strata::savedmodel::GraphIndex graph_index(mg.graph_def());  // once: a bind per layer follows
  const auto bind = [&](const std::string& fname) {
    strata::savedmodel::ImportedArguments args;
    for (const int id : og.concrete_functions().at(fname).bound_inputs()) {
      STRATA_CHECK(id >= 0 && id < og.nodes_size() && (og.nodes(id).has_variable() || og.nodes(id).has_constant()),
                   FormatError, what, ": concrete function '", fname, "' is bound to node ", id,
                   ", which is not a variable or constant");
      if (og.nodes(id).has_constant()) {
        // A tensor the traced call captured (TFOpLambda arguments): its Const node in the graph.
        args.constants.push_back(strata::savedmodel::graph_constant(graph_index, og.nodes(id).constant().operation(), what));
        continue;
      }
      if (!variables.count(id)) {
        // A variable of no layer (a state, a subclassed model's own): the model's.
        const auto [key, value] = value_of(id);
        const auto& sv = og.nodes(id).variable();
        const bool state = state_nodes.count(id) > 0;  // tf-keras writes them trainable, as tf.Variable's default
        // Names need not be unique in a SavedModel (tf-keras names every state of a layer
        // "<layer>/Variable"); weights' must: the second is "<name>_1", and so on.
        const std::string base = sv.name().empty() ? key : sv.name();
        std::string vname = base;
        for (int k = 1; !used_names.insert(vname).second; ++k) {
          vname = strata::detail::concat(base, "_", k);
        }
        const strata::Variable v = model->add_variable(vname, value, sv.trainable() && !state);
        if (state) model->add_state(v);
        variables.emplace(id, v);
      }
      args.captured.push_back(variables.at(id));
    }
    return strata::savedmodel::import_function(graph_index, fname, args, what);
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
  // Each revived layer's own traced call, where the file holds one (tf-keras traces every
  // layer's; a layer whose trace does not import says why when it is called).
  for (const auto& [layer, id] : tree.all) {
    const strata::tf::SavedFunction* layer_call = nullptr;
    for (const auto& c : og.nodes(id).children()) {
      if (c.local_name() == "__call__" && c.node_id() >= 0 && c.node_id() < og.nodes_size() && og.nodes(c.node_id()).has_function()) {
        layer_call = &og.nodes(c.node_id()).function();
      }
    }
    if (layer_call == nullptr || layer_call->concrete_functions().empty()) {
      layer->set_no_call("the SavedModel holds no traced call for it");
      continue;
    }
    try {
      const auto [li, lt] = by_mode(*layer_call, "__call__");
      if (li.empty()) {
        layer->set_no_call("its traced __call__ has no inference-mode function");
        continue;
      }
      std::optional<strata::Graph> lg;
      if (!lt.empty()) lg = bind(lt);
      layer->set_call(bind(li), std::move(lg));
    } catch (const strata::Error& e) {
      layer->set_no_call(strata::detail::concat("its traced call could not be imported: ", e.what()));
    }
  }
  set_revived_specs(*model, mg, og.concrete_functions().at(inference), md.root);
  wire_layer_calls(*model, md.root);
  compile_from_metadata(*model, md, options);
  if (model->is_compiled()) {
    // The optimizer's state (its iterations and slots), through the checkpoint's object
    // graph, which the revived layers mirror under the file's names (issue 19).
    auto frame = strata::ErrorContext::push("restoring the optimizer state of '", dir.string(), "'");
    const std::shared_ptr<const strata::Model> root(std::shared_ptr<const strata::Model>(), model.get());
    strata::Checkpoint::with_root(root, strata::CheckpointSaveType::kSavedModel).restore(prefix).expect_partial();
  }
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

}  // namespace

// With the classes available (built-in, plugin, custom_objects) the model is built from
// its config (or, for a subclassed model, from its class and build input shape) and its
// variables restored; otherwise, or when options.revive_from_traces asks for it, it is
// revived from its traced functions.
std::shared_ptr<strata::Model> load(const fs::path& dir, const strata::LoadOptions& options) {
  const strata::tf::SavedModel sm = read_saved_model(dir);
  // A signature asked for, or a SavedModel tf-keras did not write: run a signature.
  if (!options.signature.empty() || !has_keras_metadata(dir, sm)) return load_signature(dir, sm, options);
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
  if (options.revive_from_traces || container_without_config) {
    auto model = revive_from_traces(dir, sm, md, options, "");
    strata::plugin::mark_revived(model, {});
    return model;
  }
  try {
    return revive_from_classes(dir, sm, md, options);
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
    // A failure while reviving (an op Strata lacks, a bad graph) says why the traces were
    // read at all: the classes that were missing.
    std::string classes;
    std::vector<std::string> missing;
    for (const auto& m : e.missing()) {
      classes += strata::detail::concat(classes.empty() ? "" : ", ", m.kind, " '", m.name, "'");
      missing.push_back(strata::detail::concat(m.kind, " '", m.name, "'"));
    }
    // Keras's load_model warns too ("... could not be deserialized properly"): the model
    // runs its traces, and what its classes had beyond them is gone.
    strata::log_warning("'", dir.string(), "': ", classes, e.missing().size() == 1 ? " is" : " are",
                        " not registered (load the plugin that provides ", e.missing().size() == 1 ? "it" : "them",
                        " or pass custom_objects); the model is revived from its traced functions: its layers ",
                        "run their traces and have no config of their own class");
    auto frame = strata::ErrorContext::push("reviving '", dir.string(), "' from its traced functions because ",
                                            e.missing().size() == 1 ? "its class " : "its classes ", classes,
                                            e.missing().size() == 1 ? " is" : " are", " not registered");
    auto model = revive_from_traces(dir, sm, md, options, e.message());
    strata::plugin::mark_revived(model, std::move(missing));
    return model;
  }
}


// The model its Keras metadata describe, built from its classes (config or class and build
// input shape), compiled with options.compile (no optimizer state), variables/ not read:
// the weights are initialised as a new model's. What only loads with its variables (a model
// revived from its traces, a SavedModel without Keras metadata run through its signatures)
// is loaded whole by load().
std::shared_ptr<strata::Model> load_architecture(const fs::path& dir, const strata::LoadOptions& options) {
  const strata::tf::SavedModel sm = read_saved_model(dir);
  if (!options.signature.empty() || options.revive_from_traces || !has_keras_metadata(dir, sm)) {
    return load(dir, options);
  }
  const Metadata md = read_metadata(dir, sm);
  const std::string root_class = md.root.value("class_name", std::string());
  const bool container_without_config = !md.root.contains("model_config") &&
                                        (root_class == "Functional" || root_class == "Sequential" || root_class == "Model");
  if (container_without_config) return load(dir, options);
  try {
    return revive_from_classes(dir, sm, md, options, /*restore=*/false);
  } catch (const strata::UnknownObjectError&) {
    if (!has_traces(sm)) throw;
    return load(dir, options);  // revived from its traces, which bind the variables
  }
}

}  // namespace strata::savedmodel
