#include <algorithm>

#include "layers/config_util.hpp"
#include "layers/keras3_dialect.hpp"
#include "layers/model_internal.hpp"

namespace strata {
namespace {

Config named(const std::string& name, const char* base) {
  Config c = Config::object();
  c["name"] = name.empty() ? unique_layer_name(base) : name;
  return c;
}

}  // namespace

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers, const std::string& name)
    : Model("Sequential", named(name, "sequential")) {
  for (auto& l : layers) add(std::move(l));
}

Sequential::Sequential(const Config& config)
    : Model("Sequential", config.is_object() ? Config{{"name", internal::get_string(config, "name", "")}}
                                             : Config::object()) {
  auto frame = ErrorContext::push("building Sequential model '", name(), "' from its config");
  const Config* list = config.is_array() ? &config : internal::find_key(config, "layers");
  STRATA_CHECK(list != nullptr && list->is_array(), FormatError, "a Sequential config needs a \"layers\" list");
  for (const auto& entry : *list) add(deserialize_layer(entry));
  if (!built()) {
    if (const Config* shape = internal::find_key(config, "build_input_shape")) {
      build({internal::shape_from_json(*shape, "build_input_shape")});
    }
  }
}

void Sequential::add(std::shared_ptr<Layer> layer) {
  STRATA_CHECK(layer != nullptr, ValueError, "Sequential '", name(), "': cannot add a null layer");
  if (auto* input = dynamic_cast<internal::InputLayer*>(layer.get())) {
    STRATA_CHECK(layers_.empty() && graph_inputs_.empty(), ValueError, "Sequential '", name(),
                 "': an InputLayer can only come first");
    graph_inputs_ = {input->tensor()};
    graph_outputs_ = graph_inputs_;
    set_built({*input->batch_input_shape()});
    return;
  }
  for (const auto& l : layers_) {
    STRATA_CHECK(l->name() != layer->name(), ValueError, "Sequential '", name(), "' already has a layer named '",
                 layer->name(), "'; layer names must be unique in a model");
  }
  if (layers_.empty() && graph_inputs_.empty() && layer->batch_input_shape()) {
    auto input = internal::make_input_layer(*layer->batch_input_shape(), layer->name() + "_input", layer->dtype());
    graph_inputs_ = {input->tensor()};
    graph_outputs_ = graph_inputs_;
  }
  layers_.push_back(layer);
  if (!graph_outputs_.empty()) {
    auto frame = ErrorContext::push("adding layer '", layer->name(), "' to Sequential model '", name(), "'");
    auto out = (*layer)(graph_outputs_);
    STRATA_CHECK(out.size() == 1, ValueError, "layer '", layer->name(),
                 "' has several outputs; Sequential models need one output per layer (use a Functional model)");
    graph_outputs_ = out;
    set_built({graph_inputs_[0].shape()});
  }
}

void Sequential::pop() {
  STRATA_CHECK(!layers_.empty(), ValueError, "Sequential '", name(), "' has no layers to pop");
  layers_.pop_back();
  if (!graph_inputs_.empty()) {
    // Rebuild the graph of the remaining layers (their old nodes stay valid).
    graph_outputs_ = graph_inputs_;
    for (const auto& l : layers_) graph_outputs_ = (*l)(graph_outputs_);
  }
}

std::vector<std::shared_ptr<Layer>> Sequential::layers() const { return layers_; }

void Sequential::build(const std::vector<Shape>& input_shapes) {
  if (!graph_inputs_.empty()) return;
  STRATA_CHECK(input_shapes.size() == 1 && input_shapes[0].has_known_rank() && input_shapes[0].rank() >= 1,
               ShapeError, "Sequential '", name(), "' needs one input of known rank to build");
  std::vector<std::int64_t> dims = input_shapes[0].dims();
  dims[0] = Shape::kUnknown;
  const std::string input_name = layers_.empty() ? name() + "_input" : layers_[0]->name() + "_input";
  auto input = internal::make_input_layer(Shape(dims), input_name, layers_.empty() ? dtype() : layers_[0]->dtype());
  graph_inputs_ = {input->tensor()};
  graph_outputs_ = graph_inputs_;
  for (const auto& l : layers_) {
    auto out = (*l)(graph_outputs_);
    STRATA_CHECK(out.size() == 1, ValueError, "layer '", l->name(), "' has several outputs; Sequential needs one");
    graph_outputs_ = out;
  }
}

std::vector<Tensor> Sequential::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

Layer::Outputs Sequential::call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  STRATA_CHECK(inputs.size() == 1, ValueError, "Sequential '", name(), "' takes one input, got ", inputs.size());
  Outputs state{inputs, ctx.masks.empty() ? std::vector<Tensor>{Tensor()} : std::vector<Tensor>{ctx.masks[0]}};
  for (const auto& l : layers_) {
    CallContext step{ctx.training, state.masks};
    state = l->call_with_masks(state.tensors, step);
  }
  return state;
}

Config Sequential::get_config() const {
  // A Sequential model does not pass the legacy dialect on to nested models (tf-keras).
  const bool legacy = internal::legacy_children();
  Config layers = Config::array();
  if (!graph_inputs_.empty()) {
    layers.push_back(internal::serialize_child_layer(*graph_inputs_[0].node()->layer, legacy, false));
  }
  for (const auto& l : layers_) layers.push_back(internal::serialize_child_layer(*l, legacy, false));
  Config c = Config::object();
  c["name"] = name();
  if (internal::keras3_dialect()) {
    // Keras 3's Sequential: name, trainable, dtype, layers, build_input_shape.
    c["trainable"] = trainable();
    c["dtype"] = internal::keras3_dtype_policy(std::string(dtype_name(dtype())));
    c["layers"] = std::move(layers);
    if (!graph_inputs_.empty()) c["build_input_shape"] = internal::shape_to_json(graph_inputs_[0].shape());
    return c;
  }
  c["layers"] = std::move(layers);
  return c;
}

std::vector<Tensor> Sequential::inputs() const { return graph_inputs_; }
std::vector<Tensor> Sequential::outputs() const { return graph_outputs_; }

}  // namespace strata
