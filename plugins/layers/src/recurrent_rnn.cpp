// The RNN layers (SimpleRNN, LSTM, GRU): config, shapes, masks and the time loop.
//
// Semantics follow tf-keras 2.17 (keras.backend.rnn):
//  - go_backwards processes the steps last to first and returns the sequence in that
//    (reversed) order;
//  - at a masked step the states keep their previous values and the output repeats the
//    previous step's output (zeros before the first valid step), or is zeros with
//    zero_output_for_mask; the last output is the output of the last processed step;
//  - the output mask is the input mask when return_sequences, else none;
//  - dropout / recurrent_dropout (training only) draw one mask per sample and feature
//    for the whole sequence (one per gate in implementation 1).
#include <algorithm>

#include "recurrent_internal.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"
#include "strata/serialization.hpp"

namespace strata::recurrent {
namespace {

const char* class_of(CellKind kind) {
  switch (kind) {
    case CellKind::kSimpleRNN: return "SimpleRNN";
    case CellKind::kLSTM: return "LSTM";
    case CellKind::kGRU: return "GRU";
  }
  return "RNN";
}

const char* cell_name_of(CellKind kind) {
  switch (kind) {
    case CellKind::kSimpleRNN: return "simple_rnn_cell";
    case CellKind::kLSTM: return "lstm_cell";
    case CellKind::kGRU: return "gru_cell";
  }
  return "rnn_cell";
}

// Keras's RNN.__init__: input_dim / input_length stand for input_shape.
Config with_input_shape(const Config& config) {
  if (!config.is_object() || config.contains("input_shape")) return config;
  const bool has_dim = config.contains("input_dim");
  const bool has_length = config.contains("input_length");
  if (!has_dim && !has_length) return config;
  Config c = config;
  c["input_shape"] = Config::array({has_length ? config["input_length"] : Config(nullptr),
                                    has_dim ? config["input_dim"] : Config(nullptr)});
  return c;
}

// Inverted dropout: kept entries scaled by 1 / (1 - rate).
Tensor dropout_mask(const Shape& shape, double rate, DType dtype, const Device& device) {
  const Tensor u = random_uniform(shape, dtype, 0.0, 1.0, std::nullopt, device);
  return cast(greater_equal(u, scalar_like(u, rate)), dtype) * (1.0 / (1.0 - rate));
}

bool dropout_active(double rate) { return rate > 0.0 && rate < 1.0; }

// Runs the recurrent layer when a graph that recorded it on inputs of unknown length
// is executed: inputs [sequence, *states, mask?].
class DeferredRecurrentCall : public Layer {
 public:
  DeferredRecurrentCall(std::shared_ptr<const RecurrentLayer> rnn, bool has_mask)
      : Layer("strata.DeferredRecurrentCall", Config{{"name", rnn->name()}}), rnn_(std::move(rnn)), has_mask_(has_mask) {}

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    std::vector<Tensor> args = inputs;
    CallContext inner = ctx;
    inner.masks.clear();
    if (has_mask_) {
      inner.masks.push_back(args.back());
      args.pop_back();
    }
    return rnn_->call_and_mask(args, inner).tensors;
  }

 private:
  std::shared_ptr<const RecurrentLayer> rnn_;
  bool has_mask_;
};

}  // namespace

RecurrentLayer::RecurrentLayer(CellKind kind, const Config& config) : Layer(class_of(kind), with_input_shape(config)) {
  Config cell_base = Config::object();
  cell_base["name"] = cell_name_of(kind);
  cell_base["trainable"] = trainable();
  cell_base["dtype"] = std::string(dtype_name(dtype()));
  init(kind, config, config, std::move(cell_base));
}

RecurrentLayer::RecurrentLayer(CellKind kind, const Config& config, const Config& cell_config)
    : Layer("RNN", config), generic_(true) {
  Config cell_base = Config::object();
  const ConfigReader cell_reader(cell_config, ConfigReader::subject_of(*this) + ": cell");
  cell_base["name"] = cell_reader.optional<std::string>("name", cell_name_of(kind));
  cell_base["trainable"] = cell_reader.optional<bool>("trainable", true);
  cell_base["dtype"] = cell_reader.optional<std::string>("dtype", std::string(dtype_name(dtype())));
  init(kind, config, cell_config, std::move(cell_base));
}

void RecurrentLayer::init(CellKind kind, const Config& config, const Config& cell_config, Config cell_base) {
  const std::string cls = class_name();
  return_sequences_ = config_bool(config, cls, "return_sequences", false);
  return_state_ = config_bool(config, cls, "return_state", false);
  go_backwards_ = config_bool(config, cls, "go_backwards", false);
  stateful_ = config_bool(config, cls, "stateful", false);
  unroll_ = config_bool(config, cls, "unroll", false);
  time_major_ = config_bool(config, cls, "time_major", false);
  zero_output_for_mask_ = config_bool(config, cls, "zero_output_for_mask", false);
  STRATA_CHECK(!stateful_, ValueError, cls, " layer '", name(),
               "': stateful=True is not supported by Strata (states are not kept between batches); "
               "pass the states explicitly as initial states and return_state=True instead");
  STRATA_CHECK(!time_major_, ValueError, cls, " layer '", name(),
               "': time_major=True is not supported by Strata; give inputs as (batch, timesteps, features)");
  STRATA_CHECK(config_int(config, cls, "num_constants", 0) == 0, ValueError, cls, " layer '", name(),
               "': RNN constants are not supported");
  if (!generic_) activity_regularizer_ = config_regularizer(config, "activity_regularizer");
  {
    auto frame = ErrorContext::push("reading the config of ", cls, " layer '", name(), "'");
    cell_ = std::make_shared<RecurrentCell>(kind, cell_config, cell_base, ConfigReader::subject_of(*this));
  }
  track("cell", cell_);
  set_supports_masking(true);
}

void RecurrentLayer::build(const std::vector<Shape>& input_shapes) {
  STRATA_CHECK(!input_shapes.empty(), ValueError, class_name(), " layer '", name(), "' needs an input");
  const Shape& in = input_shapes[0];
  STRATA_CHECK(in.has_known_rank() && in.rank() == 3, ShapeError, class_name(), " layer '", name(),
               "' expects inputs of rank 3 (batch, timesteps, features), got ", in.to_string());
  STRATA_CHECK(in.dim(2) > 0, ShapeError, class_name(), " layer '", name(),
               "' needs a known feature dimension, got inputs of shape ", in.to_string());
  if (input_shapes.size() > 1) {
    STRATA_CHECK(static_cast<int>(input_shapes.size()) == 1 + cell_->num_states(), ValueError, class_name(), " layer '",
                 name(), "' has ", cell_->num_states(), " state(s) but was given ", input_shapes.size() - 1,
                 " initial state(s)");
    for (std::size_t i = 1; i < input_shapes.size(); ++i) {
      const Shape& s = input_shapes[i];
      STRATA_CHECK(s.has_known_rank() && s.rank() == 2 && (s.dim(1) < 0 || s.dim(1) == cell_->units()), ShapeError,
                   class_name(), " layer '", name(), "': initial state ", i - 1, " must have shape (batch, ",
                   cell_->units(), "), got ", s.to_string());
    }
  }
  NameScope scope(name());  // the cell's weights are "<layer>/<cell>/kernel", as in Keras
  cell_->ensure_built({Shape{in.dim(0), in.dim(2)}});
}

std::vector<Shape> RecurrentLayer::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  STRATA_CHECK(!input_shapes.empty() && input_shapes[0].has_known_rank() && input_shapes[0].rank() == 3, ShapeError,
               class_name(), " layer '", name(), "' expects inputs of rank 3 (batch, timesteps, features), got ",
               input_shapes.empty() ? std::string("nothing") : input_shapes[0].to_string());
  const std::int64_t batch = input_shapes[0].dim(0);
  const std::int64_t units = cell_->units();
  std::vector<Shape> out;
  out.push_back(return_sequences_ ? Shape{batch, input_shapes[0].dim(1), units} : Shape{batch, units});
  if (return_state_) {
    for (int i = 0; i < cell_->num_states(); ++i) out.push_back(Shape{batch, units});
  }
  return out;
}

std::vector<Tensor> RecurrentLayer::output_masks(const Tensor& mask) const {
  std::vector<Tensor> out;
  out.push_back(return_sequences_ ? mask : Tensor());
  if (return_state_) out.resize(out.size() + static_cast<std::size_t>(cell_->num_states()));
  return out;
}

std::vector<Tensor> RecurrentLayer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const {
  return output_masks(masks.empty() ? Tensor() : masks[0]);
}

std::vector<Tensor> RecurrentLayer::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

Layer::Outputs RecurrentLayer::call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  STRATA_CHECK(!inputs.empty() && inputs.size() <= static_cast<std::size_t>(1 + cell_->num_states()) &&
                   (inputs.size() == 1 || static_cast<int>(inputs.size()) == 1 + cell_->num_states()),
               ValueError, class_name(), " layer '", name(), "' takes the sequence and optionally its ",
               cell_->num_states(), " initial state(s); got ", inputs.size(), " inputs");
  const Tensor mask = ctx.masks.empty() ? Tensor() : ctx.masks[0];
  const Shape& shape = inputs[0].shape();
  STRATA_CHECK(shape.has_known_rank() && shape.rank() == 3, ShapeError, class_name(), " layer '", name(),
               "' expects inputs of rank 3 (batch, timesteps, features), got ", shape.to_string());
  const bool symbolic = std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); }) ||
                        (mask.defined() && mask.is_symbolic());
  if (symbolic) {
    const bool unknown_length = shape.dim(1) < 0;
    STRATA_CHECK(!(unroll_ && unknown_length), ValueError, "Cannot unroll a RNN if the time dimension is undefined ("
                 "layer '", name(), "', inputs ", shape.to_string(), "): give the Input a known number of timesteps");
    const bool draws_masks = ctx.training && (dropout_active(cell_->dropout()) || dropout_active(cell_->recurrent_dropout()));
    if (unknown_length || (draws_masks && shape.dim(0) < 0)) return defer(inputs, mask, ctx.training);
  }
  return run(inputs, mask, ctx.training);
}

Layer::Outputs RecurrentLayer::defer(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const {
  std::shared_ptr<const RecurrentLayer> self;
  try {
    self = std::static_pointer_cast<const RecurrentLayer>(shared_from_this());
  } catch (const std::bad_weak_ptr&) {
    STRATA_THROW(ValueError, class_name(), " layer '", name(),
                 "' must be owned by a std::shared_ptr (make it with make_layer or std::make_shared) to run on "
                 "symbolic inputs of unknown length");
  }
  auto node = std::make_shared<GraphNode>();
  node->op = kLayerCallOp;
  node->name = name();
  node->layer = std::make_shared<DeferredRecurrentCall>(self, mask.defined());
  std::vector<Tensor> args = inputs;
  if (mask.defined()) args.push_back(mask);
  for (auto& a : args) {
    if (!a.is_symbolic()) {
      TraceScope capture;  // a concrete tensor enters the graph as a constant
      a = identity(a);
    }
  }
  node->inputs = std::move(args);
  if (training) node->attrs.set("training", true);
  std::vector<Shape> shapes;
  for (const auto& in : inputs) shapes.push_back(in.shape());
  Outputs out;
  const auto out_shapes = compute_output_shape(shapes);
  for (std::size_t i = 0; i < out_shapes.size(); ++i) {
    node->outputs.push_back({dtype(), out_shapes[i]});
    node->output_has_mask.push_back(i == 0 && return_sequences_ && mask.defined());
  }
  for (std::size_t i = 0; i < out_shapes.size(); ++i) {
    out.tensors.push_back(Tensor::symbolic(dtype(), out_shapes[i], node, static_cast<int>(i)));
  }
  out.masks = output_masks(mask);
  return out;
}

Layer::Outputs RecurrentLayer::run(const std::vector<Tensor>& inputs, const Tensor& mask_in, bool training) const {
  const DType dt = dtype();
  auto as_layer_dtype = [dt](const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != dt ? cast(t, dt) : t; };
  const Tensor x = as_layer_dtype(inputs[0]);
  const bool symbolic = x.is_symbolic();
  const std::int64_t batch = x.shape().dim(0);
  const std::int64_t steps = x.shape().dim(1);
  const std::int64_t features = x.shape().dim(2);
  const std::int64_t units = cell_->units();
  STRATA_CHECK(steps > 0, ValueError, class_name(), " layer '", name(), "' needs at least one timestep, got inputs of shape ",
               x.shape().to_string());
  const bool known_batch = batch >= 0;
  const Device device = x.device();

  // Time-major rows: row t*B + b is sample b at step t.
  const Shape rows_shape = known_batch ? Shape{steps * batch, features} : Shape{Shape::kUnknown, features};
  const Tensor rows = reshape(transpose(x, {1, 0, 2}), rows_shape);

  std::vector<Tensor> input_masks, recurrent_masks;
  if (training && dropout_active(cell_->dropout())) {
    for (int i = 0; i < cell_->input_mask_count(); ++i) {
      input_masks.push_back(tile(dropout_mask(Shape{batch, features}, cell_->dropout(), dt, device), {steps, 1}));
    }
  }
  if (training && dropout_active(cell_->recurrent_dropout())) {
    for (int i = 0; i < cell_->recurrent_mask_count(); ++i) {
      recurrent_masks.push_back(dropout_mask(Shape{batch, units}, cell_->recurrent_dropout(), dt, device));
    }
  }

  const Tensor projected = cell_->project(rows, input_masks);
  const std::vector<Tensor> per_step = steps == 1 ? std::vector<Tensor>{projected} : split(projected, steps, 0);

  std::vector<Tensor> step_masks;
  if (mask_in.defined()) {
    Tensor m = mask_in.dtype() == DType::kBool ? mask_in : cast(mask_in, DType::kBool);
    if (m.shape().has_known_rank() && m.shape().rank() == 3) m = squeeze(m, {2});
    STRATA_CHECK(m.shape().has_known_rank() && m.shape().rank() == 2 && m.shape().is_compatible_with(Shape{batch, steps}),
                 ShapeError, class_name(), " layer '", name(), "': the mask must have shape (batch, timesteps) = ",
                 Shape{batch, steps}.to_string(), ", got ", m.shape().to_string());
    const Shape mask_rows = known_batch ? Shape{steps * batch, 1} : Shape{Shape::kUnknown, 1};
    const Tensor by_step = reshape(transpose(m, {1, 0}), mask_rows);
    step_masks = steps == 1 ? std::vector<Tensor>{by_step} : split(by_step, steps, 0);
  }

  Tensor zero_state;
  if (known_batch && !symbolic) {
    zero_state = zeros(Shape{batch, units}, dt, device);
  } else {
    zero_state = zeros_like(slice(per_step[0], {0, 0}, {-1, units}));
  }
  std::vector<Tensor> states;
  if (inputs.size() > 1) {
    for (std::size_t i = 1; i < inputs.size(); ++i) states.push_back(as_layer_dtype(inputs[i]));
  } else {
    states.assign(static_cast<std::size_t>(cell_->num_states()), zero_state);
  }

  const RecurrentCell::Step step = cell_->make_step(recurrent_masks);
  Tensor previous_output = zero_state;
  std::vector<Tensor> outputs;
  if (return_sequences_) outputs.reserve(static_cast<std::size_t>(steps));
  for (std::int64_t k = 0; k < steps; ++k) {
    const auto t = static_cast<std::size_t>(go_backwards_ ? steps - 1 - k : k);
    std::vector<Tensor> next = step(per_step[t], states);
    Tensor output = next[0];
    if (!step_masks.empty()) {
      const Tensor& valid = step_masks[t];
      output = select(valid, output, zero_output_for_mask_ ? zero_state : previous_output);
      for (std::size_t s = 0; s < next.size(); ++s) next[s] = select(valid, next[s], states[s]);
    }
    states = std::move(next);
    previous_output = output;
    if (return_sequences_) outputs.push_back(output);
  }

  Outputs result;
  result.tensors.push_back(return_sequences_ ? stack(outputs, 1) : previous_output);
  if (return_state_) result.tensors.insert(result.tensors.end(), states.begin(), states.end());
  result.masks = output_masks(mask_in);
  if (activity_regularizer_ && !symbolic) add_activity_losses(*this, *activity_regularizer_, result.tensors);
  return result;
}

Config RecurrentLayer::get_config() const {
  Config c = Layer::get_config();
  c["return_sequences"] = return_sequences_;
  c["return_state"] = return_state_;
  c["go_backwards"] = go_backwards_;
  c["stateful"] = stateful_;
  c["unroll"] = unroll_;
  c["time_major"] = time_major_;
  if (zero_output_for_mask_) c["zero_output_for_mask"] = true;
  if (!generic_) {
    cell_->write_config(c, activity_regularizer_.get());
    return c;
  }
  // tf-keras's serialize_keras_object of the cell, with the build_config that the cell's
  // Layer.build records.
  Config cell = Config::object();
  cell["module"] = std::string(keras_module(ObjectKind::kLayer));
  cell["class_name"] = cell_->class_name();
  cell["config"] = cell_->Layer::get_config();
  cell_->write_config(cell["config"], nullptr, /*in_layer=*/false);
  cell["registered_name"] = nullptr;
  if (cell_->built() && !cell_->build_input_shapes().empty()) {
    Config dims = Config::array();
    for (const auto d : cell_->build_input_shapes()[0].dims()) dims.push_back(d < 0 ? Config(nullptr) : Config(d));
    cell["build_config"] = Config{{"input_shape", dims}};
  }
  c["cell"] = cell;
  return c;
}

namespace {

// The kind and config of the one built-in cell of an RNN config.
std::pair<CellKind, Config> rnn_cell(const Config& config) {
  const std::string subject =
      "layer '" + (config.is_object() && config.contains("name") && config["name"].is_string()
                       ? config["name"].get<std::string>()
                       : std::string("rnn")) + "' (RNN)";
  const Config* value = config.is_object() && config.contains("cell") && !config["cell"].is_null() ? &config["cell"] : nullptr;
  STRATA_CHECK(value != nullptr, FormatError, subject, ": 'cell' is missing; it must be a serialized cell");
  STRATA_CHECK(!value->is_array(), ValueError, subject,
               ": a list of cells (StackedRNNCells) is not supported; stack RNN layers instead");
  const SerializedObject parsed = parse_serialized(*value, subject + ": 'cell'");
  if (parsed.class_name == "SimpleRNNCell") return {CellKind::kSimpleRNN, parsed.config};
  if (parsed.class_name == "LSTMCell") return {CellKind::kLSTM, parsed.config};
  if (parsed.class_name == "GRUCell") return {CellKind::kGRU, parsed.config};
  STRATA_THROW(ValueError, subject, ": 'cell' must be a SimpleRNNCell, LSTMCell or GRUCell, got ", parsed.class_name);
}

}  // namespace

RNN::RNN(const Config& config) : RecurrentLayer(rnn_cell(config).first, config, rnn_cell(config).second) {}

}  // namespace strata::recurrent
