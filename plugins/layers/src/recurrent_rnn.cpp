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
#include "recurrent_loop.hpp"
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

}  // namespace

RecurrentLayer::RecurrentLayer(CellKind kind, const Config& config) : Layer(class_of(kind), with_input_shape(config)) {
  Config cell_base = Config::object();
  cell_base["name"] = cell_name_of(kind);
  cell_base["trainable"] = trainable();
  cell_base["dtype"] = std::string(dtype_name(dtype()));
  {
    auto frame = ErrorContext::push("reading the config of ", class_name(), " layer '", name(), "'");
    cells_.push_back(std::make_shared<RecurrentCell>(kind, config, cell_base, ConfigReader::subject_of(*this)));
  }
  init(config);
  activity_regularizer_ = config_regularizer(config, "activity_regularizer");
  track("cell", cells_.front());
}

RecurrentLayer::RecurrentLayer(const std::vector<std::pair<CellKind, Config>>& cells, const Config& config,
                               const Config& stack)
    : Layer("RNN", config), generic_(true) {
  {
    auto frame = ErrorContext::push("reading the config of RNN layer '", name(), "'");
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const auto& [kind, cell_config] = cells[i];
      const std::string what = ConfigReader::subject_of(*this) + ": " +
                               (stack.is_null() ? std::string("cell") : "cell " + std::to_string(i) + " of the stack");
      const ConfigReader cell_reader(cell_config, what);
      Config cell_base = Config::object();
      cell_base["name"] = cell_reader.optional<std::string>("name", cell_name_of(kind));
      cell_base["trainable"] = cell_reader.optional<bool>("trainable", true);
      // Keras 3 writes a DTypePolicy object, which the cell's Layer base reads.
      const bool policy = cell_config.is_object() && cell_config.contains("dtype") && cell_config["dtype"].is_object();
      cell_base["dtype"] = policy ? cell_config["dtype"]
                                  : Config(cell_reader.optional<std::string>("dtype", std::string(dtype_name(dtype()))));
      cells_.push_back(std::make_shared<RecurrentCell>(kind, cell_config, cell_base, ConfigReader::subject_of(*this)));
    }
  }
  init(config);
  if (stack.is_null()) {
    track("cell", cells_.front());
  } else {
    stack_ = std::make_shared<StackedRNNCells>(stack, cells_);
    track("cell", stack_);
    if (config.contains("cell") && config["cell"].is_object() && config["cell"].contains("build_config")) {
      stack_build_config_ = config["cell"]["build_config"];
    }
  }
}

void RecurrentLayer::init(const Config& config) {
  const std::string cls = class_name();
  const ConfigReader r(config, *this);
  return_sequences_ = r.optional<bool>("return_sequences", false);
  return_state_ = r.optional<bool>("return_state", false);
  go_backwards_ = r.optional<bool>("go_backwards", false);
  stateful_ = r.optional<bool>("stateful", false);
  unroll_ = r.optional<bool>("unroll", false);
  time_major_ = r.optional<bool>("time_major", false);
  zero_output_for_mask_ = r.optional<bool>("zero_output_for_mask", false);
  STRATA_CHECK(!time_major_, ValueError, cls, " layer '", name(),
               "': time_major=True is not supported by Strata; give inputs as (batch, timesteps, features)");
  STRATA_CHECK(r.optional<std::int64_t>("num_constants", 0) == 0, ValueError, cls, " layer '", name(),
               "': RNN constants are not supported");
  for (const auto& cell : cells_) {
    for (int i = 0; i < cell->num_states(); ++i) state_units_.push_back(cell->units());
  }
  set_supports_masking(true);
}

void RecurrentLayer::build(const std::vector<Shape>& all_shapes) {
  STRATA_CHECK(!all_shapes.empty(), ValueError, class_name(), " layer '", name(), "' needs an input");
  // Without a mask given as a tensor argument (the call's last input).
  const std::vector<Shape> input_shapes(all_shapes.begin(),
                                        all_shapes.end() - (next_call_has_mask_input(all_shapes.size()) ? 1 : 0));
  const Shape& in = input_shapes[0];
  STRATA_CHECK(in.has_known_rank() && in.rank() == 3, ShapeError, class_name(), " layer '", name(),
               "' expects inputs of rank 3 (batch, timesteps, features), got ", in.to_string());
  STRATA_CHECK(in.dim(2) > 0, ShapeError, class_name(), " layer '", name(),
               "' needs a known feature dimension, got inputs of shape ", in.to_string());
  if (input_shapes.size() > 1) {
    STRATA_CHECK(static_cast<int>(input_shapes.size()) == 1 + num_states(), ValueError, class_name(), " layer '",
                 name(), "' has ", num_states(), " state(s) but was given ", input_shapes.size() - 1,
                 " initial state(s)");
    for (std::size_t i = 1; i < input_shapes.size(); ++i) {
      const Shape& s = input_shapes[i];
      const std::int64_t units = state_units_[i - 1];
      STRATA_CHECK(s.has_known_rank() && s.rank() == 2 && (s.dim(1) < 0 || s.dim(1) == units), ShapeError,
                   class_name(), " layer '", name(), "': initial state ", i - 1, " must have shape (batch, ", units,
                   "), got ", s.to_string());
    }
  }
  // Keras: "If a RNN is stateful, it needs to know its batch size."
  STRATA_CHECK(!stateful_ || in.dim(0) > 0, ValueError, class_name(), " layer '", name(),
               "' is stateful and needs to know its batch size: give the model's input a fixed batch size "
               "(batch_input_shape / Input(..., batch_size=...)), got inputs of shape ", in.to_string());
  NameScope scope(name());  // the cell's weights are "<layer>/<cell>/kernel", as in Keras
  if (stack_) {
    stack_->ensure_built({Shape{in.dim(0), in.dim(2)}});
  } else {
    cells_.front()->ensure_built({Shape{in.dim(0), in.dim(2)}});
  }
  if (stateful_) {
    for (std::size_t i = 0; i < state_units_.size(); ++i) {
      states_.emplace_back(name() + "/state_" + std::to_string(i), zeros(Shape{in.dim(0), state_units_[i]}, dtype()),
                           /*trainable=*/false);
    }
  }
}

void RecurrentLayer::reset_own_states() {
  for (auto& s : states_) s.assign(zeros(s.shape(), s.dtype(), s.device()));
}

void RecurrentLayer::to(const Device& device) {
  Layer::to(device);
  for (auto& s : states_) s.to(device);
}

std::vector<Shape> RecurrentLayer::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  STRATA_CHECK(!input_shapes.empty() && input_shapes[0].has_known_rank() && input_shapes[0].rank() == 3, ShapeError,
               class_name(), " layer '", name(), "' expects inputs of rank 3 (batch, timesteps, features), got ",
               input_shapes.empty() ? std::string("nothing") : input_shapes[0].to_string());
  const std::int64_t batch = input_shapes[0].dim(0);
  const std::int64_t units = output_units();
  std::vector<Shape> out;
  out.push_back(return_sequences_ ? Shape{batch, input_shapes[0].dim(1), units} : Shape{batch, units});
  if (return_state_) {
    for (const auto u : state_units_) out.push_back(Shape{batch, u});
  }
  return out;
}

std::vector<Tensor> RecurrentLayer::output_masks(const Tensor& mask) const {
  std::vector<Tensor> out;
  out.push_back(return_sequences_ ? mask : Tensor());
  if (return_state_) out.resize(out.size() + state_units_.size());
  return out;
}

std::vector<Tensor> RecurrentLayer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const {
  return output_masks(masks.empty() ? Tensor() : masks[0]);
}

std::vector<Tensor> RecurrentLayer::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

Layer::Outputs RecurrentLayer::call_and_mask(const std::vector<Tensor>& all_inputs, const CallContext& ctx) const {
  STRATA_CHECK(!all_inputs.empty(), ValueError, class_name(), " layer '", name(), "' needs an input");
  const Config arguments = take_call_arguments(all_inputs);
  // A mask given as a tensor argument (Keras 3's node) is the call's last input and wins over
  // the sequence's keras mask, as in Keras. (A deferred call runs with the mask alone.)
  const bool mask_input = mask_is_last_input(arguments, all_inputs.size());
  const std::vector<Tensor> inputs(all_inputs.begin(), all_inputs.end() - (mask_input ? 1 : 0));
  STRATA_CHECK(!inputs.empty() && (inputs.size() == 1 || static_cast<int>(inputs.size()) == 1 + num_states()),
               ValueError, class_name(), " layer '", name(), "' takes the sequence and optionally its ", num_states(),
               " initial state(s); got ", inputs.size(), " inputs");
  const Tensor mask = mask_input ? all_inputs.back() : ctx.masks.empty() ? Tensor() : ctx.masks[0];
  const Shape& shape = inputs[0].shape();
  STRATA_CHECK(shape.has_known_rank() && shape.rank() == 3, ShapeError, class_name(), " layer '", name(),
               "' expects inputs of rank 3 (batch, timesteps, features), got ", shape.to_string());
  const bool symbolic = std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); }) ||
                        (mask.defined() && mask.is_symbolic());
  if (symbolic) {
    const bool unknown_length = shape.dim(1) < 0;
    STRATA_CHECK(!(unroll_ && unknown_length), ValueError, "Cannot unroll a RNN if the time dimension is undefined ("
                 "layer '", name(), "', inputs ", shape.to_string(), "): give the Input a known number of timesteps");
    bool draws_masks = false;
    for (const auto& cell : cells_) {
      draws_masks = draws_masks || (ctx.training && (dropout_active(cell->dropout()) || dropout_active(cell->recurrent_dropout())));
    }
    // A stateful layer traced into a graph could not carry its states: it runs when executed.
    if (unknown_length || stateful_ || (draws_masks && shape.dim(0) < 0)) return defer(inputs, mask, ctx.training);
  }
  return run(inputs, mask, ctx.training);
}

Layer::Outputs RecurrentLayer::defer(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const {
  return defer_layer_call<DeferredLayerCall>(*this, inputs, mask, training, dtype(), output_masks(mask),
                                             detail::concat(class_name(), " layer '", name(), "'"),
                                             "symbolic inputs of unknown length", "strata.DeferredRecurrentCall");
}

namespace {

// Zeros [batch, units] on the batch of `like` ([batch, n]), for a batch unknown when traced.
Tensor zeros_for(const Tensor& like, std::int64_t units, bool concrete_batch, DType dtype, const Device& device) {
  if (concrete_batch) return zeros(Shape{like.shape().dim(0), units}, dtype, device);
  return tile(zeros_like(slice(like, {0, 0}, {-1, 1})), {1, units});
}

}  // namespace

Layer::Outputs RecurrentLayer::run(const std::vector<Tensor>& inputs, const Tensor& mask_in, bool training) const {
  // A mixed-precision layer's inputs come cast to its compute dtype (float16, bfloat16) and
  // its weights are read in it: the loop runs in that dtype (Keras's autocast).
  const DType in_dt = inputs.empty() ? DType::kInvalid : inputs[0].dtype();
  const DType dt = in_dt == DType::kFloat16 || in_dt == DType::kBFloat16 ? in_dt : dtype();
  auto as_layer_dtype = [dt](const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != dt ? cast(t, dt) : t; };
  const Tensor x = as_layer_dtype(inputs[0]);
  const bool symbolic = x.is_symbolic();
  const std::int64_t batch = x.shape().dim(0);
  const std::int64_t steps = x.shape().dim(1);
  const std::int64_t features = x.shape().dim(2);
  STRATA_CHECK(steps > 0, ValueError, class_name(), " layer '", name(), "' needs at least one timestep, got inputs of shape ",
               x.shape().to_string());
  const bool known_batch = batch >= 0;
  const Device device = x.device();
  const RecurrentCell& first = *cells_.front();

  // Time-major rows: row t*B + b is sample b at step t.
  const Shape rows_shape = known_batch ? Shape{steps * batch, features} : Shape{Shape::kUnknown, features};
  const Tensor rows = reshape(transpose(x, {1, 0, 2}), rows_shape);

  // Dropout masks, drawn once per call as Keras's cells cache them: the first cell's input
  // masks cover every step at once; a later cell's apply to its predecessor's output.
  std::vector<std::vector<Tensor>> input_masks(cells_.size()), recurrent_masks(cells_.size());
  for (std::size_t k = 0; k < cells_.size() && training; ++k) {
    const RecurrentCell& cell = *cells_[k];
    const std::int64_t in_width = k == 0 ? features : cells_[k - 1]->units();
    if (dropout_active(cell.dropout())) {
      for (int i = 0; i < cell.input_mask_count(); ++i) {
        Tensor m = dropout_mask(Shape{batch, in_width}, cell.dropout(), dt, device);
        input_masks[k].push_back(k == 0 ? tile(m, {steps, 1}) : m);
      }
    }
    if (dropout_active(cell.recurrent_dropout())) {
      for (int i = 0; i < cell.recurrent_mask_count(); ++i) {
        recurrent_masks[k].push_back(dropout_mask(Shape{batch, cell.units()}, cell.recurrent_dropout(), dt, device));
      }
    }
  }

  const Tensor projected = first.project(rows, input_masks[0]);
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

  const bool concrete_batch = known_batch && !symbolic;
  std::vector<Tensor> states;
  if (inputs.size() > 1) {
    for (std::size_t i = 1; i < inputs.size(); ++i) states.push_back(as_layer_dtype(inputs[i]));
  } else if (stateful_ && !states_.empty()) {
    for (const auto& s : states_) {
      STRATA_CHECK(!known_batch || s.shape().dim(0) == batch, ValueError, class_name(), " layer '", name(),
                   "' is stateful with batch size ", s.shape().dim(0), " and cannot run on a batch of ", batch,
                   " samples (Keras requires the batch size the model was built with)");
      // Model::to moves weights(), not these: the states follow the inputs' device.
      if (!symbolic && s.device() != device) {
        Variable moved = s;
        moved.to(device);
      }
      states.push_back(read(s));
    }
  } else {
    for (const auto u : state_units_) states.push_back(zeros_for(per_step[0], u, concrete_batch, dt, device));
  }
  const Tensor zero_output = zeros_for(per_step[0], output_units(), concrete_batch, dt, device);

  std::vector<RecurrentCell::Step> cell_steps;
  for (std::size_t k = 0; k < cells_.size(); ++k) cell_steps.push_back(cells_[k]->make_step(recurrent_masks[k]));
  TimeLoopOptions loop;
  loop.go_backwards = go_backwards_;
  loop.return_sequences = return_sequences_;
  loop.zero_output_for_mask = zero_output_for_mask_;
  // One step runs every cell: each cell's input is the previous cell's output.
  auto step = [&](std::size_t t, const std::vector<Tensor>& current) {
    std::vector<Tensor> next;
    Tensor output;
    std::size_t offset = 0;
    for (std::size_t c = 0; c < cells_.size(); ++c) {
      const RecurrentCell& cell = *cells_[c];
      const auto n = static_cast<std::size_t>(cell.num_states());
      const std::vector<Tensor> own(current.begin() + static_cast<std::ptrdiff_t>(offset),
                                    current.begin() + static_cast<std::ptrdiff_t>(offset + n));
      const Tensor in = c == 0 ? per_step[t] : cell.project(output, input_masks[c]);
      std::vector<Tensor> updated = cell_steps[c](in, own);
      output = updated[0];
      next.insert(next.end(), updated.begin(), updated.end());
      offset += n;
    }
    return std::make_pair(output, std::move(next));
  };
  TimeLoopResult ran = run_time_loop(steps, std::move(states), step_masks, zero_output, loop, step);
  states = std::move(ran.states);

  // Keras assigns the final states to the layer's state variables after every call.
  if (stateful_ && !symbolic) {
    for (std::size_t i = 0; i < states_.size() && i < states.size(); ++i) {
      Variable v = states_[i];
      // In the state's dtype: a mixed-precision layer's states are float32, its loop half.
      v.assign(cast(states[i], v.dtype()));
    }
  }

  Outputs result;
  result.tensors.push_back(return_sequences_ ? stack(ran.outputs, 1) : ran.last_output);
  if (return_state_) result.tensors.insert(result.tensors.end(), states.begin(), states.end());
  result.masks = output_masks(mask_in);
  if (activity_regularizer_ && !symbolic) add_activity_losses(*this, *activity_regularizer_, result.tensors);
  return result;
}

Config serialized_cell(const RecurrentCell& cell) {
  Config c = Config::object();
  c["module"] = std::string(keras_module(ObjectKind::kLayer));
  c["class_name"] = cell.class_name();
  c["config"] = cell.Layer::get_config();
  cell.write_config(c["config"], nullptr, /*in_layer=*/false);
  c["registered_name"] = nullptr;
  if (cell.built() && !cell.build_input_shapes().empty()) {
    Config dims = Config::array();
    for (const auto d : cell.build_input_shapes()[0].dims()) dims.push_back(d < 0 ? Config(nullptr) : Config(d));
    c["build_config"] = Config{{"input_shape", dims}};
  }
  return c;
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
    cells_.front()->write_config(c, activity_regularizer_.get());
    return c;
  }
  if (!stack_) {
    c["cell"] = serialized_cell(*cells_.front());
    return c;
  }
  // tf-keras 2.17 writes no build_config for the stack, 2.21 does (kept as read, so each
  // version's file round-trips).
  Config stack = Config::object();
  stack["module"] = std::string(keras_module(ObjectKind::kLayer));
  stack["class_name"] = "StackedRNNCells";
  stack["config"] = stack_->get_config();
  stack["registered_name"] = nullptr;
  if (!stack_build_config_.is_null()) stack["build_config"] = stack_build_config_;
  c["cell"] = stack;
  return c;
}

std::pair<CellKind, Config> parse_cell(const Config& value, const std::string& what) {
  STRATA_CHECK(value.is_object() || value.is_string(), FormatError, what, " must be a serialized cell, got ", value.dump());
  const SerializedObject parsed = parse_serialized(value, what);
  if (parsed.class_name == "SimpleRNNCell") return {CellKind::kSimpleRNN, parsed.config};
  if (parsed.class_name == "LSTMCell") return {CellKind::kLSTM, parsed.config};
  if (parsed.class_name == "GRUCell") return {CellKind::kGRU, parsed.config};
  STRATA_THROW(ValueError, what, " must be a SimpleRNNCell, LSTMCell or GRUCell, got ", parsed.class_name);
}

namespace {

std::string rnn_subject(const Config& config) {
  return "layer '" +
         (config.is_object() && config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                      : std::string("rnn")) +
         "' (RNN)";
}

struct RnnCells {
  std::vector<std::pair<CellKind, Config>> cells;
  Config stack;  // the StackedRNNCells config, null for one cell
};

// The built-in cells of an RNN config: one cell, a list of cells (tf-keras wraps it in a
// StackedRNNCells named "stacked_rnn_cells") or a StackedRNNCells.
RnnCells rnn_cells(const Config& config) {
  const std::string subject = rnn_subject(config);
  const Config* value = config.is_object() && config.contains("cell") && !config["cell"].is_null() ? &config["cell"] : nullptr;
  STRATA_CHECK(value != nullptr, FormatError, subject, ": 'cell' is missing; it must be a serialized cell");
  RnnCells out;
  const Config* list = nullptr;
  Config stack_config;
  if (value->is_array()) {
    list = value;
    out.stack = Config{{"name", "stacked_rnn_cells"}};
  } else {
    STRATA_CHECK(value->is_object() || value->is_string(), FormatError, subject,
                 ": 'cell' must be a serialized cell or a list of them, got ", value->dump());
    const SerializedObject parsed = parse_serialized(*value, subject + ": 'cell'");
    if (parsed.class_name == "StackedRNNCells") {
      stack_config = parsed.config;
      const ConfigReader r(stack_config, subject + ": the StackedRNNCells");
      out.stack = Config::object();
      out.stack["name"] = r.optional<std::string>("name", "stacked_rnn_cells");
      if (stack_config.contains("trainable")) out.stack["trainable"] = r.optional<bool>("trainable", true);
      if (stack_config.contains("dtype")) out.stack["dtype"] = stack_config["dtype"];
      STRATA_CHECK(stack_config.contains("cells"), FormatError, subject, ": the StackedRNNCells has no 'cells'");
      STRATA_CHECK(stack_config["cells"].is_array(), FormatError, subject,
                   ": the StackedRNNCells' 'cells' must be a list of serialized cells, got ", stack_config["cells"].dump());
      list = &stack_config["cells"];
    } else {
      out.cells.push_back(parse_cell(*value, subject + ": 'cell'"));
      return out;
    }
  }
  STRATA_CHECK(!list->empty(), ValueError, subject, ": the list of cells is empty");
  for (std::size_t i = 0; i < list->size(); ++i) {
    out.cells.push_back(parse_cell((*list)[i], subject + ": cell " + std::to_string(i) + " of the stack"));
  }
  return out;
}

}  // namespace

RNN::RNN(const Config& config) : RecurrentLayer(rnn_cells(config).cells, config, rnn_cells(config).stack) {}

}  // namespace strata::recurrent
