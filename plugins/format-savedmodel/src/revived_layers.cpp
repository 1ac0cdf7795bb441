// The layers of a model revived from its traced functions (issue 19, revived_layers.hpp).
#include "revived_layers.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

#include "strata/error.hpp"
#include "strata/initializers.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"

namespace strata::savedmodel {

Config parse_metadata(const std::string& json, const std::string& where);  // read.cpp

namespace {

Config base_config(const Config& md) {
  Config c = Config::object();
  if (md.contains("name") && md["name"].is_string()) c["name"] = md["name"];
  if (md.contains("trainable") && md["trainable"].is_boolean()) c["trainable"] = md["trainable"];
  if (md.contains("dtype") && md["dtype"].is_string()) c["dtype"] = md["dtype"];
  return c;
}

// Children that are Keras's bookkeeping, not a layer's weights or sub-layers.
bool bookkeeping(const std::string& local_name) {
  static const std::set<std::string> names{"variables", "trainable_variables", "non_trainable_variables",
                                           "regularization_losses", "keras_api", "__call__",
                                           "call_and_return_all_conditional_losses",
                                           "call_and_return_conditional_losses", "_default_save_signature",
                                           "optimizer", "signatures", "layer_metrics", "metrics", "layers",
                                           "layer_regularization_losses", "save_counter"};
  return names.count(local_name) > 0;
}

bool is_wrapper(const tf::SavedObject& node) {
  return node.has_user_object() && (node.user_object().identifier() == "trackable_list_wrapper" ||
                                    node.user_object().identifier() == "trackable_dict_wrapper" ||
                                    node.user_object().identifier() == "trackable_tuple_wrapper");
}

}  // namespace

RevivedLayer::RevivedLayer(const std::string& class_name, const Config& metadata)
    : Layer(class_name, base_config(metadata)),
      saved_config_(metadata.contains("config") ? metadata["config"] : Config()) {}

Variable RevivedLayer::add_revived_weight(const std::string& local_name, const Tensor& value, bool trainable,
                                          const std::string& saved_name) {
  // The saved name's scopes above the layer ("sub/" of "sub/dense_1/kernel": a layer built
  // inside a model's call) are kept, so the weights are named as the original's.
  const std::string suffix = name() + "/" + local_name;
  std::optional<NameScope> scope;
  if (saved_name.size() > suffix.size() + 1 && saved_name.compare(saved_name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
      saved_name[saved_name.size() - suffix.size() - 1] == '/') {
    scope.emplace(saved_name.substr(0, saved_name.size() - suffix.size() - 1));
  }
  WeightSpec spec;
  spec.name = local_name;
  spec.shape = value.shape();
  spec.dtype = value.dtype();
  spec.trainable = trainable;
  spec.initializer = get_initializer(Config("zeros"));
  Variable v = add_weight(spec);
  v.assign(value);
  return v;
}

void RevivedLayer::track_revived(const std::string& name, std::shared_ptr<Layer> child) {
  STRATA_CHECK(child != nullptr, ValueError, "layer '", this->name(), "': cannot track a null layer as '", name, "'");
  STRATA_CHECK(tracked_names_.insert(name).second, ValueError, "layer '", this->name(), "' already tracks a child named '",
               name, "'");
  tracked_.push_back({name, std::move(child)});
}

void RevivedLayer::set_call(std::optional<Graph> inference, std::optional<Graph> training) {
  std::vector<Shape> shapes;
  if (inference) {
    for (const auto& in : inference->inputs()) shapes.push_back(in.shape());
  }
  inference_ = std::move(inference);
  training_ = std::move(training);
  set_built(shapes);
}

std::vector<Tensor> RevivedLayer::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  STRATA_CHECK(inference_.has_value(), ValueError, "layer '", name(), "' (class '", class_name(),
               "') was revived from a SavedModel without its class and the file holds no traced call for it",
               no_call_.empty() ? "" : " (", no_call_, no_call_.empty() ? "" : ")",
               "; load the class (a plugin or custom_objects) to call it");
  const Graph& g = ctx.training && training_ ? *training_ : *inference_;
  STRATA_CHECK(inputs.size() == g.inputs().size(), ValueError, "layer '", name(), "' (revived class '", class_name(),
               "') was traced with ", g.inputs().size(), " input(s) but is called with ", inputs.size());
  return g.run(inputs);
}

std::vector<Shape> RevivedLayer::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  STRATA_CHECK(inference_.has_value(), ValueError, "layer '", name(), "' (class '", class_name(),
               "') was revived without a traced call, so its output shape is unknown");
  std::vector<Shape> out;
  const bool batch = !input_shapes.empty() && input_shapes[0].has_known_rank() && input_shapes[0].rank() > 0;
  for (const auto& o : inference_->outputs()) {
    Shape s = o.shape();
    if (batch && s.has_known_rank() && s.rank() > 0) {
      std::vector<std::int64_t> dims = s.dims();
      dims[0] = input_shapes[0].dims()[0];
      s = Shape(dims);
    }
    out.push_back(s);
  }
  return out;
}

Config RevivedLayer::get_config() const {
  STRATA_CHECK(saved_config_.is_object(), ValueError, "layer '", name(), "' was revived from traced functions (class '",
               class_name(), "') and its SavedModel holds no config for it");
  return saved_config_;
}

std::map<int, Config> read_node_metadata(const std::filesystem::path& dir, const tf::SavedModel& sm) {
  std::map<int, Config> out;
  const auto add = [&](int id, const std::string& json, const std::string& where) {
    if (json.empty()) return;
    try {
      Config c = parse_metadata(json, where);
      if (c.is_object()) out[id] = std::move(c);
    } catch (const strata::Error&) {
      // A node whose metadata does not parse revives with defaults.
    }
  };
  const std::filesystem::path file = dir / "keras_metadata.pb";
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    keras::SavedMetadata md;
    if (md.ParseFromString(read_file(file, std::size_t{1} << 31))) {
      for (const auto& node : md.nodes()) add(node.node_id(), node.metadata(), file.string());
    }
  }
  const auto& og = sm.meta_graphs(0).object_graph_def();
  for (int i = 0; i < og.nodes_size(); ++i) {
    if (!out.count(i) && og.nodes(i).has_user_object()) add(i, og.nodes(i).user_object().metadata(), dir.string());
  }
  return out;
}

bool is_layer_node(const tf::SavedObject& node) {
  if (!node.has_user_object()) return false;
  const std::string& id = node.user_object().identifier();
  return id.rfind("_tf_keras_", 0) == 0 && id != "_tf_keras_metric";
}

RevivedTree revive_layers(const tf::SavedObjectGraph& og, const std::map<int, Config>& metadata,
                          const std::set<int>& skip,
                          const std::function<Variable(int, RevivedLayer&, const std::string&)>& make_variable) {
  RevivedTree tree;
  std::map<int, std::shared_ptr<RevivedLayer>> done;
  const auto valid = [&](int id) { return id > 0 && id < og.nodes_size(); };
  // The layer children of `node` under their local names, lists flattened to "name/i".
  const auto layer_children = [&](const tf::SavedObject& node) {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& c : node.children()) {
      if (bookkeeping(c.local_name()) || !valid(c.node_id())) continue;
      const auto& child = og.nodes(c.node_id());
      if (is_layer_node(child)) {
        out.emplace_back(c.local_name(), c.node_id());
      } else if (is_wrapper(child)) {
        for (const auto& g : child.children()) {
          if (valid(g.node_id()) && is_layer_node(og.nodes(g.node_id()))) {
            out.emplace_back(c.local_name() + "/" + g.local_name(), g.node_id());
          }
        }
      }
    }
    return out;
  };
  constexpr int kMaxDepth = 256;  // nested layers; a file nesting deeper is refused, not a stack overflow
  int depth = 0;
  std::function<std::shared_ptr<RevivedLayer>(int, const std::string&)> revive = [&](int id, const std::string& local) {
    if (const auto it = done.find(id); it != done.end()) return it->second;
    STRATA_CHECK(depth < kMaxDepth, FormatError, "the SavedModel's layers nest more than ", kMaxDepth,
                 " deep (at object ", id, ", '", local, "')");
    const auto md_it = metadata.find(id);
    const Config md = md_it != metadata.end() ? md_it->second : Config::object();
    Config base = md;
    if (!base.contains("name") || !base["name"].is_string()) base["name"] = local;
    const std::string cls = md.contains("class_name") && md["class_name"].is_string() ? md["class_name"].get<std::string>()
                                                                                      : std::string("Layer");
    std::shared_ptr<RevivedLayer> layer;
    try {
      layer = std::make_shared<RevivedLayer>(cls, base);
    } catch (const strata::Error&) {
      // A dtype or name the base layer refuses (a mixed-precision policy name): defaults.
      Config plain = Config::object();
      plain["name"] = base["name"];
      layer = std::make_shared<RevivedLayer>(cls, plain);
    }
    done.emplace(id, layer);
    tree.all.emplace_back(layer, id);
    const auto& node = og.nodes(id);
    for (const auto& c : node.children()) {
      if (bookkeeping(c.local_name()) || !valid(c.node_id()) || skip.count(c.node_id())) continue;
      if (og.nodes(c.node_id()).has_variable()) (void)make_variable(c.node_id(), *layer, c.local_name());
    }
    ++depth;
    for (const auto& [name, child] : layer_children(node)) layer->track_revived(name, revive(child, name));
    --depth;
    return layer;
  };
  if (og.nodes_size() == 0) return tree;
  std::map<int, std::shared_ptr<Layer>> numbered;  // "layer-<i>"
  for (const auto& [name, child] : layer_children(og.nodes(0))) {
    auto layer = revive(child, name);
    tree.children.push_back({name, layer});
    if (name.rfind("layer-", 0) == 0) {
      char* end = nullptr;
      const long i = std::strtol(name.c_str() + 6, &end, 10);
      if (end != nullptr && *end == '\0' && i >= 0) numbered[static_cast<int>(i)] = layer;
    }
  }
  if (!numbered.empty()) {
    for (const auto& entry : numbered) tree.layers.push_back(entry.second);
  } else {
    std::set<const Layer*> listed;  // a layer under two names is listed once
    for (const auto& c : tree.children) {
      if (listed.insert(c.layer.get()).second) tree.layers.push_back(c.layer);
    }
  }
  return tree;
}

}  // namespace strata::savedmodel
