// The "savedmodel" format: TensorFlow SavedModel directories (docs FORMATS.md §4).
// Reading revives tf-keras models from their Keras metadata (keras_metadata.pb, or the
// SavedUserObject metadata of TF <= 2.4 files): the root's model_config is built with
// model_from_config, the weights and optimizer slots come from variables/ through the
// checkpoint format, and the training_config compiles the model. Traced functions are
// never executed, so a model whose classes Strata lacks cannot be loaded.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>

#include "strata/checkpoint.hpp"

#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/plugin/registrar.hpp"
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

class SavedModelFormat final : public strata::Format {
 public:
  std::string name() const override { return "savedmodel"; }
  std::vector<std::string> extensions() const override { return {}; }
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
    strata::FileSystem& files = strata::file_system();
    fs::remove_all(tmp, ec);
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
      fs::remove_all(tmp, ec);
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
      if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
    }
  }

  static void write_contents(const strata::Model& model, const fs::path& tmp, const strata::SaveOptions& options) {
    const fs::path prefix = tmp / "variables" / "variables";
    strata::SaveOptions wo;
    wo.format = "checkpoint";
    strata::save_weights(model, prefix, wo);
    // The SavedObjectGraph mirrors the checkpoint's object graph node for node (same ids).
    const auto reader = strata::load_checkpoint(prefix);
    const auto graph = reader->object_graph();
    STRATA_CHECK(graph.has_value(), FormatError, "the checkpoint written to '", prefix.string(), "' has no object graph");

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
    const auto ins = model.inputs();
    for (std::size_t i = 0; i < ins.size(); ++i) {
      const std::string key = "input_" + std::to_string(i + 1);
      add_info((*sig.mutable_inputs())[key], "serving_default_" + key + ":0", ins[i].shape());
    }
    const auto outs = model.outputs();
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const std::string key = "output_" + std::to_string(i + 1);
      add_info((*sig.mutable_outputs())[key], "StatefulPartitionedCall:" + std::to_string(i), outs[i].shape());
    }

    auto* og = mg->mutable_object_graph_def();
    for (std::size_t id = 0; id < graph->nodes.size(); ++id) {
      const auto& node = graph->nodes[id];
      auto* so = og->add_nodes();
      for (const auto& c : node.children) {
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
      const bool is_variable = node.children.empty() && node.attributes.size() == 1 &&
                               node.attributes[0].name == "VARIABLE_VALUE";
      if (is_variable) {
        auto* v = so->mutable_variable();
        const std::string& key = node.attributes[0].checkpoint_key;
        v->set_dtype(strata::tf::DT_FLOAT);
        const strata::Shape vshape = reader->shape(key);
        for (const std::int64_t d : vshape.dims()) v->mutable_shape()->add_dim()->set_size(d);
        v->set_name(node.attributes[0].full_name);
        v->set_trainable(true);
      } else {
        auto* uo = so->mutable_user_object();
        uo->set_identifier(id == 0 ? "_tf_keras_network" : "_generic_user_object");
        uo->mutable_version()->set_producer(1);
        uo->mutable_version()->set_min_consumer(1);
      }
    }

    // keras_metadata.pb: the root's metadata (what load_model needs to revive the model).
    Config root = Config::object();
    const Config config = model.get_config();
    const std::string class_name = strata::parse_python_json(strata::model_to_json(model), "model JSON")["class_name"];
    root["class_name"] = class_name;
    root["name"] = model.name();
    root["trainable"] = true;
    root["dtype"] = "float32";
    root["config"] = config;
    root["is_graph_network"] = true;
    root["keras_version"] = strata::kKerasVersion;
    root["backend"] = strata::kKerasBackend;
    Config mc = Config::object();
    mc["class_name"] = class_name;
    mc["config"] = config;
    root["model_config"] = mc;
    if (options.include_optimizer && model.is_compiled()) root["training_config"] = model.training_config();
    strata::keras::SavedMetadata md;
    auto* n = md.add_nodes();
    n->set_node_id(0);
    n->set_node_path("root");
    n->set_identifier(class_name == "Sequential" ? "_tf_keras_sequential" : "_tf_keras_network");
    n->set_metadata(strata::to_python_json(root));
    n->mutable_version()->set_producer(2);
    n->mutable_version()->set_min_consumer(1);
    og->mutable_nodes(0)->mutable_user_object()->set_identifier(n->identifier());

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

  std::shared_ptr<strata::Model> load_model(const fs::path& dir, const strata::LoadOptions& options) const override {
    const strata::tf::SavedModel sm = read_saved_model(dir);
    const Metadata md = read_metadata(dir, sm);
    STRATA_CHECK(md.root.contains("model_config") && md.root["model_config"].is_object(), FormatError, md.source,
                 ": the root object (", md.root.value("class_name", std::string("?")),
                 ") has no model_config: it is a subclassed model or layer, which can only be revived from its "
                 "traced functions (not supported by Strata)");
    const Config& mc = md.root["model_config"];
    STRATA_CHECK(mc.contains("class_name") && mc.contains("config"), FormatError, md.source,
                 ": the root's model_config must have 'class_name' and 'config'");
    std::shared_ptr<strata::Model> model = strata::model_from_config(mc, options.custom_objects);

    const bool compile = options.compile && md.root.contains("training_config") &&
                         md.root["training_config"].is_object() &&
                         md.root["training_config"].contains("optimizer_config") &&
                         !md.root["training_config"]["optimizer_config"].is_null();
    if (compile) {
      auto frame = strata::ErrorContext::push("compiling the model from the training_config of ", md.source);
      const Config& tc = md.root["training_config"];
      Config metrics = tc.value("metrics", Config());
      if (model->outputs().size() == 1 && metrics.is_array() && metrics.size() == 1 && metrics[0].is_array()) {
        metrics = Config(metrics[0]);
      }
      model->compile(tc["optimizer_config"], tc.value("loss", Config()), metrics, tc.value("loss_weights", Config()));
    }

    const fs::path prefix = dir / "variables" / "variables";
    std::error_code ec;
    STRATA_CHECK(fs::exists(prefix.string() + ".index", ec), FormatError, "'", dir.string(),
                 "' has no variables/variables.index: the SavedModel's weights are missing");
    strata::LoadOptions lo;
    lo.format = "checkpoint";
    auto frame = strata::ErrorContext::push("restoring the variables of '", dir.string(), "'");
    strata::load_weights(*model, prefix, lo).expect_partial();
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
    for (const auto& [key, sig] : mg.signature_def()) {
      if (key.rfind("__", 0) == 0) continue;
      line("signature " + key, std::to_string(sig.inputs_size()) + " input(s), " +
                                   std::to_string(sig.outputs_size()) + " output(s)");
    }
    try {
      const Metadata md = read_metadata(dir, sm);
      if (md.root.contains("model_config")) {
        line("class", md.root["model_config"].value("class_name", std::string("?")));
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

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kFormat>("savedmodel", [] { return std::make_shared<SavedModelFormat>(); });
}

}  // namespace

STRATA_PLUGIN("format-savedmodel", "0.1.0", "TensorFlow SavedModel directories written by tf-keras (read)",
              register_all);
