// The layers of a model revived from its traced functions (issue 19): one RevivedLayer per
// layer object of the SavedModel's object graph, with its Keras metadata (class, name,
// trainable, dtype), its variables under their attribute names, its tracked sub-layers, and
// its own traced call where the file holds one.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strata/config.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

class RevivedLayer final : public Layer {
 public:
  // `metadata`: the layer's Keras metadata (class_name, name, trainable, dtype, config).
  RevivedLayer(const std::string& class_name, const Config& metadata);
  // A weight under its attribute name ("kernel"), holding `value`.
  // `saved_name`: the variable's name in the file ("model/dense/kernel").
  Variable add_revived_weight(const std::string& local_name, const Tensor& value, bool trainable,
                              const std::string& saved_name = "");
  // The layer's traced call (inference, and training when traced), or why it has none.
  void set_call(std::optional<Graph> inference, std::optional<Graph> training);
  void set_no_call(std::string why) { no_call_ = std::move(why); }
  bool has_call() const noexcept { return inference_.has_value(); }
  // Tracks `child` as `name` (Layer::track, which checks the name against every child
  // tracked before it: quadratic in a file's 100000 children). ValueError for a name tracked.
  void track_revived(const std::string& name, std::shared_ptr<Layer> child);
  std::vector<TrackedChild> children() const override { return tracked_; }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  // The config the file holds (Keras's revived layers give it back too); ValueError when
  // it has none.
  Config get_config() const override;

 private:
  Config saved_config_;
  std::optional<Graph> inference_, training_;
  std::string no_call_;
  std::vector<TrackedChild> tracked_;
  std::set<std::string, std::less<>> tracked_names_;
};

// Keras metadata per object-graph node id: keras_metadata.pb's nodes, else the objects'
// user-object metadata. Nodes whose JSON does not parse are left out.
std::map<int, Config> read_node_metadata(const std::filesystem::path& dir, const tf::SavedModel& sm);

// Whether `node` is a Keras layer object (a model included), not a metric or a wrapper.
bool is_layer_node(const tf::SavedObject& node);

struct RevivedTree {
  // The root's layer children under their local names ("layer-0", "layer_with_weights-0",
  // a subclassed model's attribute names; "list/0" for lists), aliases included.
  std::vector<Layer::TrackedChild> children;
  // model.layers: "layer-<i>" in order of i where the root has them, else the root's
  // layer children in tracking order, each once.
  std::vector<std::shared_ptr<Layer>> layers;
  // Every revived layer with its object-graph node id, parents before children.
  std::vector<std::pair<std::shared_ptr<RevivedLayer>, int>> all;
};

// Revives the layers under the root (node 0). `make_variable(id, layer, local_name)` gives
// the variable of node `id` as a weight of `layer`; variables in `skip` (stateful layers'
// states) stay out of the layers.
RevivedTree revive_layers(const tf::SavedObjectGraph& og, const std::map<int, Config>& metadata,
                          const std::set<int>& skip,
                          const std::function<Variable(int, RevivedLayer&, const std::string&)>& make_variable);

}  // namespace strata::savedmodel
