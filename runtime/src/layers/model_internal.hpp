// Private to the runtime: the InputLayer and helpers shared by the model classes.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::internal {

class InputLayer final : public Layer {
 public:
  explicit InputLayer(const Config& config);
  // The layer's placeholder (made once, on first use).
  Tensor tensor() const;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Config get_config() const override;

 private:
  static Config with_default_name(const Config& config);
  bool sparse_ = false;
  bool ragged_ = false;
  std::optional<bool> optional_;  // tf-keras 2.21's "optional", when the config had it
  mutable std::mutex mutex_;
  mutable std::weak_ptr<GraphNode> node_;
};

std::shared_ptr<InputLayer> make_input_layer(const Shape& batch_shape, const std::string& name, DType dtype);

// A Sequential or Functional model with a graph of layer calls (Keras _is_graph_network).
bool is_graph_model(const Layer& layer);
// The layer-call nodes belonging to a graph model (empty for other models).
std::unordered_set<const GraphNode*> model_nodes(const Model& model);
// What summary() shows for the class ("Dense", "Functional", "CustomModel").
std::string python_class_name(const Layer& layer);
bool summary_is_sequential_like(const Model& model);
std::string summary_output_shape(const Layer& layer, const std::unordered_set<const GraphNode*>& model_nodes,
                                 const std::function<std::string(const Shape&)>& fmt);
std::string summary_connections(const Layer& layer, const std::unordered_set<const GraphNode*>& model_nodes);

// Keras's H5 config dialects. The top-level model writes its layers in the legacy
// {"class_name", "config"} form; a Functional model passes that on to the graph models
// nested in it, a Sequential model does not, and every other nested model writes its
// layers in the newer form {"module", "class_name", "config", "registered_name",
// "build_config"} — which is what tf-keras 2.x's H5 files contain.
bool legacy_children();
class ChildrenDialectScope {
 public:
  explicit ChildrenDialectScope(bool legacy);
  ~ChildrenDialectScope();
  ChildrenDialectScope(const ChildrenDialectScope&) = delete;
  ChildrenDialectScope& operator=(const ChildrenDialectScope&) = delete;
};
// One layer entry of a model config, in the legacy or the newer form; `children_legacy`
// is the dialect the layer itself (when it is a model) uses for its own layers.
Config serialize_child_layer(const Layer& layer, bool legacy, bool children_legacy);

// Registers InputLayer, Sequential, Functional (and "Model", the pre-2.4 name).
void register_model_classes(Registrar& r);

}  // namespace strata::internal
