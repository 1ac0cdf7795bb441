// Writing a SavedModel: variables/ (the checkpoint), saved_model.pb (object graph, signatures,
// traces, session graph) and keras_metadata.pb in a temporary sibling directory, committed by
// one exchange (or rename) through the file-system seam.
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
#include "strata/plugin/temp_files.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

namespace {

void write_contents(const strata::Model& model, const fs::path& tmp, const strata::SaveOptions& options) {
  const fs::path prefix = tmp / "variables" / "variables";
  // variables/ holds the checkpoint Checkpoint(root=model).write writes (as tf.saved_model.save:
  // no `checkpoint` state file there). The SavedObjectGraph mirrors its object graph node for
  // node (same ids), taken from the write itself, not read back from the files. Written as a
  // SavedModel: stateful layers' states go under "<layer>/keras_api/states/<i>", as tf-keras's.
  const std::shared_ptr<const strata::Model> root_model(std::shared_ptr<const strata::Model>(), &model);
  const strata::WrittenCheckpoint written = strata::Checkpoint::with_root(root_model, strata::CheckpointSaveType::kSavedModel).write_with_graph(prefix);
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
  // Keyed by the model's input and output names, as tf-keras keys them; output i (in key
  // order) of the serving call is "StatefulPartitionedCall:i".
  const ServingKeys keys = serving_keys(model, in_specs.size(), out_shapes.size());
  for (std::size_t i = 0; i < in_specs.size(); ++i) {
    add_info((*sig.mutable_inputs())[keys.inputs[i]], "serving_default_" + keys.inputs[i] + ":0", in_specs[i].shape);
  }
  const auto out_order = sorted_order(keys.outputs);
  for (std::size_t o = 0; o < out_order.size(); ++o) {
    add_info((*sig.mutable_outputs())[keys.outputs[out_order[o]]], "StatefulPartitionedCall:" + std::to_string(o),
             out_shapes[out_order[o]]);
  }

  std::map<std::string, bool> trainable;
  for (const auto& w : model.weights()) trainable[w.name()] = w.trainable();
  // A stateful layer's "keras_api/states" is a Python list in tf-keras
  // (trackable_list_wrapper): its load_model revives it as one and reads the states from it.
  std::set<std::size_t> state_lists;
  for (const auto& node : graph->nodes) {
    for (const auto& c : node.children) {
      if (c.local_name != "keras_api") continue;
      for (const auto& cc : graph->nodes[static_cast<std::size_t>(c.node_id)].children) {
        if (cc.local_name == "states") state_lists.insert(static_cast<std::size_t>(cc.node_id));
      }
    }
  }
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
      uo->set_identifier(id == 0                 ? "_tf_keras_network"
                         : state_lists.count(id) ? "trackable_list_wrapper"
                                                 : "_generic_user_object");
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
    // Each layer's call too, as tf-keras traces them (issue 19: revived layers run).
    if (!mg->object_graph_def().concrete_functions().empty()) add_layer_traces(model, *graph, *mg);
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

}  // namespace

// Atomic (DESIGN.md §6): the new SavedModel is built in a sibling directory, then
// swapped in with one renameat2(RENAME_EXCHANGE), so the path always names a complete
// SavedModel, old or new, even if the process dies at any point.
void save(const strata::Model& model, const fs::path& dir, const strata::SaveOptions& options) {
  strata::write_directory_atomically(
      dir,
      [&](const fs::path& tmp) {
        strata::FileSystem& files = strata::file_system();
        files.create_directories(tmp / "variables");
        files.create_directories(tmp / "assets");
        for (const auto& [name, bytes] : strata_asset_files(model)) {
          files.create_directories((tmp / "assets" / name).parent_path());
          files.write_file(tmp / "assets" / name, bytes);
        }
        write_contents(model, tmp, options);
        files.sync_directory(tmp / "variables");
      },
      options.overwrite, "SavedModel");
}

}  // namespace strata::savedmodel
