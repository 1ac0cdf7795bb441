#include "layer_metadata.hpp"

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/saving.hpp"
#include "strata/stateful.hpp"

namespace strata::savedmodel {

namespace {

// Keras's `layer.stateful`: the layer or a layer it tracks (a Bidirectional's copies, a
// model's layers) carries state. tf-keras's load_model takes it from the metadata, and only
// a stateful RNN gets its states back from keras_api/states.
bool is_stateful(const Layer& layer, std::set<const Layer*>& seen) {
  if (!seen.insert(&layer).second) return false;
  if (const auto* s = dynamic_cast<const StateVariablesLayer*>(&layer); s && !s->state_variables().empty()) return true;
  for (const auto& c : layer.children()) {
    if (c.layer && is_stateful(*c.layer, seen)) return true;
  }
  return false;
}


using Graph = CheckpointObjectGraph;

int child_named(const Graph& graph, int node, const std::string& name) {
  for (const auto& c : graph.nodes[static_cast<std::size_t>(node)].children) {
    if (c.local_name == name) return c.node_id;
  }
  return -1;
}

bool is_graph_model(const Layer& layer) {
  return dynamic_cast<const Sequential*>(&layer) != nullptr ||
         dynamic_cast<const Functional*>(&layer) != nullptr;
}

// Which layer each node holds, found the way the checkpoint's object graph was made:
// Sequential/Functional models name their layers "layer-<i>" (model.layers order), other
// layers their tracked children (a '/' in a child's name is a list node on the way).
void map_layers(const Layer& layer, int node, const Graph& graph, std::map<int, const Layer*>& out) {
  if (node < 0 || static_cast<std::size_t>(node) >= graph.nodes.size() || out.count(node) != 0) return;
  out.emplace(node, &layer);
  if (is_graph_model(layer)) {
    const auto layers = static_cast<const Model&>(layer).layers();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      map_layers(*layers[i], child_named(graph, node, "layer-" + std::to_string(i)), graph, out);
    }
    return;
  }
  for (const auto& child : layer.children()) {
    int at = node;
    std::size_t start = 0;
    for (std::size_t slash = child.name.find('/'); at >= 0 && slash != std::string::npos;
         slash = child.name.find('/', start)) {
      at = child_named(graph, at, child.name.substr(start, slash - start));
      start = slash + 1;
    }
    if (at >= 0) map_layers(*child.layer, child_named(graph, at, child.name.substr(start)), graph, out);
  }
}

// Dotted paths from the root ("root.layer_with_weights-0"), breadth first as TensorFlow
// names them: the first path that reaches a node is its path.
std::vector<std::string> node_paths(const tf::SavedObjectGraph& objects) {
  std::vector<std::string> paths(static_cast<std::size_t>(objects.nodes_size()));
  if (paths.empty()) return paths;
  paths[0] = "root";
  std::deque<int> queue{0};
  std::vector<bool> seen(paths.size(), false);
  seen[0] = true;
  while (!queue.empty()) {
    const int at = queue.front();
    queue.pop_front();
    for (const auto& c : objects.nodes(at).children()) {
      const auto id = static_cast<std::size_t>(c.node_id());
      if (id >= paths.size() || seen[id]) continue;
      seen[id] = true;
      paths[id] = paths[static_cast<std::size_t>(at)] + "." + c.local_name();
      queue.push_back(c.node_id());
    }
  }
  return paths;
}

Config shape_json(const Shape& shape) {
  Config items = Config::array();
  for (const std::int64_t d : shape.dims()) items.push_back(d < 0 ? Config() : Config(d));
  Config s = Config::object();
  s["class_name"] = "TensorShape";
  s["items"] = items;
  return s;
}

}  // namespace

Config build_input_shape_json(const Layer& layer) {
  const auto& shapes = layer.build_input_shapes();
  if (!layer.built() || shapes.empty()) return Config();
  for (const auto& s : shapes) {
    if (!s.has_known_rank()) return Config();
  }
  if (shapes.size() == 1) return shape_json(shapes[0]);
  Config list = Config::array();
  for (const auto& s : shapes) list.push_back(shape_json(s));
  return list;
}

std::map<int, const Layer*> layer_nodes(const Model& model, const CheckpointObjectGraph& graph) {
  std::map<int, const Layer*> layers;
  map_layers(model, 0, graph, layers);
  return layers;
}

void add_layer_metadata(const Model& model, const CheckpointObjectGraph& graph, tf::SavedObjectGraph& objects,
                        keras::SavedMetadata& metadata) {
  std::map<int, const Layer*> layers;
  map_layers(model, 0, graph, layers);
  const auto paths = node_paths(objects);
  for (const auto& [node, layer] : layers) {
    if (node == 0 || node >= objects.nodes_size() || paths[static_cast<std::size_t>(node)].empty()) continue;
    Config serialized;
    const auto* as_model = dynamic_cast<const Model*>(layer);
    try {
      serialized = as_model ? model_config(*as_model) : serialize_layer(*layer);
    } catch (const ValueError&) {
      serialized = Config();  // no config (subclassed): tf-keras then needs the class
    }
    const bool input_layer = layer->class_name() == "InputLayer";
    Config m = Config::object();
    const std::string class_name =
        serialized.is_object() ? serialized["class_name"].get<std::string>() : layer->class_name();
    if (input_layer) {
      // tf-keras's InputLayer metadata: its config plus the fields it repeats.
      m["class_name"] = class_name;
      m["name"] = layer->name();
      m["dtype"] = std::string(dtype_name(layer->dtype()));
      m["sparse"] = false;
      m["ragged"] = false;
      if (serialized.is_object() && serialized["config"].contains("batch_input_shape")) {
        m["batch_input_shape"] = serialized["config"]["batch_input_shape"];
      }
    } else {
      m["name"] = layer->name();
      m["trainable"] = layer->trainable();
      m["dtype"] = std::string(dtype_name(layer->dtype()));
      m["batch_input_shape"] = Config();
      std::set<const Layer*> seen;
      m["stateful"] = is_stateful(*layer, seen);
      m["must_restore_from_config"] = false;
      m["autocast"] = true;
      m["class_name"] = class_name;
    }
    if (serialized.is_object()) m["config"] = serialized["config"];
    std::string identifier = "_tf_keras_layer";
    if (input_layer) {
      identifier = "_tf_keras_input_layer";
    } else if (as_model != nullptr) {
      identifier = class_name == "Sequential" ? "_tf_keras_sequential"
                   : serialized.is_object()   ? "_tf_keras_network"
                                              : "_tf_keras_model";
      m["is_graph_network"] = is_graph_model(*layer);
    }
    if (!input_layer) {
      const Config shape = build_input_shape_json(*layer);
      if (!shape.is_null()) m["build_input_shape"] = shape;
    }
    auto* n = metadata.add_nodes();
    n->set_node_id(node);
    n->set_node_path(paths[static_cast<std::size_t>(node)]);
    n->set_identifier(identifier);
    n->set_metadata(to_python_json(m));
    n->mutable_version()->set_producer(2);
    n->mutable_version()->set_min_consumer(1);
    objects.mutable_nodes(node)->mutable_user_object()->set_identifier(identifier);
  }
}

}  // namespace strata::savedmodel
