// The wrappers of tf-keras 2.17: Bidirectional and TimeDistributed.
//
// Bidirectional (keras/layers/rnn/bidirectional.py): the forward layer is the wrapped
// layer rebuilt from its config and renamed "forward_<name>"; the backward layer is the
// config's backward_layer, or the wrapped layer's config with go_backwards flipped, renamed
// "backward_<name>". Both get zero_output_for_mask = return_sequences, as Keras forces it.
// The backward layer runs on the same (padded) sequence and mask with go_backwards, and
// its output sequence is reversed in time before merging; so at a padded step the merged
// backward half is zero. The weights are "<bidirectional>/forward_lstm/lstm_cell/kernel",
// forward first, and checkpoints track forward_layer and backward_layer (the wrapped layer
// itself is not tracked, as in Keras).
//
// TimeDistributed folds time into the batch and runs a copy of the wrapped layer named
// after the wrapper (Keras builds the wrapped layer inside the wrapper's name scope without
// its own, so its weights are "time_distributed/kernel").
//
// On symbolic inputs whose number of steps is unknown both record one deferred call, as
// the RNN layers do, that runs the wrapper on the concrete inputs.
#include <algorithm>

#include "common.hpp"
#include "recurrent_internal.hpp"
#include "recurrent_loop.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"
#include "strata/serialization.hpp"

namespace strata::recurrent {
namespace {

bool is_placeholder(const Config& v) { return v.is_object() && v.size() == 1 && v.contains("strata.tensor"); }

// Runs a wrapper when a graph that recorded it on inputs of unknown length is executed:
// inputs [*inputs, mask?].
template <class W>
class DeferredWrapperCall : public Layer {
 public:
  DeferredWrapperCall(std::shared_ptr<const W> wrapper, bool has_mask)
      : Layer("strata.DeferredWrapperCall", Config{{"name", wrapper->name()}}),
        wrapper_(std::move(wrapper)),
        has_mask_(has_mask) {}

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    std::vector<Tensor> args = inputs;
    Tensor mask;
    if (has_mask_) {
      mask = args.back();
      args.pop_back();
    }
    return wrapper_->run(args, mask, ctx.training).tensors;
  }

 private:
  std::shared_ptr<const W> wrapper_;
  bool has_mask_;
};

template <class W>
Layer::Outputs defer_call(const W& self, const std::vector<Tensor>& inputs, const Tensor& mask, bool training,
                          DType out_dtype, const std::vector<Tensor>& out_masks) {
  return defer_layer_call<DeferredWrapperCall<W>>(self, inputs, mask, training, out_dtype, out_masks,
                                                  detail::concat(self.class_name(), " layer '", self.name(), "'"),
                                                  "symbolic inputs of unknown length");
}

bool any_symbolic(const std::vector<Tensor>& inputs, const Tensor& mask) {
  return std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); }) ||
         (mask.defined() && mask.is_symbolic());
}

// {"module", "class_name", "config", "registered_name"} of a layer, as tf-keras 2.17's
// serialize_keras_object writes a wrapped layer.
Config keras_object(const Layer& layer) {
  const std::string& cls = layer.class_name();
  const auto gt = cls.find('>');
  Config c = Config::object();
  if (cls == "Sequential") {
    c["module"] = "keras";
  } else if (cls == "Functional") {
    c["module"] = "tf_keras.src.engine.functional";
  } else {
    c["module"] = gt == std::string::npos ? std::string(keras_module(ObjectKind::kLayer)) : std::string("strata.custom");
  }
  c["class_name"] = gt == std::string::npos ? cls : cls.substr(gt + 1);
  c["config"] = layer.get_config();
  c["registered_name"] = gt == std::string::npos ? (cls == "Functional" ? Config("Functional") : Config(nullptr)) : Config(cls);
  return c;
}

// A layer of class `cls` built from `config` with its name replaced.
std::shared_ptr<Layer> renamed_copy(const std::string& cls, Config config, const std::string& name) {
  config["name"] = name;
  return deserialize_layer(Config{{"class_name", cls}, {"config", std::move(config)}});
}

std::shared_ptr<RecurrentLayer> as_recurrent(const std::shared_ptr<Layer>& layer, const std::string& subject,
                                             const char* key) {
  auto rnn = std::dynamic_pointer_cast<RecurrentLayer>(layer);
  STRATA_CHECK(rnn != nullptr, ValueError, subject, ": '", key,
               "' must be a recurrent layer (SimpleRNN, LSTM or GRU), got ", layer->class_name(), " layer '",
               layer->name(), "'");
  return rnn;
}

// Reverses a sequence [B, T, ...] along time (T known).
Tensor reverse_time(const Tensor& x) {
  const std::int64_t steps = x.shape().dim(1);
  if (steps == 1) return x;
  std::vector<Tensor> parts = split(x, steps, 1);
  std::reverse(parts.begin(), parts.end());
  return concat(parts, 1);
}

std::vector<Shape> shapes_of(const std::vector<Tensor>& ts) {
  std::vector<Shape> out;
  for (const auto& t : ts) out.push_back(t.shape());
  return out;
}

}  // namespace

// ---- Bidirectional ---------------------------------------------------------------------------

Bidirectional::Bidirectional(const Config& config) : Layer("Bidirectional", config) {
  const ConfigReader r(config, *this);
  const std::string subject = r.subject();
  {
    auto frame = ErrorContext::push("reading the config of ", subject);
    const Config value = r.required<Config>("layer");
    STRATA_CHECK(value.is_object() || value.is_string(), FormatError, subject,
                 ": 'layer' must be a serialized layer ({\"class_name\": ..., \"config\": ...}), got ", value.dump());
    const auto original = as_recurrent(deserialize_layer(value), subject, "layer");
    layer_config_ = keras_object(*original);
    Config fc = original->get_config();
    fc["zero_output_for_mask"] = original->return_sequences();
    // tf-keras names the halves "forward_<name>" and "backward_<name>" and writes the wrapped
    // layer as it was given; Keras 3 writes its forward half ("forward_lstm") and its backward
    // layer ("backward_lstm"), and names them without doubling the prefix, keeping a given
    // backward layer's name as it is.
    const bool keras3 = layers::written_by_keras3(config);
    auto prefixed = [keras3](const char* prefix, const std::string& name) {
      const std::string p = prefix;
      return keras3 && name.rfind(p, 0) == 0 ? name : p + name;
    };
    forward_ = as_recurrent(renamed_copy(original->class_name(), fc, prefixed("forward_", original->name())), subject,
                            "layer");

    std::shared_ptr<RecurrentLayer> backward_original = original;
    Config bc = original->get_config();
    bc["go_backwards"] = !original->go_backwards();
    if (const Config* given = r.find("backward_layer")) {
      STRATA_CHECK(given->is_object() || given->is_string(), FormatError, subject,
                   ": 'backward_layer' must be a serialized layer or null, got ", given->dump());
      backward_original = as_recurrent(deserialize_layer(*given), subject, "backward_layer");
      backward_config_ = keras_object(*backward_original);
      bc = backward_original->get_config();
    }
    bc["zero_output_for_mask"] = backward_original->return_sequences();
    const std::string backward_name = keras3 && backward_original != original
                                          ? backward_original->name()
                                          : prefixed("backward_", backward_original->name());
    backward_ =
        as_recurrent(renamed_copy(backward_original->class_name(), bc, backward_name), subject, "backward_layer");

    if (!config.contains("merge_mode")) {
      merge_mode_ = "concat";
    } else if (!config["merge_mode"].is_null()) {
      merge_mode_ = r.required<std::string>("merge_mode");
      const std::vector<std::string> allowed{"sum", "mul", "ave", "concat"};
      STRATA_CHECK(std::find(allowed.begin(), allowed.end(), merge_mode_) != allowed.end(), ValueError, subject,
                   ": 'merge_mode' must be one of \"sum\", \"mul\", \"ave\", \"concat\" or null, got \"", merge_mode_,
                   "\"");
    }
    STRATA_CHECK(r.optional<std::int64_t>("num_constants", 0) == 0, ValueError, subject,
                 ": RNN constants (num_constants) are not supported");
    STRATA_CHECK(forward_->go_backwards() != backward_->go_backwards(), ValueError, subject,
                 ": the forward and backward layers must have different go_backwards values, both have ",
                 forward_->go_backwards() ? "true" : "false");
    STRATA_CHECK(forward_->return_sequences() == backward_->return_sequences(), ValueError, subject,
                 ": the forward and backward layers must have the same return_sequences, got ",
                 forward_->return_sequences() ? "true" : "false", " and ", backward_->return_sequences() ? "true" : "false");
    STRATA_CHECK(forward_->return_state() == backward_->return_state(), ValueError, subject,
                 ": the forward and backward layers must have the same return_state, got ",
                 forward_->return_state() ? "true" : "false", " and ", backward_->return_state() ? "true" : "false");
  }
  track("forward_layer", forward_);
  track("backward_layer", backward_);
  if (!config.contains("trainable") && !forward_->trainable()) set_trainable(false);  // Keras: the layer's flag
  set_supports_masking(true);
}

bool Bidirectional::mask_is_last_input(std::size_t inputs) const {
  if (inputs < 2 || !call_arguments_.is_object() || !call_arguments_.contains("kwargs") ||
      !call_arguments_["kwargs"].is_object() || !call_arguments_["kwargs"].contains("mask")) {
    return false;
  }
  const Config& mask = call_arguments_["kwargs"]["mask"];
  return is_placeholder(mask) && mask["strata.tensor"] == inputs - 1;
}

void Bidirectional::build(const std::vector<Shape>& all_shapes) {
  STRATA_CHECK(!all_shapes.empty(), ValueError, "Bidirectional layer '", name(), "' needs an input");
  // Without a mask given as a tensor argument (Keras 3's node: the call's last input).
  const std::vector<Shape> input_shapes(all_shapes.begin(), all_shapes.end() - (mask_is_last_input(all_shapes.size()) ? 1 : 0));
  const std::size_t states = input_shapes.size() - 1;
  const std::size_t expected = static_cast<std::size_t>(forward_->num_states() + backward_->num_states());
  STRATA_CHECK(states == 0 || states == expected, ValueError, "Bidirectional layer '", name(), "' takes the sequence and ",
               "optionally the initial states of both directions (", expected, "); got ", states, " initial state(s)");
  std::vector<Shape> f{input_shapes[0]}, b{input_shapes[0]};
  const std::size_t half = static_cast<std::size_t>(forward_->num_states());
  for (std::size_t i = 1; i < input_shapes.size(); ++i) (i <= half ? f : b).push_back(input_shapes[i]);
  NameScope scope(name());  // "bidirectional/forward_lstm/lstm_cell/kernel", as in Keras
  forward_->ensure_built(f);
  backward_->ensure_built(b);
}

std::vector<Tensor> Bidirectional::output_masks(const Tensor& mask) const {
  std::vector<Tensor> out(outputs_before_states(), forward_->return_sequences() ? mask : Tensor());
  if (forward_->return_state()) {
    out.resize(out.size() + static_cast<std::size_t>(forward_->num_states() + backward_->num_states()));
  }
  return out;
}

std::vector<Tensor> Bidirectional::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const {
  return output_masks(masks.empty() ? Tensor() : masks[0]);
}

std::vector<Shape> Bidirectional::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  STRATA_CHECK(!input_shapes.empty(), ValueError, "Bidirectional layer '", name(), "' needs an input");
  const auto f = forward_->compute_output_shape({input_shapes[0]});
  const auto b = backward_->compute_output_shape({input_shapes[0]});
  std::vector<Shape> out;
  if (merge_mode_.empty()) {
    out = {f[0], b[0]};
  } else if (merge_mode_ == "concat") {
    std::vector<std::int64_t> dims = f[0].dims();
    const std::int64_t fu = dims.back(), bu = b[0].dims().back();
    dims.back() = fu < 0 || bu < 0 ? Shape::kUnknown : fu + bu;
    out = {Shape(dims)};
  } else {
    out = {f[0]};
  }
  out.insert(out.end(), f.begin() + 1, f.end());
  out.insert(out.end(), b.begin() + 1, b.end());
  return out;
}

std::vector<Tensor> Bidirectional::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

Layer::Outputs Bidirectional::call_and_mask(const std::vector<Tensor>& all_inputs, const CallContext& ctx) const {
  // A mask given as a tensor argument (Keras 3's node) is the call's last input and wins over
  // the sequence's keras mask, as in Keras. (A deferred call runs with the mask alone.)
  const bool mask_input = mask_is_last_input(all_inputs.size());
  const std::vector<Tensor> inputs(all_inputs.begin(), all_inputs.end() - (mask_input ? 1 : 0));
  const std::size_t expected = static_cast<std::size_t>(forward_->num_states() + backward_->num_states());
  STRATA_CHECK(inputs.size() == 1 || inputs.size() == 1 + expected, ValueError, "Bidirectional layer '", name(),
               "' takes the sequence and optionally the initial states of both directions (", expected, "); got ",
               inputs.size(), " inputs");
  const Tensor mask = mask_input ? all_inputs.back() : ctx.masks.empty() ? Tensor() : ctx.masks[0];
  const Shape& shape = inputs[0].shape();
  STRATA_CHECK(shape.has_known_rank() && shape.rank() == 3, ShapeError, "Bidirectional layer '", name(),
               "' expects inputs of rank 3 (batch, timesteps, features), got ", shape.to_string());
  if (any_symbolic(inputs, mask) && shape.dim(1) < 0) {
    return defer_call(*this, inputs, mask, ctx.training, forward_->dtype(), output_masks(mask));
  }
  return run(inputs, mask, ctx.training);
}

Layer::Outputs Bidirectional::run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const {
  const std::size_t half = static_cast<std::size_t>(forward_->num_states());
  std::vector<Tensor> f{inputs[0]}, b{inputs[0]};
  for (std::size_t i = 1; i < inputs.size(); ++i) (i <= half ? f : b).push_back(inputs[i]);
  CallContext inner;
  inner.training = training;
  if (mask.defined()) inner.masks = {mask};
  std::vector<Tensor> y = forward_->call_with_masks(f, inner).tensors;
  std::vector<Tensor> y_rev = backward_->call_with_masks(b, inner).tensors;
  Tensor out = y[0], out_rev = y_rev[0];
  if (forward_->return_sequences()) out_rev = reverse_time(out_rev);
  Outputs result;
  if (merge_mode_ == "concat") {
    result.tensors.push_back(concat({out, out_rev}, -1));
  } else if (merge_mode_ == "sum") {
    result.tensors.push_back(out + out_rev);
  } else if (merge_mode_ == "ave") {
    result.tensors.push_back((out + out_rev) / 2.0);
  } else if (merge_mode_ == "mul") {
    result.tensors.push_back(out * out_rev);
  } else {
    result.tensors = {out, out_rev};
  }
  result.tensors.insert(result.tensors.end(), y.begin() + 1, y.end());
  result.tensors.insert(result.tensors.end(), y_rev.begin() + 1, y_rev.end());
  result.masks = output_masks(mask);
  return result;
}

Config Bidirectional::get_config() const {
  Config c = Layer::get_config();
  c["layer"] = layer_config_;
  c["merge_mode"] = merge_mode_.empty() ? Config(nullptr) : Config(merge_mode_);
  if (!backward_config_.is_null()) c["backward_layer"] = backward_config_;
  return c;
}

// ---- Bidirectional call arguments --------------------------------------------------------------

// tf-keras's Bidirectional.__call__ turns initial_state into inputs ([x, *states]) and
// records {"initial_state": None, "constants": None} with such a call; the arguments do not
// change what the layer computes (the inputs say it all), so Bidirectional keeps the latest
// given ones only to write them back, and otherwise writes what tf-keras writes.
void Bidirectional::set_call_arguments(const Config& arguments) {
  const std::string subject = ConfigReader::subject_of(*this);
  STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                   !arguments["args"].empty(),
               FormatError, subject, ": call arguments must be {\"args\": [inputs], \"kwargs\": {...}}, got ",
               arguments.dump());
  // Keras 3's Bidirectional.call(sequences, initial_state=None, mask=None, training=None),
  // and its initial_state as keyword tensors: moved into the first argument as tf-keras
  // writes them (with "initial_state": null, "constants": null).
  Config a = layers::positional_as_keywords(arguments, {"initial_state", "mask", "training"}, subject);
  if (!a["args"][0].is_array()) a["args"][0] = Config::array({a["args"][0]});
  Config kwargs = a.value("kwargs", Config::object());
  if (kwargs.contains("initial_state") && !kwargs["initial_state"].is_null()) {
    const Config states = kwargs["initial_state"];
    for (const auto& s : states.is_array() ? states : Config::array({states})) a["args"][0].push_back(s);
    kwargs["initial_state"] = nullptr;
    if (!kwargs.contains("constants")) kwargs["constants"] = nullptr;
    a["kwargs"] = kwargs;
  }
  for (const auto& [key, v] : kwargs.items()) {
    if (key == "mask" && is_placeholder(v)) {
      // Keras 3 writes the mask it passed (the input's keras mask, computed by op layers such as
      // NotEqual after Embedding(mask_zero=True)) as a tensor argument: the call's last input.
      STRATA_CHECK(v["strata.tensor"] == layers::count_call_tensors(a["args"][0]), FormatError, subject,
                   ": the mask tensor must follow the sequence and its states, got ", a.dump());
      continue;
    }
    STRATA_CHECK(v.is_null() || (key == "training" && v.is_boolean()), FormatError, subject,
                 ": the call argument '", key, "' (", v.dump(),
                 ") is not supported; initial states are given as inputs after the sequence");
  }
  call_arguments_ = std::move(a);
}

Config Bidirectional::call_arguments() const {
  Config a = given_or_default_call_arguments();
  // With return_state, tf-keras returns each direction's states as its layer does: nested
  // per cell for a stack ([output, [h, c], g, [h, c], g]); summaries print that structure.
  if (forward_->return_state() && (forward_->stacked() || backward_->stacked())) {
    Config outputs = Config::array();
    for (std::size_t i = 0; i < outputs_before_states(); ++i) outputs.push_back(i);
    const std::size_t fw = outputs_before_states();
    for (const auto& s : output_structure_of(forward_->state_placeholders(fw))) outputs.push_back(s);
    const std::size_t bw = fw + static_cast<std::size_t>(forward_->num_states());
    for (const auto& s : output_structure_of(backward_->state_placeholders(bw))) outputs.push_back(s);
    a["outputs"] = outputs;
  }
  return a;
}

Config Bidirectional::given_or_default_call_arguments() const {
  const std::size_t inputs = std::max<std::size_t>(1, build_input_shapes().size());
  if (call_arguments_.is_object() &&
      layers::count_call_tensors(call_arguments_["args"][0]) + (mask_is_last_input(inputs) ? 1 : 0) == inputs) {
    return call_arguments_;
  }
  Config first = Config::array({Config{{"strata.tensor", 0}}});
  // States given from C++ (flat): each direction's nested as tf-keras's initial_state.
  const Config forward = forward_->state_placeholders(1);
  const Config backward = backward_->state_placeholders(1 + static_cast<std::size_t>(forward_->num_states()));
  if (inputs > 1 && 1 + layers::count_call_tensors(forward) + layers::count_call_tensors(backward) == inputs) {
    for (const auto& s : forward) first.push_back(s);
    for (const auto& s : backward) first.push_back(s);
  } else {
    for (std::size_t i = 1; i < inputs; ++i) first.push_back(Config{{"strata.tensor", i}});
  }
  Config kwargs = Config::object();
  if (inputs > 1) {
    kwargs["initial_state"] = nullptr;
    kwargs["constants"] = nullptr;
  }
  return Config{{"args", Config::array({first})}, {"kwargs", kwargs}};
}

// ---- TimeDistributed -------------------------------------------------------------------------

TimeDistributed::TimeDistributed(const Config& config) : Layer("TimeDistributed", config) {
  const ConfigReader r(config, *this);
  const std::string subject = r.subject();
  {
    auto frame = ErrorContext::push("reading the config of ", subject);
    const Config value = r.required<Config>("layer");
    STRATA_CHECK(value.is_object() || value.is_string(), FormatError, subject,
                 ": 'layer' must be a serialized layer ({\"class_name\": ..., \"config\": ...}), got ", value.dump());
    const auto original = deserialize_layer(value);
    layer_config_ = keras_object(*original);
    if (value.is_object() && value.contains("build_config")) read_build_config_ = value["build_config"];
    inner_ = renamed_copy(original->class_name(), original->get_config(), name());
    if (!original->trainable()) inner_->set_trainable(false);
  }
  track("layer", inner_);
  set_supports_masking(true);
}

namespace {

// [B, T, rest...] -> [B, rest...] (Keras's _remove_timesteps).
Shape without_time(const Shape& s) {
  std::vector<std::int64_t> dims = s.dims();
  dims.erase(dims.begin() + 1);
  return Shape(dims);
}

void check_time_distributed_input(const Layer& layer, const std::vector<Shape>& shapes) {
  STRATA_CHECK(shapes.size() == 1, ValueError, "TimeDistributed layer '", layer.name(), "' takes one input, got ",
               shapes.size());
  STRATA_CHECK(shapes[0].has_known_rank() && shapes[0].rank() >= 3, ValueError, "TimeDistributed layer '",
               layer.name(), "' expects inputs of at least 3 dimensions (batch, timesteps, ...), got ",
               shapes[0].to_string());
}

}  // namespace

void TimeDistributed::build(const std::vector<Shape>& input_shapes) {
  check_time_distributed_input(*this, input_shapes);
  inner_->ensure_built({without_time(input_shapes[0])});
}

std::vector<Shape> TimeDistributed::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  check_time_distributed_input(*this, input_shapes);
  const auto inner = inner_->compute_output_shape({without_time(input_shapes[0])});
  std::vector<Shape> out;
  for (const auto& s : inner) {
    std::vector<std::int64_t> dims = s.dims();
    dims.insert(dims.begin() + 1, input_shapes[0].dim(1));
    out.emplace_back(dims);
  }
  return out;
}

std::vector<Tensor> TimeDistributed::compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const {
  CallContext ctx;
  if (!masks.empty()) ctx.masks = {masks[0]};
  return call_and_mask(inputs, ctx).masks;
}

std::vector<Tensor> TimeDistributed::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

Layer::Outputs TimeDistributed::call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  check_time_distributed_input(*this, shapes_of(inputs));
  const Tensor mask = ctx.masks.empty() ? Tensor() : ctx.masks[0];
  if (any_symbolic(inputs, mask) && inputs[0].shape().dim(1) < 0) {
    // The output mask (when there is one) has the input mask's [batch, timesteps] leading axes;
    // it is recorded as present and computed when the deferred call runs.
    return defer_call(*this, inputs, mask, ctx.training, inner_->dtype(), {mask});
  }
  return run(inputs, mask, ctx.training);
}

Layer::Outputs TimeDistributed::run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const {
  const Tensor& x = inputs[0];
  const std::int64_t batch = x.shape().dim(0);
  const std::int64_t steps = x.shape().dim(1);
  const std::int64_t fold = batch < 0 || steps < 0 ? Shape::kUnknown : batch * steps;
  std::vector<std::int64_t> folded = without_time(x.shape()).dims();
  folded[0] = fold;
  CallContext inner;
  inner.training = training;
  // tf-keras (batch size unknown) gives the wrapped layer the mask with time folded into
  // the batch, [B*T, ...].
  if (mask.defined()) {
    std::vector<std::int64_t> mask_dims = without_time(mask.shape()).dims();
    mask_dims[0] = fold;
    inner.masks = {reshape(mask, Shape(mask_dims))};
  }
  const Layer::Outputs y = inner_->call_with_masks({reshape(x, Shape(folded))}, inner);
  auto unfold = [&](const Tensor& t) {
    std::vector<std::int64_t> dims = t.shape().dims();
    dims[0] = steps;
    dims.insert(dims.begin(), batch < 0 ? Shape::kUnknown : batch);
    return reshape(t, Shape(dims));
  };
  Outputs out;
  for (const auto& t : y.tensors) out.tensors.push_back(unfold(t));
  // tf-keras's compute_mask: the wrapped layer's output mask unfolded to [B, T, ...]; when
  // it has none, the input mask reduced to [B, T] (any over the other axes); else none.
  for (std::size_t i = 0; i < out.tensors.size(); ++i) {
    const Tensor inner_mask = i < y.masks.size() ? y.masks[i] : Tensor();
    if (inner_mask.defined()) {
      out.masks.push_back(unfold(inner_mask));
    } else if (mask.defined()) {
      Tensor m = mask;
      if (m.shape().rank() > 2) {
        std::vector<std::int64_t> axes;
        for (std::int64_t a = 2; a < static_cast<std::int64_t>(m.shape().rank()); ++a) axes.push_back(a);
        m = cast(max(cast(m, DType::kFloat32), axes), DType::kBool);
      }
      out.masks.push_back(m);
    } else {
      out.masks.emplace_back();
    }
  }
  return out;
}

Config TimeDistributed::get_config() const {
  Config c = Layer::get_config();
  c["layer"] = layer_config_;
  // tf-keras 2.21's layers record their build shape in build() (Dense, Conv2D, ... call
  // super().build), so it writes the wrapped layer's build_config for them too; a config read
  // with one keeps it as read.
  if (!read_build_config_.is_null()) {
    c["layer"]["build_config"] = read_build_config_;
    return c;
  }
  // tf-keras writes the wrapped layer's build_config when its build ran Layer.build, which
  // records the input shape (TimeDistributed calls the wrapped layer's build directly):
  // the layers without a build of their own (Flatten, pooling, ...) and those whose build
  // calls the base's (Dropout, the RNN layers, EinsumDense, GroupNormalization,
  // Normalization), not the global poolings; checked with tf-keras 2.17.
  const std::string& cls = inner_->class_name();
  const bool global_pooling = cls.rfind("Global", 0) == 0;
  const bool records = !global_pooling &&
                       (inner_->weights().empty() || std::dynamic_pointer_cast<RecurrentLayer>(inner_) != nullptr ||
                        cls == "EinsumDense" || cls == "GroupNormalization" || cls == "Normalization");
  const auto& shapes = inner_->build_input_shapes();
  if (inner_->built() && records && shapes.size() == 1) {
    Config dims = Config::array();
    for (const auto d : shapes[0].dims()) dims.push_back(d < 0 ? Config(nullptr) : Config(d));
    c["layer"]["build_config"] = Config{{"input_shape", dims}};
  }
  return c;
}

}  // namespace strata::recurrent
