// The cells of SimpleRNN, LSTM and GRU: their weights (Keras's names, shapes and gate
// order) and one step of each recurrence, written in ops.
//
// Layouts (tf-keras 2.17):
//  - SimpleRNN: kernel [F, U], recurrent_kernel [U, U], bias [U];
//    h = activation(x·W + b + h_prev·R).
//  - LSTM: kernel [F, 4U], recurrent_kernel [U, 4U], bias [4U], gates i, f, c, o;
//    c = f⊙c_prev + i⊙activation(z_c), h = o⊙activation(c), with i, f, o through
//    recurrent_activation. unit_forget_bias initialises the f block of the bias to ones.
//  - GRU: kernel [F, 3U], recurrent_kernel [U, 3U], gates z, r, h; bias [2, 3U] (input
//    bias, recurrent bias) with reset_after (the default), else [3U];
//    h = z⊙h_prev + (1 − z)⊙hh, where hh = activation(x_h + r⊙(h_prev·R_h + b_rh)) with
//    reset_after and activation(x_h + (r⊙h_prev)·R_h) without.
#include "recurrent_internal.hpp"
#include "strata/ops.hpp"

namespace strata::recurrent {
namespace {

const char* cell_class(CellKind kind) {
  switch (kind) {
    case CellKind::kSimpleRNN: return "SimpleRNNCell";
    case CellKind::kLSTM: return "LSTMCell";
    case CellKind::kGRU: return "GRUCell";
  }
  return "RNNCell";
}

const char* layer_class(CellKind kind) {
  switch (kind) {
    case CellKind::kSimpleRNN: return "SimpleRNN";
    case CellKind::kLSTM: return "LSTM";
    case CellKind::kGRU: return "GRU";
  }
  return "RNN";
}

// Keras's LSTM bias with unit_forget_bias: [base(U), ones(U), base(2U)].
class UnitForgetBias : public Initializer {
 public:
  UnitForgetBias(std::shared_ptr<Initializer> base, std::int64_t units) : base_(std::move(base)), units_(units) {}
  std::string class_name() const override { return "strata.UnitForgetBias"; }
  Tensor operator()(const Shape& shape, DType dtype) const override {
    STRATA_CHECK(shape == Shape{4 * units_}, ShapeError, "the LSTM bias must have shape (", 4 * units_, ",), got ",
                 shape.to_string());
    auto part = [&](std::int64_t n) { return base_ ? (*base_)(Shape{n}, dtype) : zeros(Shape{n}, dtype); };
    return concat({part(units_), ones(Shape{units_}, dtype), part(2 * units_)}, 0);
  }

 private:
  std::shared_ptr<Initializer> base_;
  std::int64_t units_;
};

double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

Tensor activate(const std::shared_ptr<Activation>& activation, const Tensor& x) {
  return activation ? (*activation)(x) : x;
}

}  // namespace

RecurrentCell::RecurrentCell(CellKind kind, const Config& config)
    : RecurrentCell(kind, config, config, std::string()) {
  standalone_ = true;
}

RecurrentCell::RecurrentCell(CellKind kind, const Config& config, const Config& cell_base, const std::string& subject)
    : Layer(cell_class(kind), cell_base), kind_(kind), subject_(subject.empty() ? ConfigReader::subject_of(*this) : subject) {
  const ConfigReader r(config, subject_);
  units_ = r.required<std::int64_t>("units", Range::positive());
  activation_ = config_activation(config, "activation", "tanh");
  if (kind_ != CellKind::kSimpleRNN) recurrent_activation_ = config_activation(config, "recurrent_activation", "sigmoid");
  use_bias_ = r.optional<bool>("use_bias", true);
  kernel_initializer_ = config_initializer(config, "kernel_initializer", "glorot_uniform");
  recurrent_initializer_ = config_initializer(config, "recurrent_initializer", "orthogonal");
  bias_initializer_ = config_initializer(config, "bias_initializer", "zeros");
  if (kind_ == CellKind::kLSTM) unit_forget_bias_ = r.optional<bool>("unit_forget_bias", true);
  kernel_regularizer_ = config_regularizer(config, "kernel_regularizer");
  recurrent_regularizer_ = config_regularizer(config, "recurrent_regularizer");
  bias_regularizer_ = config_regularizer(config, "bias_regularizer");
  kernel_constraint_ = config_constraint(config, "kernel_constraint");
  recurrent_constraint_ = config_constraint(config, "recurrent_constraint");
  bias_constraint_ = config_constraint(config, "bias_constraint");
  dropout_ = clamp01(r.optional<double>("dropout", 0.0));
  recurrent_dropout_ = clamp01(r.optional<double>("recurrent_dropout", 0.0));
  if (kind_ != CellKind::kSimpleRNN) {
    // LSTM/GRU.from_config turn the deprecated 0 into 1; the cells switch to 1 when
    // recurrent dropout is used.
    implementation_ = static_cast<int>(r.optional<std::int64_t>("implementation", 2));
    if (implementation_ == 0) implementation_ = 1;
    if (recurrent_dropout_ != 0.0) implementation_ = 1;
  }
  if (kind_ == CellKind::kGRU) reset_after_ = r.optional<bool>("reset_after", true);
  if (config.contains("enable_caching_device") && !config["enable_caching_device"].is_null()) {
    enable_caching_device_ = r.optional<bool>("enable_caching_device", true);
  }
}

int RecurrentCell::gates() const noexcept {
  switch (kind_) {
    case CellKind::kLSTM: return 4;
    case CellKind::kGRU: return 3;
    default: return 1;
  }
}

int RecurrentCell::input_mask_count() const noexcept { return implementation_ == 1 ? gates() : 1; }
int RecurrentCell::recurrent_mask_count() const noexcept { return implementation_ == 1 ? gates() : 1; }

void RecurrentCell::build(const std::vector<Shape>& input_shapes) {
  STRATA_CHECK(!input_shapes.empty() && input_shapes[0].has_known_rank() && input_shapes[0].rank() >= 1 &&
                   input_shapes[0].dim(-1) > 0,
               ShapeError, "cell '", name(), "' needs step inputs with a known feature dimension, got ",
               input_shapes.empty() ? std::string("nothing") : input_shapes[0].to_string());
  const std::int64_t input_dim = input_shapes[0].dim(-1);
  // units comes from a file: weights too large to count are refused before any allocation.
  const std::int64_t width = checked_mul(gates(), units_, subject_ + ": the kernel width");
  checked_element_count({input_dim, width}, subject_ + ": the kernel");
  checked_element_count({units_, width}, subject_ + ": the recurrent kernel");
  WeightSpec spec;
  spec.name = "kernel";
  spec.shape = Shape{input_dim, width};
  spec.initializer = kernel_initializer_;
  spec.regularizer = kernel_regularizer_;
  spec.constraint = kernel_constraint_;
  kernel_ = add_weight(spec);
  spec.name = "recurrent_kernel";
  spec.shape = Shape{units_, width};
  spec.initializer = recurrent_initializer_;
  spec.regularizer = recurrent_regularizer_;
  spec.constraint = recurrent_constraint_;
  recurrent_kernel_ = add_weight(spec);
  if (use_bias_) {
    spec.name = "bias";
    spec.shape = kind_ == CellKind::kGRU && reset_after_ ? Shape{2, width} : Shape{width};
    spec.initializer = bias_initializer_;
    if (kind_ == CellKind::kLSTM && unit_forget_bias_) spec.initializer = std::make_shared<UnitForgetBias>(bias_initializer_, units_);
    spec.regularizer = bias_regularizer_;
    spec.constraint = bias_constraint_;
    bias_ = add_weight(spec);
  }
}

std::vector<Tensor> RecurrentCell::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  STRATA_CHECK(standalone_, ValueError, "cell '", name(), "' (", class_name(), ") runs only inside its ",
               layer_class(kind_), " layer; call the layer instead");
  STRATA_CHECK(static_cast<int>(inputs.size()) == 1 + num_states(), ValueError, subject_,
               " takes the step inputs and its ", num_states(), " state(s); got ", inputs.size(), " inputs");
  const Tensor& x = inputs[0];
  STRATA_CHECK(x.shape().has_known_rank() && x.shape().rank() == 2, ShapeError, subject_,
               " expects step inputs of rank 2 (batch, features), got ", x.shape().to_string());
  const std::vector<Tensor> states(inputs.begin() + 1, inputs.end());
  for (std::size_t i = 0; i < states.size(); ++i) {
    const Shape& s = states[i].shape();
    STRATA_CHECK(s.has_known_rank() && s.rank() == 2 && (s.dim(1) < 0 || s.dim(1) == units_), ShapeError, subject_,
                 ": state ", i, " must have shape (batch, ", units_, "), got ", s.to_string());
  }
  // Dropout in training: new masks in every call (a standalone tf-keras cell keeps the masks
  // it drew until they are reset), drawn when the batch size is known (always when a model
  // runs; only shape inference sees an unknown batch).
  std::vector<Tensor> input_masks, recurrent_masks;
  const std::int64_t batch = x.shape().dim(0);
  auto mask = [&](std::int64_t width, double rate) {
    const Tensor u = random_uniform(Shape{batch, width}, dtype(), 0.0, 1.0, std::nullopt, x.device());
    return cast(greater_equal(u, scalar_like(u, rate)), dtype()) * (1.0 / (1.0 - rate));
  };
  if (ctx.training && batch >= 0 && !x.is_symbolic()) {
    if (dropout_ > 0.0 && dropout_ < 1.0) {
      for (int i = 0; i < input_mask_count(); ++i) input_masks.push_back(mask(x.shape().dim(1), dropout_));
    }
    if (recurrent_dropout_ > 0.0 && recurrent_dropout_ < 1.0) {
      for (int i = 0; i < recurrent_mask_count(); ++i) recurrent_masks.push_back(mask(units_, recurrent_dropout_));
    }
  }
  std::vector<Tensor> next = make_step(recurrent_masks)(project(x, input_masks), states);
  std::vector<Tensor> out{next[0]};
  out.insert(out.end(), next.begin(), next.end());
  return out;
}

Config RecurrentCell::get_config() const {
  Config c = Layer::get_config();
  write_config(c, nullptr, /*in_layer=*/false);
  return c;
}

void RecurrentCell::set_call_arguments(const Config& given) {
  STRATA_CHECK(given.is_object() && given.contains("args") && given["args"].is_array() && !given["args"].empty() &&
                   given.contains("kwargs") && given["kwargs"].is_object(),
               FormatError, subject_, ": call arguments must be {\"args\": [inputs], \"kwargs\": {...}}, got ",
               given.dump());
  // A Keras 3 node: cell(inputs, states, training) may pass the states by position.
  const Config arguments = layers::positional_as_keywords(given, {"states", "training"}, subject_);
  for (auto it = arguments["kwargs"].begin(); it != arguments["kwargs"].end(); ++it) {
    STRATA_CHECK(it.key() == "states" || it.key() == "training", FormatError, subject_,
                 " is called with the argument '", it.key(), "'; a cell takes its inputs and 'states'");
  }
  call_arguments_ = arguments;
}

Config RecurrentCell::call_arguments() const {
  Config a = call_arguments_;
  if (a.is_null()) {
    // A cell called in C++ on [x, *states]: tf-keras's form of cell(x, states=[...]).
    Config states = Config::array();
    for (int i = 0; i < num_states(); ++i) states.push_back(Config{{"strata.tensor", i + 1}});
    a = Config{{"args", Config::array({Config::array({Config{{"strata.tensor", 0}}})})},
               {"kwargs", Config{{"states", states}}}};
  }
  // tf-keras's cells return the tuple (output, new_states): an LSTMCell's states as a list,
  // the other cells' as the call gave them (a list, or one tensor). Summaries print it.
  const bool listed = kind_ == CellKind::kLSTM || (a["kwargs"].contains("states") && a["kwargs"]["states"].is_array());
  Config states = Config::array();
  for (int i = 0; i < num_states(); ++i) states.push_back(i + 1);
  a["outputs"] = Config{{"tuple", Config::array({0, listed ? states : Config(1)})}};
  return a;
}

Tensor RecurrentCell::project(const Tensor& steps, const std::vector<Tensor>& input_masks) const {
  const Tensor kernel = read(kernel_);
  Tensor projected;
  if (input_masks.empty()) {
    projected = matmul(steps, kernel);
  } else if (input_masks.size() == 1) {
    projected = matmul(steps * input_masks[0], kernel);
  } else {
    // Implementation 1: each gate sees the inputs through its own dropout mask.
    const auto blocks = split(kernel, gates(), 1);
    std::vector<Tensor> parts;
    for (int g = 0; g < gates(); ++g) parts.push_back(matmul(steps * input_masks[static_cast<std::size_t>(g)], blocks[static_cast<std::size_t>(g)]));
    projected = concat(parts, 1);
  }
  if (!use_bias_) return projected;
  Tensor input_bias = read(bias_);
  if (kind_ == CellKind::kGRU && reset_after_) input_bias = reshape(split(input_bias, 2, 0)[0], Shape{gates() * units_});
  return bias_add(projected, input_bias);
}

RecurrentCell::Step RecurrentCell::make_step(const std::vector<Tensor>& recurrent_masks) const {
  STRATA_CHECK(built(), ValueError, "cell '", name(), "' is not built");
  switch (kind_) {
    case CellKind::kLSTM: return make_lstm_step(recurrent_masks);
    case CellKind::kGRU: return make_gru_step(recurrent_masks);
    default: return make_simple_step(recurrent_masks);
  }
}

RecurrentCell::Step RecurrentCell::make_simple_step(const std::vector<Tensor>& masks) const {
  const Tensor rk = read(recurrent_kernel_);
  auto activation = activation_;
  return [rk, activation, masks](const Tensor& projected, const std::vector<Tensor>& states) {
    const Tensor h = masks.empty() ? states[0] : states[0] * masks[0];
    return std::vector<Tensor>{activate(activation, projected + matmul(h, rk))};
  };
}

RecurrentCell::Step RecurrentCell::make_lstm_step(const std::vector<Tensor>& masks) const {
  const Tensor rk = read(recurrent_kernel_);
  std::vector<Tensor> rk_blocks;
  if (!masks.empty()) rk_blocks = split(rk, 4, 1);
  auto act = activation_;
  auto ract = recurrent_activation_;
  return [rk, rk_blocks, act, ract, masks](const Tensor& projected, const std::vector<Tensor>& states) {
    const Tensor& h = states[0];
    const Tensor& c = states[1];
    std::vector<Tensor> z;
    if (masks.empty()) {
      z = split(projected + matmul(h, rk), 4, 1);
    } else {
      // Implementation 1 with recurrent dropout: one mask per gate.
      const auto x = split(projected, 4, 1);
      for (std::size_t g = 0; g < 4; ++g) {
        const Tensor& m = masks.size() == 4 ? masks[g] : masks[0];
        z.push_back(x[g] + matmul(h * m, rk_blocks[g]));
      }
    }
    const Tensor i = activate(ract, z[0]);
    const Tensor f = activate(ract, z[1]);
    const Tensor c_new = f * c + i * activate(act, z[2]);
    const Tensor o = activate(ract, z[3]);
    return std::vector<Tensor>{o * activate(act, c_new), c_new};
  };
}

RecurrentCell::Step RecurrentCell::make_gru_step(const std::vector<Tensor>& masks) const {
  const std::int64_t units = units_;
  const Tensor rk = read(recurrent_kernel_);
  const auto rk_blocks = split(rk, 3, 1);
  Tensor recurrent_bias;
  std::vector<Tensor> rb_blocks;
  if (use_bias_ && reset_after_) {
    recurrent_bias = reshape(split(read(bias_), 2, 0)[1], Shape{3 * units});
    if (!masks.empty()) rb_blocks = split(recurrent_bias, 3, 0);
  }
  Tensor rk_zr;
  if (!reset_after_ && masks.empty()) rk_zr = concat({rk_blocks[0], rk_blocks[1]}, 1);
  const bool reset_after = reset_after_;
  auto act = activation_;
  auto ract = recurrent_activation_;
  return [=](const Tensor& projected, const std::vector<Tensor>& states) {
    const Tensor& h = states[0];
    const auto x = split(projected, 3, 1);
    auto masked = [&](std::size_t g) { return masks.empty() ? h : h * (masks.size() == 3 ? masks[g] : masks[0]); };
    Tensor rz, rr, hh;
    if (reset_after) {
      Tensor rh;
      if (masks.empty()) {
        Tensor inner = matmul(h, rk);
        if (recurrent_bias.defined()) inner = bias_add(inner, recurrent_bias);
        const auto parts = split(inner, 3, 1);
        rz = parts[0];
        rr = parts[1];
        rh = parts[2];
      } else {
        rz = matmul(masked(0), rk_blocks[0]);
        rr = matmul(masked(1), rk_blocks[1]);
        rh = matmul(masked(2), rk_blocks[2]);
        if (!rb_blocks.empty()) {
          rz = bias_add(rz, rb_blocks[0]);
          rr = bias_add(rr, rb_blocks[1]);
          rh = bias_add(rh, rb_blocks[2]);
        }
      }
      const Tensor z = activate(ract, x[0] + rz);
      const Tensor r = activate(ract, x[1] + rr);
      hh = activate(act, x[2] + r * rh);
      return std::vector<Tensor>{z * h + (1.0 - z) * hh};
    }
    if (masks.empty()) {
      const auto parts = split(matmul(h, rk_zr), 2, 1);
      rz = parts[0];
      rr = parts[1];
    } else {
      rz = matmul(masked(0), rk_blocks[0]);
      rr = matmul(masked(1), rk_blocks[1]);
    }
    const Tensor z = activate(ract, x[0] + rz);
    const Tensor r = activate(ract, x[1] + rr);
    hh = activate(act, x[2] + matmul(r * masked(2), rk_blocks[2]));
    return std::vector<Tensor>{z * h + (1.0 - z) * hh};
  };
}

void RecurrentCell::write_config(Config& c, const Regularizer* activity_regularizer, bool in_layer) const {
  c["units"] = units_;
  c["activation"] = activation_config(activation_);
  if (kind_ != CellKind::kSimpleRNN) c["recurrent_activation"] = activation_config(recurrent_activation_);
  c["use_bias"] = use_bias_;
  c["kernel_initializer"] = serialized_or_null(kernel_initializer_.get(), ObjectKind::kInitializer);
  c["recurrent_initializer"] = serialized_or_null(recurrent_initializer_.get(), ObjectKind::kInitializer);
  c["bias_initializer"] = serialized_or_null(bias_initializer_.get(), ObjectKind::kInitializer);
  if (kind_ == CellKind::kLSTM) c["unit_forget_bias"] = unit_forget_bias_;
  c["kernel_regularizer"] = serialized_or_null(kernel_regularizer_.get(), ObjectKind::kRegularizer);
  c["recurrent_regularizer"] = serialized_or_null(recurrent_regularizer_.get(), ObjectKind::kRegularizer);
  c["bias_regularizer"] = serialized_or_null(bias_regularizer_.get(), ObjectKind::kRegularizer);
  if (in_layer) c["activity_regularizer"] = serialized_or_null(activity_regularizer, ObjectKind::kRegularizer);
  c["kernel_constraint"] = serialized_or_null(kernel_constraint_.get(), ObjectKind::kConstraint);
  c["recurrent_constraint"] = serialized_or_null(recurrent_constraint_.get(), ObjectKind::kConstraint);
  c["bias_constraint"] = serialized_or_null(bias_constraint_.get(), ObjectKind::kConstraint);
  c["dropout"] = dropout_;
  c["recurrent_dropout"] = recurrent_dropout_;
  if (kind_ != CellKind::kSimpleRNN) c["implementation"] = implementation_;
  if (kind_ == CellKind::kGRU) c["reset_after"] = reset_after_;
  if (enable_caching_device_) c["enable_caching_device"] = *enable_caching_device_;
}

}  // namespace strata::recurrent
