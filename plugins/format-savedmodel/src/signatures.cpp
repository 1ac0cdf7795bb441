// SavedModels without Keras metadata (tf.saved_model.save of a tf.Module, Keras 3's
// model.export(), TF Serving's models): one of their signatures, run as a model.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "function_graph.hpp"
#include "savedmodel_internal.hpp"
#include "strata/checkpoint.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/graph.hpp"
#include "strata/initializers.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"

namespace strata::savedmodel {

namespace {

using strata::Config;

// A signature of a SavedModel as a model: its inputs are the signature's keyword arguments
// (named by their keys, in key order, as TensorFlow flattens them), its outputs the values
// of the dict it returns (named by their keys, in key order), computed by the signature's
// concrete function on the SavedModel's variables. It has no layers and no config; it
// predicts and, where its ops have gradients, trains.
class SignatureModel final : public RestoredModel {
 public:
  SignatureModel(const std::string& name, std::string signature)
      : RestoredModel("SavedModelSignature", Config{{"name", name}}), signature_(std::move(signature)) {}

  void set_graph(strata::Graph graph) {
    std::vector<strata::Shape> shapes;
    for (const auto& in : graph.inputs()) shapes.push_back(in.shape());
    graph_ = std::move(graph);
    optimized_ = strata::optimize_graph(graph_, strata::Device::cpu(), true);
    set_built(shapes);
  }
  const std::string& signature() const noexcept { return signature_; }
  std::vector<strata::Tensor> inputs() const override { return graph_.inputs(); }
  std::vector<strata::Tensor> outputs() const override { return graph_.outputs(); }
  std::vector<strata::Tensor> call(const std::vector<strata::Tensor>& inputs, const strata::CallContext& ctx) const override {
    const bool on_cpu = !inputs.empty() && inputs.front().device().type() == "cpu";
    return (on_cpu && !ctx.training ? optimized_ : graph_).run(inputs);
  }
  Config get_config() const override {
    STRATA_THROW(ValueError, "model '", name(), "' is signature '", signature_,
                 "' of a SavedModel without Keras metadata; it has no config");
  }

 private:
  std::string signature_;
  strata::Graph graph_, optimized_;
};

strata::TensorSpec spec_from_proto(const tf::TensorSpecProto& p, const std::string& name, const std::string& what) {
  return strata::TensorSpec(shape_from_proto(p.shape(), what), strata::dtype_from_tf(static_cast<int>(p.dtype())), name);
}

// The keys and specs of a signature's outputs: a dict's by key, a single tensor's as
// "output_0", a tuple's or list's as "output_<i>" (TensorFlow's names for them).
std::vector<strata::TensorSpec> output_specs(const tf::StructuredValue& v, const std::string& what) {
  std::vector<strata::TensorSpec> out;
  if (v.has_dict_value()) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : v.dict_value().fields()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const auto& key : keys) {
      const auto& value = v.dict_value().fields().at(key);
      STRATA_CHECK(value.has_tensor_spec_value(), FormatError, what, ": output '", key, "' is not a tensor");
      out.push_back(spec_from_proto(value.tensor_spec_value(), key, what));
    }
  } else if (v.has_tensor_spec_value()) {
    out.push_back(spec_from_proto(v.tensor_spec_value(), "output_0", what));
  } else if (v.has_tuple_value() || v.has_list_value()) {
    const auto& values = v.has_tuple_value() ? v.tuple_value().values() : v.list_value().values();
    for (int i = 0; i < values.size(); ++i) {
      STRATA_CHECK(values[i].has_tensor_spec_value(), FormatError, what, ": output ", i, " is not a tensor");
      out.push_back(spec_from_proto(values[i].tensor_spec_value(), "output_" + std::to_string(i), what));
    }
  } else {
    STRATA_THROW(FormatError, what, ": its outputs are neither a tensor, a tuple nor a dict of tensors");
  }
  return out;
}

}  // namespace

strata::Variable RestoredModel::add_variable(const std::string& name, const strata::Tensor& value, bool trainable) {
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

std::map<std::string, std::string> signature_functions(const tf::SavedModel& sm) {
  std::map<std::string, std::string> out;
  if (sm.meta_graphs_size() == 0) return out;
  const auto& og = sm.meta_graphs(0).object_graph_def();
  if (og.nodes_size() == 0) return out;
  const auto valid = [&](int id) { return id >= 0 && id < og.nodes_size(); };
  for (const auto& child : og.nodes(0).children()) {
    if (child.local_name() != "signatures" || !valid(child.node_id())) continue;
    for (const auto& sig : og.nodes(child.node_id()).children()) {
      if (!valid(sig.node_id()) || !og.nodes(sig.node_id()).has_bare_concrete_function()) continue;
      out.emplace(sig.local_name(), og.nodes(sig.node_id()).bare_concrete_function().concrete_function_name());
    }
  }
  return out;
}

std::shared_ptr<strata::Model> load_signature(const fs::path& dir, const tf::SavedModel& sm,
                                              const strata::LoadOptions& options) {
  const std::string file = (dir / "saved_model.pb").string();
  const auto& mg = sm.meta_graphs(0);
  const auto& og = mg.object_graph_def();
  std::string listed;
  for (const auto& [key, value] : mg.signature_def()) listed += (listed.empty() ? "" : ", ") + key;
  STRATA_CHECK(og.nodes_size() > 0, FormatError, "'", dir.string(),
               "' is a TF1 SavedModel (its MetaGraph has no object graph, only a session graph with signatures ",
               listed.empty() ? "(none)" : listed,
               "): Strata runs the signatures of TF2 SavedModels and the models of tf-keras SavedModels, not TF1 "
               "session graphs. Re-export it with TensorFlow 2 (tf.saved_model.save)");
  const auto functions = signature_functions(sm);
  std::string names;
  for (const auto& [key, value] : functions) names += (names.empty() ? "'" : ", '") + key + "'";
  std::string chosen = options.signature;
  if (chosen.empty()) {
    STRATA_CHECK(!functions.empty(), FormatError, "'", dir.string(),
                 "' has no Keras metadata (it was not written by tf-keras) and no signatures to run");
    chosen = functions.count("serving_default") || functions.size() > 1 ? "serving_default" : functions.begin()->first;
    STRATA_CHECK(functions.count(chosen), ValueError, "'", dir.string(),
                 "' has no Keras metadata and no serving_default signature; choose one of its signatures ", names,
                 " (strata predict --signature NAME, LoadOptions::signature)");
  }
  const auto fn = functions.find(chosen);
  STRATA_CHECK(fn != functions.end(), ValueError, "'", dir.string(), "' has no signature '", chosen, "'",
               functions.empty() ? std::string(" (it has none)") : strata::detail::concat("; its signatures: ", names));
  const std::string what = strata::detail::concat("'", file, "' signature '", chosen, "'");
  const auto cf = og.concrete_functions().find(fn->second);
  STRATA_CHECK(cf != og.concrete_functions().end(), FormatError, what, ": concrete function '", fn->second,
               "' is not described in the object graph");

  // Inputs: the keyword arguments, in key order.
  const auto& in_sig = cf->second.canonicalized_input_signature();
  STRATA_CHECK(in_sig.has_tuple_value() && in_sig.tuple_value().values_size() == 2 &&
                   in_sig.tuple_value().values(1).has_dict_value(),
               FormatError, what, ": its input signature is not ((), {keyword arguments})");
  std::vector<std::string> keys;
  for (const auto& [key, value] : in_sig.tuple_value().values(1).dict_value().fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  std::vector<strata::TensorSpec> in_specs;
  for (const auto& key : keys) {
    const auto& v = in_sig.tuple_value().values(1).dict_value().fields().at(key);
    STRATA_CHECK(v.has_tensor_spec_value(), FormatError, what, ": argument '", key, "' is not a tensor");
    in_specs.push_back(spec_from_proto(v.tensor_spec_value(), key, what));
  }
  const auto out_specs = output_specs(cf->second.output_signature(), what);

  // The variables and constants the function is bound to.
  const fs::path prefix = dir / "variables" / "variables";
  auto model = std::make_shared<SignatureModel>(dir.filename().empty() ? std::string("saved_model")
                                                                        : dir.filename().string(),
                                                chosen);
  ImportedArguments args;
  std::shared_ptr<strata::CheckpointReader> reader;
  std::optional<strata::CheckpointObjectGraph> ckpt;
  std::set<std::string> used_names;
  const GraphIndex graph_index(mg.graph_def());
  for (const int id : cf->second.bound_inputs()) {
    STRATA_CHECK(id >= 0 && id < og.nodes_size() && (og.nodes(id).has_variable() || og.nodes(id).has_constant()),
                 FormatError, what, ": bound to node ", id, ", which is not a variable or constant");
    if (og.nodes(id).has_constant()) {
      args.constants.push_back(graph_constant(graph_index, og.nodes(id).constant().operation(), what));
      continue;
    }
    if (!reader) {
      reader = strata::load_checkpoint(prefix);
      ckpt = reader->object_graph();
      STRATA_CHECK(ckpt.has_value(), FormatError, "'", prefix.string(), "' has no object graph");
    }
    const auto& sv = og.nodes(id).variable();
    STRATA_CHECK(static_cast<std::size_t>(id) < ckpt->nodes.size() && is_variable_node(ckpt->nodes[static_cast<std::size_t>(id)]),
                 FormatError, "'", prefix.string(), "': object ", id, " (variable '", sv.name(),
                 "' in saved_model.pb) has no value in the checkpoint");
    const std::string& key = ckpt->nodes[static_cast<std::size_t>(id)].attributes[0].checkpoint_key;
    const strata::Tensor value = reader->get_tensor(key);
    if (sv.has_shape() && !sv.shape().unknown_rank()) {
      const strata::Shape declared = shape_from_proto(sv.shape(), what);
      STRATA_CHECK(declared.is_compatible_with(value.shape()), FormatError, what, ": variable '", sv.name(),
                   "' has shape ", value.shape().to_string(), " in the checkpoint but ", declared.to_string(),
                   " in saved_model.pb");
    }
    const std::string base = sv.name().empty() ? key : sv.name();
    std::string vname = base;
    for (int k = 1; !used_names.insert(vname).second; ++k) vname = strata::detail::concat(base, "_", k);
    args.captured.push_back(model->add_variable(vname, value, sv.trainable()));
  }
  const strata::Graph imported = import_function(graph_index, fn->second, args, what);
  STRATA_CHECK(imported.inputs().size() == in_specs.size(), FormatError, what, ": its function takes ",
               imported.inputs().size(), " tensors but the signature names ", in_specs.size());
  STRATA_CHECK(imported.outputs().size() == out_specs.size(), FormatError, what, ": its function returns ",
               imported.outputs().size(), " tensors but the signature names ", out_specs.size());
  // The model's graph: placeholders named by the argument keys, and each output an Identity
  // named by its key (so that every API shows the signature's names).
  strata::Graph graph = strata::trace([&](const std::vector<strata::Tensor>& in) {
    std::vector<strata::Tensor> out;
    for (const auto& t : imported.run(in)) out.push_back(strata::execute1("Identity", {t}));
    return out;
  }, in_specs, chosen);
  for (std::size_t i = 0; i < out_specs.size(); ++i) graph.outputs()[i].node()->name = out_specs[i].name;
  model->set_graph(std::move(graph));
  strata::log_info("'", dir.string(), "' has no Keras metadata: loaded its signature '", chosen, "' (",
                   in_specs.size(), " input(s), ", out_specs.size(), " output(s)) as a model");
  return model;
}

}  // namespace strata::savedmodel
