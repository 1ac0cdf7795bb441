// The "savedmodel" format: TensorFlow SavedModel directories (docs FORMATS.md §4).
// Reading builds the model from its classes when they are available (the root's Keras
// metadata: model_config through model_from_config, or a subclassed model's registered class
// and build_input_shape), restores variables/ through the checkpoint format and compiles
// from training_config; when a class is missing it revives the model from the traced
// functions (RevivedModel). Writing traces the model's call (function_graph.cpp) and writes
// Keras metadata for every layer (layer_metadata.cpp), so TensorFlow and tf-keras load the
// result. See README.md next to this file.
#include <functional>
#include <map>
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
  unsigned capabilities() const override {
    return strata::kLoadModel | strata::kSaveModel | strata::kLoadArchitecture;
  }

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

  // The model built from its classes without reading variables/ (initialised as a new
  // model's; compiled, no optimizer state, with options.compile). A model that only loads
  // from its traced functions or signatures, which bind the variables, is loaded whole.
  std::shared_ptr<strata::Model> load_architecture(const fs::path& dir,
                                                   const strata::LoadOptions& options) const override {
    return strata::savedmodel::load_architecture(dir, options);
  }

  // Every MetaGraph's tags and signatures (TF1 SavedModels declare nothing else), then,
  // for TF2 files, the object graph: a Keras model's traced functions, or a plain
  // TensorFlow SavedModel's functions (no Keras metadata: it runs through its signatures),
  // the variables, and the Keras class and version when there are Keras metadata.
  std::string describe(const fs::path& dir) const override {
    const strata::tf::SavedModel sm = read_saved_model(dir);
    STRATA_CHECK(sm.meta_graphs_size() > 0, FormatError, "'", (dir / "saved_model.pb").string(), "' has no MetaGraph");
    std::string out = "format: savedmodel\n";
    const auto line = [&out](std::string_view key, const std::string& value) {
      out.append(key).append(": ").append(value).append("\n");
    };
    const auto& mg = sm.meta_graphs(0);
    line("schema_version", std::to_string(sm.saved_model_schema_version()));
    line("tensorflow_version", mg.meta_info_def().tensorflow_version());
    const auto shape_text = [](const strata::tf::TensorShapeProto& shape) {
      if (shape.unknown_rank()) return std::string("(?)");
      std::string text = "(";
      for (int d = 0; d < shape.dim_size(); ++d) {
        const auto size = shape.dim(d).size();
        text += (d ? ", " : "") + (size < 0 ? std::string("None") : std::to_string(size));
      }
      return text + ")";
    };
    const auto type_text = [&shape_text](int dtype, const strata::tf::TensorShapeProto& shape) {
      std::string name;
      try {
        name = strata::dtype_name(strata::dtype_from_tf(dtype));
      } catch (const strata::Error&) {
        name = "tf_dtype_" + std::to_string(dtype);  // a TensorFlow type Strata has no dtype for
      }
      return name + shape_text(shape);
    };
    const auto info = [&type_text](const std::string& key, const strata::tf::TensorInfo& ti) {
      return key + " " + type_text(static_cast<int>(ti.dtype()), ti.tensor_shape());
    };
    for (int m = 0; m < sm.meta_graphs_size(); ++m) {
      const auto& g = sm.meta_graphs(m);
      std::string tags;
      for (const auto& t : g.meta_info_def().tags()) tags += (tags.empty() ? "" : ", ") + t;
      if (sm.meta_graphs_size() > 1 || g.object_graph_def().nodes_size() == 0) {
        line("meta graph " + std::to_string(m), "tags " + (tags.empty() ? std::string("(none)") : tags));
      }
      // Sorted: the proto map's order is unspecified.
      std::map<std::string, const strata::tf::SignatureDef*> sigs;
      for (const auto& [key, sig] : g.signature_def()) sigs.emplace(key, &sig);
      for (const auto& [key, sig] : sigs) {
        if (key.rfind("__", 0) == 0) continue;
        std::string text = std::to_string(sig->inputs_size()) + " input(s), " + std::to_string(sig->outputs_size()) + " output(s):";
        const std::map<std::string, strata::tf::TensorInfo> ins(sig->inputs().begin(), sig->inputs().end()),
            outs(sig->outputs().begin(), sig->outputs().end());
        for (const auto& [k, ti] : ins) text += " in " + info(k, ti) + ";";
        for (const auto& [k, ti] : outs) text += " out " + info(k, ti) + ";";
        text.pop_back();
        if (!sig->method_name().empty() && g.object_graph_def().nodes_size() == 0) text += " (" + sig->method_name() + ")";
        line("signature " + key, text);
      }
    }
    const auto& og = mg.object_graph_def();
    if (og.nodes_size() == 0) {
      line("object graph", "none: a TF1 SavedModel (its MetaGraph's signatures are what it declares)");
      return out;
    }
    line("objects", std::to_string(og.nodes_size()));
    bool keras = true;
    Metadata md;
    try {
      md = read_metadata(dir, sm);
    } catch (const strata::Error& e) {
      keras = false;
      if (fs::exists(dir / "keras_metadata.pb")) line("keras metadata", std::string("unreadable: ") + e.what());
    }
    if (keras) {
      std::string traced;
      for (int c = 0; c < og.nodes(0).children_size(); ++c) {
        const auto& child = og.nodes(0).children(c);
        if (child.local_name() != "__call__" || child.node_id() < 0 || child.node_id() >= og.nodes_size()) continue;
        for (const auto& f : og.nodes(child.node_id()).function().concrete_functions()) traced += (traced.empty() ? "" : ", ") + f;
      }
      line("traced functions", traced.empty() ? std::string("none (saved with save_traces=false): loading needs the classes")
                                              : traced + " (" + std::to_string(mg.graph_def().library().function_size()) +
                                                    " in the function library)");
    } else {
      if (!fs::exists(dir / "keras_metadata.pb")) {
        line("keras metadata", "none: a TensorFlow SavedModel not written by Keras (tf.saved_model.save of a "
                               "tf.Module); it runs through its signatures");
      }
      // The root's functions, with the input signature each was traced for and what it returns.
      const std::function<std::string(const strata::tf::StructuredValue&)> value = [&](const strata::tf::StructuredValue& v) {
        using K = strata::tf::StructuredValue;
        const auto join = [&](const auto& values, const char* open, const char* close) {
          std::string t = open;
          for (int i = 0; i < values.size(); ++i) t += (i ? ", " : "") + value(values.Get(i));
          return t + close;
        };
        switch (v.kind_case()) {
          case K::kTensorSpecValue: {
            const auto& ts = v.tensor_spec_value();
            return (ts.name().empty() ? std::string() : ts.name() + " ") + type_text(static_cast<int>(ts.dtype()), ts.shape());
          }
          case K::kTupleValue: return join(v.tuple_value().values(), "(", ")");
          case K::kListValue: return join(v.list_value().values(), "[", "]");
          case K::kDictValue: {
            const std::map<std::string, strata::tf::StructuredValue> fields(v.dict_value().fields().begin(),
                                                                             v.dict_value().fields().end());
            std::string t = "{";
            for (const auto& [k, f] : fields) t += (t.size() > 1 ? ", " : "") + k + ": " + value(f);
            return t + "}";
          }
          case K::kNoneValue: return std::string("None");
          case K::kInt64Value: return std::to_string(v.int64_value());
          case K::kBoolValue: return std::string(v.bool_value() ? "True" : "False");
          case K::kStringValue: return "'" + v.string_value() + "'";
          case K::kFloat64Value: return std::to_string(v.float64_value());
          default: return std::string("?");
        }
      };
      std::size_t functions = 0;
      for (int c = 0; c < og.nodes(0).children_size(); ++c) {
        const auto& child = og.nodes(0).children(c);
        if (child.node_id() < 0 || child.node_id() >= og.nodes_size() || !og.nodes(child.node_id()).has_function()) continue;
        if (++functions > 10000) continue;  // counted, not listed (as the variables below)
        const auto& fn = og.nodes(child.node_id()).function();
        std::string text = std::to_string(fn.concrete_functions_size()) + " concrete function(s)";
        if (fn.concrete_functions_size() > 0) {
          const auto it = og.concrete_functions().find(fn.concrete_functions(0));
          if (it != og.concrete_functions().end()) {
            text += ", " + value(it->second.canonicalized_input_signature()) + " -> " + value(it->second.output_signature());
          }
        }
        line("function " + child.local_name(), text);
      }
      if (functions > 10000) out += "  ... " + std::to_string(functions - 10000) + " functions not listed\n";
    }
    std::size_t variables = 0;
    for (const auto& node : og.nodes()) variables += node.has_variable();
    line("variables", std::to_string(variables));
    // Listed up to 10000 (a file's size says little about how many objects it holds;
    // docs/RELIABILITY.md, "Linear-time loads").
    constexpr std::size_t kMaxListed = 10000;
    std::size_t listed = 0;
    for (const auto& node : og.nodes()) {
      if (!node.has_variable()) continue;
      if (listed == kMaxListed) break;
      ++listed;
      out += "  " + node.variable().name().substr(0, 200) + " " +
             type_text(static_cast<int>(node.variable().dtype()), node.variable().shape()) +
             (node.variable().trainable() ? "" : " non-trainable") + "\n";
    }
    if (listed < variables) out += "  ... " + std::to_string(variables - listed) + " variables not listed\n";
    if (keras) {
      if (md.root.contains("model_config")) {
        line("class", md.root["model_config"].value("class_name", std::string("?")));
      } else if (md.root.contains("class_name") && md.root["class_name"].is_string()) {
        line("class", md.root["class_name"].get<std::string>() + " (subclassed: no config)");
      }
      if (md.root.contains("keras_version") && md.root["keras_version"].is_string()) {
        line("keras_version", md.root["keras_version"].get<std::string>());
      }
    }
    return out;
  }
};

}  // namespace

std::shared_ptr<Format> make_format() { return std::make_shared<SavedModelFormat>(); }

}  // namespace strata::savedmodel
