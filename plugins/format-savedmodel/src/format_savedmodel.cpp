// The "savedmodel" format: TensorFlow SavedModel directories (docs FORMATS.md §4).
// Reading builds the model from its classes when they are available (the root's Keras
// metadata: model_config through model_from_config, or a subclassed model's registered class
// and build_input_shape), restores variables/ through the checkpoint format and compiles
// from training_config; when a class is missing it revives the model from the traced
// functions (RevivedModel). Writing traces the model's call (function_graph.cpp) and writes
// Keras metadata for every layer (layer_metadata.cpp), so TensorFlow and tf-keras load the
// result. See README.md next to this file.
#include <memory>
#include <string>

#include "savedmodel_format.hpp"
#include "savedmodel_internal.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {
namespace {

class SavedModelFormat final : public strata::Format {
 public:
  std::string name() const override { return "savedmodel"; }
  // Keras: a model saved to a path without an extension is a SavedModel directory.
  std::vector<std::string> model_extensions() const override { return {""}; }
  std::vector<std::string> weights_extensions() const override { return {}; }
  unsigned capabilities() const override { return strata::kLoadModel | strata::kSaveModel; }

  // Atomic (DESIGN.md §6; writer.cpp): built in a sibling directory, then swapped in.
  void save_model(const strata::Model& model, const fs::path& dir, const strata::SaveOptions& options) const override {
    save(model, dir, options);
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
    return load(dir, options);
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

std::shared_ptr<Format> make_format() { return std::make_shared<SavedModelFormat>(); }

}  // namespace strata::savedmodel
