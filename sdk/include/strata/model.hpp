// Models: layers with a graph of layers inside, as in Keras.
//  - Sequential: a stack of layers, each feeding the next.
//  - Functional: built from Input() placeholders and layers called on symbolic tensors;
//    multiple inputs and outputs, shared layers, nested models, sub-models.
//  - Subclassed: a C++ class derived from Model that tracks its layers and overrides
//    call(); its architecture cannot be saved as a config (as in Keras).
// Sequential and Functional configs are Keras's JSON configs, key for key.
//
// Thread safety: predict() and calling a built model may run on many threads at once.
#pragma once

#include "strata/export.hpp"
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/format.hpp"
#include "strata/layer.hpp"
#include "strata/losses.hpp"
#include "strata/metrics.hpp"
#include "strata/optimizer.hpp"
#include "strata/training.hpp"

STRATA_API_BEGIN

namespace strata {

class Model : public Layer {
 public:
  explicit Model(std::string class_name, const Config& config = Config::object());
  ~Model() override;

  // model.layers: Sequential - its layers (without the InputLayer); Functional - every
  // layer of the graph in topological order, InputLayers included; subclassed - the
  // tracked children.
  virtual std::vector<std::shared_ptr<Layer>> layers() const;
  // By name or index; ValueError naming what is available when there is no such layer.
  std::shared_ptr<Layer> get_layer(std::string_view name) const;
  std::shared_ptr<Layer> get_layer(std::size_t index) const;

  // Runs the model in inference mode on `inputs` (one per model input), in batches of
  // `batch_size` along the first dimension, and concatenates the outputs.
  std::vector<Tensor> predict(const std::vector<Tensor>& inputs, std::int64_t batch_size = 32) const;
  Tensor predict(const Tensor& input, std::int64_t batch_size = 32) const;

  // Keras's model.save / save_weights / load_weights (see strata/saving.hpp for the
  // format rules).
  void save(const std::filesystem::path& path, const SaveOptions& options = {}) const;
  void save_weights(const std::filesystem::path& path, const SaveOptions& options = {}) const;
  LoadStatus load_weights(const std::filesystem::path& path, const LoadOptions& options = {});

  // Keras's summary table (tf-keras 2.x layout); line_length 0: Keras's default (65 for
  // sequential-like models, 98 with a "Connected to" column otherwise).
  std::string summary(std::size_t line_length = 0) const;

  // The symbolic inputs/outputs of a graph model (empty for subclassed models).
  virtual std::vector<Tensor> inputs() const;
  virtual std::vector<Tensor> outputs() const;

  std::vector<TrackedChild> children() const override;
  std::vector<Variable> weights() const override;
  // Layer::to, and for a compiled model its optimizer's variables and metric states too.
  void to(const Device& device) override;
  std::vector<Variable> trainable_weights() const override;
  std::vector<Variable> non_trainable_weights() const override;
  // Subclassed models cannot describe their architecture: ValueError naming the class.
  Config get_config() const override;

  // ---- training (Keras compile / fit / evaluate) -------------------------------------

  // `losses`: one per output, or one for every output. `metrics`: per output (a single
  // inner list applies to every output). `loss_weights`: per output (default 1).
  void compile(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<Loss>> losses,
               std::vector<std::vector<std::shared_ptr<Metric>>> metrics = {}, std::vector<double> loss_weights = {});
  // Keras-style: names or serialised dicts ("adam", "mse", ["accuracy"]); a loss or
  // metric list may also be a dict keyed by output name. Throws UnknownObjectError.
  void compile(const Config& optimizer, const Config& loss, const Config& metrics = Config(),
               const Config& loss_weights = Config());
  bool is_compiled() const noexcept;
  const std::shared_ptr<Optimizer>& optimizer() const;
  // The H5 training_config (loss, metrics, weighted_metrics, loss_weights,
  // optimizer_config) as tf-keras writes it. ValueError when not compiled.
  Config training_config() const;
  // Keras 3's compile_config (optimizer, loss, loss_weights, metrics, weighted_metrics,
  // run_eagerly, steps_per_execution, jit_compile), what a `.keras` archive's config.json
  // holds; names given to compile stay names. ValueError when not compiled.
  Config compile_config() const;

  // One gradient step on a batch: forward in training mode, loss (compiled losses +
  // add_loss terms + weight regularization), gradients, optimizer update, constraints,
  // metrics. Returns the logs (loss and metrics so far). Override to customise.
  virtual Logs train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight);
  // Forward in inference mode, loss and metrics, no update.
  virtual Logs test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight);

  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const FitOptions& options = {});
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, std::int64_t batch_size = 32,
                int verbose = 0);
  Logs evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size = 32, int verbose = 0);
  // One step on exactly this batch (metrics are reset first, as Keras does by default).
  Logs train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight = Tensor());
  Logs test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight = Tensor());
  std::vector<Tensor> predict_on_batch(const std::vector<Tensor>& x) const;

  // The loss tracker ("loss") and every compiled metric, in the order logs list them.
  std::vector<std::shared_ptr<Metric>> metrics() const;
  void reset_metrics();
  // Set by callbacks (EarlyStopping) to end fit after the current epoch.
  bool stop_training = false;

  // ---- model-level losses and metrics (Keras's model.add_loss / model.add_metric) --------

  // Layer::add_loss(tensor) const is what a call() uses; the overloads below are the
  // model-level ones, called from outside call() on a (non-const) model.
  using Layer::add_loss;
  // A symbolic scalar of this Functional model's graph (computed by layers from its
  // tensors): as in tf-keras, an "AddLoss" layer is called on it and joins the model, so the
  // term is part of the config and saved and restored with it (H5, SavedModel, JSON).
  // fit/evaluate add it to the loss. ValueError for an eager tensor or a model that is not
  // Functional (a subclassed model calls add_loss in its call()).
  void add_loss(const Tensor& symbolic_loss);
  // A zero-argument function (Keras's model.add_loss(lambda: ...)), evaluated at every
  // training and evaluation step and added to the loss. Code, so no file holds it: saving a
  // model that has one warns (the guide: "external losses ... are not saved").
  void add_loss(std::function<Tensor()> loss);
  // tf-keras 2.x model.add_metric(tensor, name=...) on a Functional model: an "AddMetric"
  // layer is called on `symbolic_value` and joins the model (saved like add_loss); fit and
  // evaluate report `name`, the mean over the batches (aggregation "mean", the only one
  // tf-keras accepts for symbolic values besides null).
  void add_metric(const Tensor& symbolic_value, const std::string& name, const std::string& aggregation = "mean");
  // The functions given to add_loss(std::function), in order.
  std::vector<std::function<Tensor()>> loss_functions() const;

  struct TrainingState;

 private:
  std::shared_ptr<TrainingState> training_;
};

class Sequential : public Model {
 public:
  // An empty stack, or one made of `layers`; a first layer with an input shape (or an
  // InputLayer) builds the model at once.
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers = {}, const std::string& name = "");
  // From a Keras config ({"name": ..., "layers": [...]} or the legacy bare list).
  explicit Sequential(const Config& config);

  void add(std::shared_ptr<Layer> layer);
  // Removes the last layer. ValueError when there is none.
  void pop();
  std::vector<std::shared_ptr<Layer>> layers() const override;
  std::vector<TrackedChild> children() const override;
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Config get_config() const override;
  std::vector<Tensor> inputs() const override;
  std::vector<Tensor> outputs() const override;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
  std::vector<Tensor> graph_inputs_, graph_outputs_;  // symbolic, once built with a known input shape
};

// A placeholder for a Functional model: `shape` excludes the batch dimension.
Tensor Input(const Shape& shape, const std::string& name = "", DType dtype = DType::kFloat32,
             std::optional<std::int64_t> batch_size = std::nullopt);

class Functional : public Model {
 public:
  Functional(std::vector<Tensor> inputs, std::vector<Tensor> outputs, const std::string& name = "");
  // From a Keras config ({"name", "layers", "input_layers", "output_layers"}), in either
  // Keras 2 or Keras 3 form.
  explicit Functional(const Config& config);
  ~Functional() override;

  std::vector<std::shared_ptr<Layer>> layers() const override;
  std::vector<TrackedChild> children() const override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  Config get_config() const override;
  std::vector<Tensor> inputs() const override;
  std::vector<Tensor> outputs() const override;

  struct Impl;

 private:
  friend class Model;  // add_loss / add_metric join their layers to the graph
  std::unique_ptr<Impl> impl_;
};

// A model from {"class_name": "Sequential"|"Functional"|"Model"|<registered model>,
// "config": ...}. Every class the config names is resolved first; all misses are
// reported in one UnknownObjectError. The result has fresh weights and no compile state.
std::shared_ptr<Model> model_from_config(const Config& config, const CustomObjects* custom_objects = nullptr);
// {"class_name": ..., "config": ...} of a model; ValueError for subclassed models.
Config model_config(const Model& model);
// The model as Keras 3 serializes it (the config.json of a `.keras` archive): {"module",
// "class_name", "config", "registered_name", "build_config"} and, when `include_compile` and
// the model is compiled, "compile_config" (Model::compile_config). Layers are written in
// Keras 3's dialect (DTypePolicy dtypes, {"args", "kwargs"} nodes, Keras 3's argument names;
// docs/FORMATS.md). model_from_config reads it. ValueError for subclassed models and for
// layer settings Keras 3 cannot express (naming the layer).
Config model_config_keras3(const Model& model, bool include_compile = true);
// A new model with the same architecture and fresh weights (Keras clone_model).
std::shared_ptr<Model> clone_model(const Model& model, const CustomObjects* custom_objects = nullptr);

}  // namespace strata

STRATA_API_END
