// Layers: the building blocks of models, as in Keras. A layer owns weights (created with
// add_weight, usually in build()), may track child layers, computes its outputs in
// call() with ops, and describes itself with get_config(). Calling a layer builds it on
// first use from the input shapes. Calling it on symbolic tensors (Functional inputs)
// records a layer-call node instead of computing; a Functional model is a graph of such
// nodes.
//
// A layer class registered in the registry is constructed from its config; a class whose
// constructor takes a Config needs no separate from_config (register it with
// register_layer<T>, strata/plugin/layers.hpp).
//
// Weight order is Keras's: trainable weights (own, then each tracked child's, in
// tracking order), then non-trainable ones; a layer with trainable == false lists all of
// its weights (and its children's) as non-trainable. H5 files, get_weights() and
// optimizers depend on this order.
//
// Thread safety: call()/operator() on a built layer may run on many threads at once
// (inference). Building, set_trainable, set_weights and training need exclusive access.
#pragma once

#include "strata/export.hpp"
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/config.hpp"
#include "strata/constraints.hpp"
#include "strata/initializers.hpp"
#include "strata/regularizers.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

struct GraphNode;

// What a call sees besides its inputs.
struct CallContext {
  // Training mode (Dropout drops, BatchNormalization uses batch statistics).
  bool training = false;
  // One mask per input (undefined where none): bool tensors marking valid time steps.
  std::vector<Tensor> masks;
};

// Everything add_weight needs.
struct WeightSpec {
  std::string name;
  Shape shape;
  std::shared_ptr<Initializer> initializer;  // null: glorot_uniform (floats), zeros (others)
  bool trainable = true;
  std::shared_ptr<Regularizer> regularizer;
  std::shared_ptr<Constraint> constraint;
  DType dtype = DType::kInvalid;  // kInvalid: the layer's dtype
};

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  // `class_name` is the registered name this layer is written under ("Dense",
  // "my_package>CustomLayer"). Reads the base keys of `config`: name (default: a unique
  // snake_case name from the class name, "dense", "dense_1", ...), trainable, dtype,
  // batch_input_shape / batch_shape (Keras 3) / input_shape.
  explicit Layer(std::string class_name, const Config& config = Config::object());
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& class_name() const noexcept { return class_name_; }
  const std::string& name() const noexcept { return name_; }
  DType dtype() const noexcept { return dtype_; }
  bool trainable() const noexcept { return trainable_; }
  // Sets this layer's flag and every tracked child's, as Keras does.
  virtual void set_trainable(bool trainable);
  // The input shape given in the config (with the batch dimension), if any.
  const std::optional<Shape>& batch_input_shape() const noexcept { return batch_input_shape_; }

  // ---- calling ------------------------------------------------------------------------

  // Keras's __call__: builds on first use, runs call() under a name scope, computes
  // output masks. On symbolic inputs it records a layer-call node (Functional API).
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs, const CallContext& ctx = {}) const;
  Tensor operator()(const Tensor& input, const CallContext& ctx = {}) const;

  struct Outputs {
    std::vector<Tensor> tensors;
    std::vector<Tensor> masks;  // one per output (undefined where none)
  };
  Outputs call_with_masks(const std::vector<Tensor>& inputs, const CallContext& ctx = {}) const;

  // ---- for subclasses -----------------------------------------------------------------

  // Creates the weights for inputs of these shapes (batch dimension included, possibly
  // unknown). Called once, before the first call. Default: nothing.
  virtual void build(const std::vector<Shape>& input_shapes);
  // The computation, written in ops. Must not change the layer except through its
  // variables (BatchNormalization's moving statistics in training).
  virtual std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const = 0;
  // Output masks. Default: none when the layer does not support masking, the first input's
  // mask passed through when it does.
  virtual std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const;
  // call() and compute_mask() in one step. Containers (Sequential, Functional) override it
  // to compute outputs and masks in a single pass.
  virtual Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const;
  // Default: runs call() symbolically on placeholders of these shapes.
  virtual std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const;
  // The Keras config: the base keys (name, trainable, dtype, batch_input_shape when
  // given) followed by the layer's own. A layer whose class cannot be rebuilt from a
  // config (a subclassed model) throws ValueError naming the class.
  virtual Config get_config() const;
  // Preprocessing layers (Normalization, ...): computes the layer's state from `data`
  // in batches of `batch_size` samples, as Keras's adapt(). Default: ValueError (the
  // layer has nothing to adapt). Needs exclusive access, like training.
  virtual void adapt(const Tensor& data, std::int64_t batch_size = 32);
  // Whether masks pass through this layer unchanged (Keras supports_masking).
  bool supports_masking() const noexcept { return supports_masking_; }

  bool built() const noexcept { return built_.load(std::memory_order_acquire); }
  // Builds if not built yet. Thread safety: concurrent callers build once.
  void ensure_built(const std::vector<Shape>& input_shapes) const;
  // The input shapes the layer was built with (empty before).
  const std::vector<Shape>& build_input_shapes() const noexcept { return build_shapes_; }

  // ---- weights ------------------------------------------------------------------------

  Variable add_weight(const WeightSpec& spec);
  // The same with Keras's positional order; null initializer: glorot_uniform for floats.
  Variable add_weight(const std::string& name, const Shape& shape, std::shared_ptr<Initializer> initializer = nullptr,
                      bool trainable = true, std::shared_ptr<Regularizer> regularizer = nullptr,
                      std::shared_ptr<Constraint> constraint = nullptr, DType dtype = DType::kInvalid);
  // As add_weight(spec), but the variable's name is `variable_name` as it is, outside the
  // layer's scope (tf-keras's unnamed tf.Variable weights are all "Variable"); checkpoints
  // still track it as `spec.name`.
  Variable add_weight(const WeightSpec& spec, const std::string& variable_name);
  // Tracks a child layer under `name` (the name checkpoints use); lists become
  // name/0, name/1, ...
  void track(const std::string& name, std::shared_ptr<Layer> child);
  void track(const std::string& name, const std::vector<std::shared_ptr<Layer>>& children);

  struct TrackedWeight {
    std::string name;  // as given to add_weight ("kernel")
    Variable variable;
    std::shared_ptr<Regularizer> regularizer;
    std::shared_ptr<Constraint> constraint;
  };
  struct TrackedChild {
    std::string name;  // "dense_layers/0"
    std::shared_ptr<Layer> layer;
  };
  // This layer's own weights in creation order, and its tracked children.
  const std::vector<TrackedWeight>& own_weights() const noexcept { return own_weights_; }
  virtual std::vector<TrackedChild> children() const;

  // Layers: trainable then non-trainable. Models (Keras's Model.weights): each layer's
  // weights in model.layers order, then the model's own.
  virtual std::vector<Variable> weights() const;
  virtual std::vector<Variable> trainable_weights() const;
  virtual std::vector<Variable> non_trainable_weights() const;
  std::int64_t count_params() const;
  // Moves every weight of this layer (and its children) to `device`, and for a compiled
  // model its optimizer's variables and its metrics' states too (Model overrides it), so
  // training resumes there. A subclass that owns state outside weights() overrides it and
  // calls Layer::to first. Needs exclusive access. Tensors given to the layer afterwards
  // must live there.
  virtual void to(const Device& device);
  // Values of weights(), copied to the host.
  std::vector<Tensor> get_weights() const;
  // Assigns weights() in order. ValueError naming the layer when the count differs,
  // ShapeError naming the weight when a shape differs; nothing is assigned then.
  void set_weights(const std::vector<Tensor>& values);

  // ---- losses -------------------------------------------------------------------------

  // Adds a loss term (a scalar) computed in call(). It goes to the LossCollector active
  // on this thread (the training loop opens one around each forward pass); without one
  // (plain inference) it is dropped.
  void add_loss(const Tensor& loss) const;
  // The penalties of the regularizers of this layer's weights and its children's.
  std::vector<Tensor> regularization_losses() const;

  // ---- Functional bookkeeping -----------------------------------------------------------

  // Layer-call nodes recorded by calling this layer on symbolic tensors, oldest first.
  std::vector<std::shared_ptr<GraphNode>> inbound_nodes() const;
  // The symbolic input/output of the layer's only call (ValueError when it was called
  // more than once or never: use inbound_nodes()).
  Tensor input() const;
  Tensor output() const;
  void note_inbound_node(const std::shared_ptr<GraphNode>& node) const;

 protected:
  void set_supports_masking(bool value) noexcept { supports_masking_ = value; }
  // Marks the layer built without calling build() (layers that build themselves).
  void set_built(const std::vector<Shape>& input_shapes);

 private:
  std::string class_name_;
  std::string name_;
  DType dtype_ = DType::kFloat32;
  bool trainable_ = true;
  bool supports_masking_ = false;
  std::optional<Shape> batch_input_shape_;
  mutable std::atomic<bool> built_{false};
  mutable std::mutex build_mutex_;
  std::vector<Shape> build_shapes_;
  std::vector<TrackedWeight> own_weights_;
  std::vector<TrackedChild> children_;
  mutable std::mutex nodes_mutex_;
  mutable std::vector<std::weak_ptr<GraphNode>> inbound_nodes_;
};

// Receives the add_loss() terms of every layer called on this thread while it lives.
// Collectors nest; the innermost receives.
class LossCollector {
 public:
  LossCollector();
  ~LossCollector();
  LossCollector(const LossCollector&) = delete;
  LossCollector& operator=(const LossCollector&) = delete;
  const std::vector<Tensor>& losses() const noexcept { return losses_; }
  // Whether one is alive on this thread (add_loss terms are kept, not dropped).
  static bool active() noexcept;

 private:
  friend class Layer;
  std::vector<Tensor> losses_;
};

// Builds a registered layer from its class name and config (through custom objects).
std::shared_ptr<Layer> make_layer(std::string_view class_name, const Config& config = Config::object(),
                                  const CustomObjects* custom_objects = nullptr);
// {"class_name": ..., "config": ...} of a layer (Keras's layers.serialize), and back.
Config serialize_layer(const Layer& layer);
std::shared_ptr<Layer> deserialize_layer(const Config& value, const CustomObjects* custom_objects = nullptr);

// Keras's snake_case of a class name ("Conv2D" -> "conv2d", "SimpleRNN" -> "simple_rnn").
std::string to_snake_case(std::string_view class_name);
// A name not handed out before in this session: "dense", then "dense_1", ... (Keras's
// unique_object_name); with zero_based false: "input_1", "input_2", ...
std::string unique_layer_name(std::string_view base, bool zero_based = true);
// Forgets the names handed out so far (Keras's clear_session).
void clear_session();

}  // namespace strata

STRATA_API_END
