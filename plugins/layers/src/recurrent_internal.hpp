// Private to the recurrent layers of the layers plugin: their classes and the config
// helpers they share. Nothing outside src/recurrent*.cpp includes this header; hosts
// reach these layers through the registry (make_layer("LSTM", config)).
//
// The recurrent layers follow tf-keras 2.17: an RNN layer (SimpleRNN, LSTM, GRU) owns a
// cell, a child layer named "simple_rnn_cell" / "lstm_cell" / "gru_cell" tracked as
// "cell", which owns the weights kernel, recurrent_kernel and bias (Keras's variable
// names "lstm/lstm_cell/kernel"). The time loop is a C++ loop over the steps of a
// sequence whose length is known when the layer runs; on symbolic inputs of unknown
// length the layer records one deferred call instead (see RecurrentLayer::call_and_mask).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "call_arguments_state.hpp"
#include "strata/activations.hpp"
#include "strata/config.hpp"
#include "strata/config_reader.hpp"
#include "strata/constraints.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/regularizers.hpp"
#include "strata/stateful.hpp"

namespace strata::recurrent {

// ---- config helpers ----------------------------------------------------------------------
// Typed reads of the key `key` of a layer config, `fallback` when the key is absent or
// null. FormatError naming the class and the key when the value has another type.

bool config_bool(const Config& config, std::string_view cls, const char* key, bool fallback);
std::int64_t config_int(const Config& config, std::string_view cls, const char* key, std::int64_t fallback);
double config_double(const Config& config, std::string_view cls, const char* key, double fallback);
// `fallback` (a Keras name such as "tanh") when the key is absent; null means linear.
std::shared_ptr<Activation> config_activation(const Config& config, const char* key, const char* fallback);
// `fallback` when absent (nullptr for none); a JSON null gives nullptr (Keras's None).
std::shared_ptr<Initializer> config_initializer(const Config& config, const char* key, const char* fallback);
std::shared_ptr<Regularizer> config_regularizer(const Config& config, const char* key);
std::shared_ptr<Constraint> config_constraint(const Config& config, const char* key);
// The Keras form of a nested object ({"module", "class_name", "config",
// "registered_name"}), or null.
Config serialized_or_null(const Serializable* object, ObjectKind kind);

// The per-sample mean of `regularizer(output)` for each output, added with add_loss as
// Keras's activity regularization does (outputs of unknown batch size are skipped).
void add_activity_losses(const Layer& layer, const Regularizer& regularizer, const std::vector<Tensor>& outputs);

// ---- Embedding and Masking -----------------------------------------------------------------

class Embedding : public Layer {
 public:
  explicit Embedding(const Config& config);
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config get_config() const override;

 private:
  std::int64_t input_dim_ = 0;
  std::int64_t output_dim_ = 0;
  std::shared_ptr<Initializer> embeddings_initializer_;
  std::shared_ptr<Regularizer> embeddings_regularizer_;
  std::shared_ptr<Regularizer> activity_regularizer_;
  std::shared_ptr<Constraint> embeddings_constraint_;
  bool mask_zero_ = false;
  Config input_length_;  // as given: null, an integer or a list
  Variable embeddings_;
};

class Masking : public Layer {
 public:
  explicit Masking(const Config& config);
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config get_config() const override;

 private:
  double mask_value_ = 0.0;
};

// `placeholders` ({"strata.tensor": i} in lists) as the output structure of call arguments:
// the indices i in the same lists.
Config output_structure_of(const Config& placeholders);

// ---- recurrent cells -------------------------------------------------------------------------

enum class CellKind { kSimpleRNN, kLSTM, kGRU };

// One step of a recurrence, with its weights. Inside an RNN layer (its usual place) the
// layer drives it through project() and make_step() and it is never called. Registered
// as SimpleRNNCell / LSTMCell / GRUCell it is also a layer of its own, as tf-keras lets a
// cell be called on (inputs, states) in a Functional model: inputs [x, *states], outputs
// [output, *new_states]; the states come as the call's `states` keyword argument in the
// model config, so the cell is a CallArgumentsLayer (strata/plugin/call_arguments.hpp).
class RecurrentCell : public Layer, public CallArgumentsLayer {
 public:
  // Reads the cell's keys from the RNN layer's config (`layer_config`); `cell_base` holds
  // the cell's own name, trainable flag and dtype; `subject` names the RNN layer in
  // messages ("layer 'lstm' (LSTM)").
  RecurrentCell(CellKind kind, const Config& layer_config, const Config& cell_base, const std::string& subject);
  // A cell as a layer of its own, from the cell's config.
  RecurrentCell(CellKind kind, const Config& config);

  CellKind kind() const noexcept { return kind_; }
  std::int64_t units() const noexcept { return units_; }
  // Gates whose input projections are stacked along the last axis: 1, 4 (i, f, c, o) or
  // 3 (z, r, h).
  int gates() const noexcept;
  // State tensors carried between steps (LSTM: h, c).
  int num_states() const noexcept { return kind_ == CellKind::kLSTM ? 2 : 1; }
  int implementation() const noexcept { return implementation_; }
  double dropout() const noexcept { return dropout_; }
  double recurrent_dropout() const noexcept { return recurrent_dropout_; }
  // How many dropout masks one call draws for the inputs / the recurrent state (one per
  // gate in implementation 1, as Keras's cells; SimpleRNN has one).
  int input_mask_count() const noexcept;
  int recurrent_mask_count() const noexcept;

  void build(const std::vector<Shape>& input_shapes) override;
  // A cell of its own: one step on [x, *states]. A cell owned by an RNN layer: ValueError
  // (the layer runs it).
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  // The cell's own config (tf-keras's SimpleRNNCell/LSTMCell/GRUCell.get_config).
  Config get_config() const override;
  void set_call_arguments(const Config& arguments) override;
  Config call_arguments() const override;

  // The input projections of every step at once: `steps` [T*B, F] (time-major rows)
  // times the kernel, plus the input bias, giving [T*B, gates*units]. `input_masks`
  // (empty, or input_mask_count() masks [T*B, F]) are the dropout masks.
  Tensor project(const Tensor& steps, const std::vector<Tensor>& input_masks) const;

  // One step: (projected inputs of this step [B, gates*units], states) -> new states;
  // the step's output is new_states[0]. The function holds the weights read for this call
  // and the recurrent dropout masks (empty, or recurrent_mask_count() masks [B, units]).
  using Step = std::function<std::vector<Tensor>(const Tensor& projected, const std::vector<Tensor>& states)>;
  Step make_step(const std::vector<Tensor>& recurrent_masks) const;

  // Appends the cell's keys to an RNN layer config in Keras's order;
  // `activity_regularizer` is the layer's (Keras writes it among the cell's keys). With
  // `in_layer` false, the keys of the cell's own config (Keras's LSTMCell.get_config: no
  // activity_regularizer).
  void write_config(Config& config, const Regularizer* activity_regularizer, bool in_layer = true) const;

 private:
  Step make_simple_step(const std::vector<Tensor>& recurrent_masks) const;
  Step make_lstm_step(const std::vector<Tensor>& recurrent_masks) const;
  Step make_gru_step(const std::vector<Tensor>& recurrent_masks) const;

  CellKind kind_;
  std::string subject_;  // the owning RNN layer, for messages
  std::int64_t units_ = 0;
  std::shared_ptr<Activation> activation_;
  std::shared_ptr<Activation> recurrent_activation_;  // LSTM and GRU
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, recurrent_initializer_, bias_initializer_;
  bool unit_forget_bias_ = true;  // LSTM
  std::shared_ptr<Regularizer> kernel_regularizer_, recurrent_regularizer_, bias_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, recurrent_constraint_, bias_constraint_;
  double dropout_ = 0.0;
  double recurrent_dropout_ = 0.0;
  int implementation_ = 2;  // LSTM and GRU
  bool reset_after_ = true;  // GRU
  std::optional<bool> enable_caching_device_;  // written back only when a config had it
  Variable kernel_, recurrent_kernel_, bias_;
  bool standalone_ = false;  // a layer of its own (registered class), not an RNN's cell
  Config call_arguments_;    // as the model config gave them (null: the default form)
};

class SimpleRNNCell : public RecurrentCell {
 public:
  explicit SimpleRNNCell(const Config& config) : RecurrentCell(CellKind::kSimpleRNN, config) {}
};
class LSTMCell : public RecurrentCell {
 public:
  explicit LSTMCell(const Config& config) : RecurrentCell(CellKind::kLSTM, config) {}
};
class GRUCell : public RecurrentCell {
 public:
  explicit GRUCell(const Config& config) : RecurrentCell(CellKind::kGRU, config) {}
};

// ---- RNN layers ------------------------------------------------------------------------------

// Keras's StackedRNNCells (stacked_rnn_cells.cpp): a list of cells that behaves as one cell.
// Each cell's input is the previous cell's output; the states are every cell's states in
// cell order. Tracks the cells as "cells" (checkpoint keys cells/0/kernel) and builds them
// in its own name scope ("stacked_rnn_cells/lstm_cell/kernel").
//
// Inside an RNN (tracked as its "cell", weights "rnn/stacked_rnn_cells/lstm_cell/kernel")
// the RNN layer runs the cells and this object is never called. Registered as
// StackedRNNCells it is also a layer of its own, as tf-keras lets it be called on
// (inputs, states) in a Functional model: inputs [x, *states] (every cell's states in cell
// order, flattened), outputs [output, *new_states]; the states come as the call's `states`
// keyword argument, nested one element per cell (a list [h, c] for an LSTMCell).
class StackedRNNCells : public Layer, public CallArgumentsLayer {
 public:
  // The cells of an RNN layer; `base` holds the stack's name, trainable flag and dtype.
  StackedRNNCells(const Config& base, std::vector<std::shared_ptr<RecurrentCell>> cells);
  // A layer of its own, from tf-keras's config {name, trainable, dtype, cells}.
  explicit StackedRNNCells(const Config& config);
  const std::vector<std::shared_ptr<RecurrentCell>>& cells() const noexcept { return cells_; }
  // Keras's state_size flattened: the width of each state, cell by cell.
  std::vector<std::int64_t> state_units() const;
  // Keras's output_size: the last cell's units.
  std::int64_t output_units() const noexcept { return cells_.back()->units(); }
  // Builds the cells on step inputs [batch, features], each on its predecessor's units.
  void build(const std::vector<Shape>& input_shapes) override;
  // A layer of its own: one step of every cell on [x, *states]. Inside an RNN: ValueError
  // (the RNN layer runs the cells).
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  // tf-keras's StackedRNNCells.get_config: the base keys, then "cells" (each serialized
  // with its build_config once built).
  Config get_config() const override;
  void set_call_arguments(const Config& arguments) override;
  Config call_arguments() const override;

 private:
  std::vector<std::shared_ptr<RecurrentCell>> cells_;
  bool standalone_ = false;  // a layer of its own, not an RNN's cell
  Config call_arguments_;    // as the model config gave them (null: the default form)
};

// tf-keras's serialize_keras_object of a cell ({module, class_name, config,
// registered_name}), with the build_config that the cell's Layer.build records.
Config serialized_cell(const RecurrentCell& cell);
// The kind and own config of a serialized built-in cell (`what` names it in messages):
// FormatError for a value that is not a serialized object, ValueError for another class.
std::pair<CellKind, Config> parse_cell(const Config& value, const std::string& what);

// Keras's RNN layer specialised to the built-in cells (one, or a stack of them). Inputs:
// [sequence, *initial_states] (Keras's initial_state, recorded by Functional configs as
// extra inbound tensors; for a stack, every cell's states in cell order); outputs: the
// last output or the whole sequence, then (return_state) the final states.
//
// With stateful=True (which needs a fixed batch size) the final states of a call that
// computes (not one that is traced) are kept in variables that are not weights and are
// the initial states of the next call, until reset_own_states() (strata/stateful.hpp).
//
// Call arguments (strata/plugin/call_arguments.hpp): tf-keras writes a call with
// initial_state as the list [sequence, *initial_state] nested as the call gave the states
// (`[x, [h, c], g]` for RNN([LSTMCell, GRUCell])), Keras 3 as `initial_state=` keyword
// tensors; both arrive as inputs [sequence, *states] (depth-first), and the arguments are
// kept per node to be written back in tf-keras's form.
class RecurrentLayer : public Layer, public StateVariablesLayer, public CallArgumentsLayer {
 public:
  RecurrentLayer(CellKind kind, const Config& config);
  // Keras's generic RNN layer (class "RNN") around the built-in cells `cells` (kind and
  // own config each); `stack` is the StackedRNNCells object's config ({name, trainable,
  // dtype}) when the cell was a list or a StackedRNNCells, else null.
  RecurrentLayer(const std::vector<std::pair<CellKind, Config>>& cells, const Config& config, const Config& stack);

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;
  // Runs the recurrence. On symbolic inputs of known length it records the unrolled
  // ops; when the length (or, for dropout in training, the batch size) is unknown it
  // records one deferred layer call whose execution runs the recurrence on the concrete
  // inputs.
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config get_config() const override;
  void to(const Device& device) override;
  void reset_own_states() override;
  // In tf-keras's form: {"args": [[sequence, *states nested]], "kwargs": {...}}; a Keras 3
  // node's initial_state (keyword or second positional argument) is moved into the first
  // argument. FormatError naming the layer for a mask or constants given as tensors, an
  // unknown keyword, or tensors out of the order [sequence, *states].
  void set_call_arguments(const Config& arguments) override;
  Config call_arguments() const override;
  // Placeholders {"strata.tensor": first + i} for the layer's states, structured as
  // tf-keras's initial_state of this layer: flat for one cell, one element per cell for a
  // stack (a list [h, c] for an LSTMCell, the bare tensor for a one-state cell).
  Config state_placeholders(std::size_t first) const;
  bool stacked() const noexcept { return stack_ != nullptr; }
  // Takes the arguments given for this call (they change nothing computed: the inputs are
  // [sequence, *states] either way) so that the node a symbolic call records keeps them.
  Config take_call_arguments(const std::vector<Tensor>& inputs) const;
  // Whether `arguments` give a mask tensor (Keras 3's node) as the last of `inputs` inputs.
  static bool mask_is_last_input(const Config& arguments, std::size_t inputs);
  bool next_call_has_mask_input(std::size_t inputs) const;  // for build(), before that call
  // The carried states (stateful only; empty before build): what a SavedModel holds under
  // keras_api/states/<i>.
  std::vector<Variable> state_variables() const override { return states_; }

  // The first (for SimpleRNN/LSTM/GRU the only) cell.
  const RecurrentCell& cell() const noexcept { return *cells_.front(); }
  // State tensors of every cell together.
  int num_states() const noexcept { return static_cast<int>(state_units_.size()); }
  bool return_sequences() const noexcept { return return_sequences_; }
  bool return_state() const noexcept { return return_state_; }
  bool go_backwards() const noexcept { return go_backwards_; }
  bool stateful() const noexcept { return stateful_; }
  // The carried states (stateful only; empty before build).
  const std::vector<Variable>& states() const noexcept { return states_; }

 private:
  Outputs run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const;
  Outputs defer(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const;
  std::vector<Tensor> output_masks(const Tensor& mask) const;
  std::int64_t output_units() const noexcept { return cells_.back()->units(); }

  void init(const Config& config);

  std::vector<std::shared_ptr<RecurrentCell>> cells_;
  std::shared_ptr<StackedRNNCells> stack_;  // set for a list of cells / StackedRNNCells
  Config stack_build_config_;  // the StackedRNNCells' build_config as read (tf-keras 2.21 writes one), else null
  std::vector<std::int64_t> state_units_;   // the width of each state, cell by cell
  bool generic_ = false;  // class "RNN": the cell is written as a nested "cell" object
  bool return_sequences_ = false;
  bool return_state_ = false;
  bool go_backwards_ = false;
  bool stateful_ = false;
  bool unroll_ = false;
  bool time_major_ = false;
  bool zero_output_for_mask_ = false;
  std::shared_ptr<Regularizer> activity_regularizer_;
  std::vector<Variable> states_;  // stateful: the states carried to the next call
  layers::CallArgumentsState arguments_;
};

class SimpleRNN : public RecurrentLayer {
 public:
  explicit SimpleRNN(const Config& config) : RecurrentLayer(CellKind::kSimpleRNN, config) {}
};
class LSTM : public RecurrentLayer {
 public:
  explicit LSTM(const Config& config) : RecurrentLayer(CellKind::kLSTM, config) {}
};
class GRU : public RecurrentLayer {
 public:
  explicit GRU(const Config& config) : RecurrentLayer(CellKind::kGRU, config) {}
};
// Keras's RNN(cell) for the cells SimpleRNNCell, LSTMCell and GRUCell, a list of them or a
// StackedRNNCells of them (custom cells: ValueError naming the layer).
class RNN : public RecurrentLayer {
 public:
  explicit RNN(const Config& config);
};

// ---- wrappers (recurrent_wrappers.cpp) ---------------------------------------------------------

// Keras's Bidirectional: two copies of a recurrent layer, "forward_<name>" and
// "backward_<name>" (go_backwards flipped, or the config's backward_layer), tracked as
// forward_layer / backward_layer; the backward outputs are reversed in time and merged
// with the forward ones (concat, sum, mul, ave, or none: both returned). Inputs:
// [sequence, *forward_states, *backward_states]; outputs: the merged output (two with
// merge_mode None), then with return_state the forward then the backward final states.
class Bidirectional : public Layer, public CallArgumentsLayer {
 public:
  explicit Bidirectional(const Config& config);
  // Call arguments (strata/plugin/call_arguments.hpp), in recurrent_wrappers.cpp.
  void set_call_arguments(const Config& arguments) override;
  Config call_arguments() const override;
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config get_config() const override;

  // Runs both directions on inputs whose length is known (or concrete).
  Outputs run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const;

 private:
  std::vector<Tensor> output_masks(const Tensor& mask) const;
  std::size_t outputs_before_states() const noexcept { return merge_mode_.empty() ? 2 : 1; }
  Config given_or_default_call_arguments() const;
  // Whether the given call arguments name a mask tensor (Keras 3's node) as the last of `inputs`.
  bool mask_is_last_input(std::size_t inputs) const;

  Config layer_config_;     // the wrapped layer, as get_config writes it
  Config backward_config_;  // the backward_layer key as given (null when absent)
  std::string merge_mode_;  // "concat", "sum", "mul", "ave", or empty for None
  std::shared_ptr<RecurrentLayer> forward_, backward_;
  Config call_arguments_;  // the latest given to set_call_arguments (null: none)
};

// Keras's TimeDistributed: applies the wrapped layer to every step of a sequence by
// folding time into the batch ([B, T, ...] -> [B*T, ...] and back). The layer that runs
// is a copy of the wrapped one named after the wrapper and tracked as "layer", so that its
// weights are named "time_distributed/kernel" as Keras names them; get_config writes the
// wrapped layer's own config. The wrapped layer gets the mask folded to [B*T, ...]; the
// output mask is its output mask unfolded, else the input mask reduced to [B, T].
class TimeDistributed : public Layer {
 public:
  explicit TimeDistributed(const Config& config);
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override;
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config get_config() const override;

  Outputs run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const;

 private:
  Config layer_config_;
  Config read_build_config_;  // the wrapped layer's build_config as read (tf-keras 2.21), else null
  std::shared_ptr<Layer> inner_;
};

}  // namespace strata::recurrent
