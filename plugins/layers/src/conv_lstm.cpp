// ConvLSTM1D, ConvLSTM2D and ConvLSTM3D: an LSTM whose input and recurrent transformations
// are convolutions (tf-keras's ConvLSTM over ConvRNN and ConvLSTMCell).
//
// Semantics follow tf-keras 2.21; the time loop is the RNN layers' (recurrent_loop.hpp, with
// keras.backend.rnn's semantics): go_backwards processes the steps last to first and returns
// the sequence in that order; at a masked step the states keep their values and the output
// repeats the previous step's; the output mask is the input mask with return_sequences; stateful layers carry their final states to the next call; initial
// states come as extra inputs [sequence, h, c]. The cell's gates are (i, f, c, o):
//   i = ra(x*Wi + bi + h*Ui), f = ra(x*Wf + bf + h*Uf), c' = f c + i a(x*Wc + bc + h*Uc),
//   o = ra(x*Wo + bo + h*Uo), h' = o a(c'),
// where * is the input convolution (the layer's strides, padding and dilation) or the
// recurrent one (stride 1, "same", no dilation). The weights belong to a child tracked as
// "cell" (checkpoint keys cell/kernel), named "conv_lstm2d/kernel" as tf-keras names them.
//
// Everything runs channels_last: channels_first inputs and states are transposed on the way
// in and out. 1-D convolutions are 2-D ones over a height-1 image; 3-D ones are a sum over
// the kernel's depth taps of 2-D convolutions of the depth planes each tap reads (the depth,
// height and width must be known when the layer runs).
#include <algorithm>
#include <numeric>

#include "call_arguments_state.hpp"
#include "common.hpp"
#include "recurrent_loop.hpp"
#include "strata/graph.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/stateful.hpp"

namespace strata::layers {
namespace {

// tf-keras's LSTM bias with unit_forget_bias: [base(F), ones(F), base(2F)].
class ForgetBias : public Initializer {
 public:
  ForgetBias(std::shared_ptr<Initializer> base, std::int64_t filters) : base_(std::move(base)), filters_(filters) {}
  std::string class_name() const override { return "strata.ConvLSTMForgetBias"; }
  Tensor operator()(const Shape& shape, DType dtype) const override {
    STRATA_CHECK(shape == Shape{4 * filters_}, ShapeError, "the ConvLSTM bias must have shape (", 4 * filters_,
                 ",), got ", shape.to_string());
    auto part = [&](std::int64_t n) { return base_ ? (*base_)(Shape{n}, dtype) : zeros(Shape{n}, dtype); };
    return concat({part(filters_), ones(Shape{filters_}, dtype), part(2 * filters_)}, 0);
  }

 private:
  std::shared_ptr<Initializer> base_;
  std::int64_t filters_;
};

Padding op_padding(const std::string& padding) {
  return padding == "same" ? Padding::kSame : Padding::kValid;
}

// The convolution of x (batch, spatial..., channels) with kernel (k..., channels, out) in
// `rank` spatial dimensions, as tf.nn.convolution computes it.
Tensor conv_nd(const Tensor& x, const Tensor& kernel, std::size_t rank, const std::vector<std::int64_t>& strides,
               const std::string& padding, const std::vector<std::int64_t>& dilation, const std::string& subject) {
  const Padding p = op_padding(padding);
  if (rank == 1) {
    const Tensor y = conv2d(expand_dims(x, 1), expand_dims(kernel, 0), {1, strides[0]}, p, {1, dilation[0]});
    return squeeze(y, {1});
  }
  if (rank == 2) return conv2d(x, kernel, {strides[0], strides[1]}, p, {dilation[0], dilation[1]});
  const auto& d = x.shape().dims();
  STRATA_CHECK(d[1] >= 0 && d[2] >= 0 && d[3] >= 0, ShapeError, subject,
               ": the depth, height and width of the inputs must be known, got ", x.shape().to_string());
  const std::int64_t depth = d[1], kd = kernel.shape().dim(0), s = strides[0], r = dilation[0];
  const std::int64_t span = (kd - 1) * r + 1;
  std::int64_t out = 0, left = 0, right = 0;
  if (padding == "same") {
    out = (depth + s - 1) / s;
    const std::int64_t total = std::max<std::int64_t>((out - 1) * s + span - depth, 0);
    left = total / 2;
    right = total - left;
  } else {
    STRATA_CHECK(depth >= span, ShapeError, subject, ": the input depth ", depth,
                 " is smaller than the dilated kernel depth ", span, " (padding \"valid\")");
    out = (depth - span) / s + 1;
  }
  const Tensor padded = left + right > 0 ? pad(x, {{0, 0}, {left, right}, {0, 0}, {0, 0}, {0, 0}}) : x;
  const std::vector<Tensor> taps = kd == 1 ? std::vector<Tensor>{kernel} : split(kernel, kd, 0);
  Tensor sum;
  for (std::int64_t k = 0; k < kd; ++k) {
    std::vector<std::int64_t> planes;
    for (std::int64_t j = 0; j < out; ++j) planes.push_back(k * r + j * s);
    const Tensor picked =
        gather(padded, Tensor::from_vector<std::int64_t>(planes, Shape{out}, padded.device()), 1);  // (B, out, H, W, C)
    const Tensor images = reshape(picked, Shape{-1, d[2], d[3], d[4]});
    const Tensor y = conv2d(images, squeeze(taps[static_cast<std::size_t>(k)], {0}), {strides[1], strides[2]}, p,
                            {dilation[1], dilation[2]});
    sum = sum.defined() ? sum + y : y;
  }
  const auto& yd = sum.shape().dims();
  return reshape(sum, Shape{-1, out, yd[1], yd[2], yd[3]});
}

// Everything of the config the cell needs to make its weights.
struct CellSettings {
  std::int64_t filters = 0;
  std::vector<std::int64_t> kernel_size;
  bool use_bias = true, unit_forget_bias = true;
  std::shared_ptr<Initializer> kernel_initializer, recurrent_initializer, bias_initializer;
  std::shared_ptr<Regularizer> kernel_regularizer, recurrent_regularizer, bias_regularizer;
  std::shared_ptr<Constraint> kernel_constraint, recurrent_constraint, bias_constraint;
};

// tf-keras's ConvLSTMCell as the layer's child "cell": it holds the weights kernel
// (k..., channels, 4 filters), recurrent_kernel (k..., filters, 4 filters) and bias
// (4 filters). Named after its layer so that its weights are "conv_lstm2d/kernel", as
// tf-keras's (whose cell makes them in the layer's scope). Never called as a layer.
class ConvLSTMCell : public Layer {
 public:
  ConvLSTMCell(const Config& base, const CellSettings& settings) : Layer("ConvLSTMCell", base), s_(settings) {}

  void build(const std::vector<Shape>& shapes) override {
    const std::int64_t channels = shapes.at(0).dims().back();
    const std::int64_t width = checked_mul(4, s_.filters, "layer '" + name() + "': the kernel width");
    std::vector<std::int64_t> k = s_.kernel_size;
    k.push_back(channels);
    k.push_back(width);
    checked_element_count(k, "layer '" + name() + "': the kernel");
    kernel_ = add_weight("kernel", Shape(k), s_.kernel_initializer, true, s_.kernel_regularizer, s_.kernel_constraint);
    k[k.size() - 2] = s_.filters;
    checked_element_count(k, "layer '" + name() + "': the recurrent kernel");
    recurrent_kernel_ = add_weight("recurrent_kernel", Shape(k), s_.recurrent_initializer, true,
                                   s_.recurrent_regularizer, s_.recurrent_constraint);
    if (s_.use_bias) {
      std::shared_ptr<Initializer> init = s_.bias_initializer;
      if (s_.unit_forget_bias) init = std::make_shared<ForgetBias>(s_.bias_initializer, s_.filters);
      bias_ = add_weight("bias", Shape{width}, init, true, s_.bias_regularizer, s_.bias_constraint);
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>&, const CallContext&) const override {
    STRATA_THROW(ValueError, "the cell of ConvLSTM layer '", name(), "' runs only inside its layer");
  }

  const Variable& kernel() const { return kernel_; }
  const Variable& recurrent_kernel() const { return recurrent_kernel_; }
  const Variable& bias() const { return bias_; }

 private:
  CellSettings s_;
  Variable kernel_, recurrent_kernel_, bias_;
};

bool dropout_active(double rate) {
  return rate > 0.0 && rate < 1.0;
}
double clamp01(double v) {
  return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

// Inverted dropout masks of x's shape (dimensions unknown now are x's when the graph runs).
Tensor dropout_mask(const Tensor& x, double rate) {
  const Tensor u = uniform_noise_like(x, x.shape(), std::nullopt);
  return cast(greater_equal(u, scalar_like(u, rate)), x.dtype()) * (1.0 / (1.0 - rate));
}

bool is_placeholder(const Config& v) {
  return v.is_object() && v.size() == 1 && v.contains("strata.tensor");
}

// A call on `inputs` tensors made from C++, in tf-keras's form: [sequence, h, c] as the first
// argument.
Config default_arguments(std::size_t inputs) {
  Config first = Config::array();
  for (std::size_t i = 0; i < inputs; ++i) first.push_back(Config{{"strata.tensor", i}});
  return Config{{"args", Config::array({first})}, {"kwargs", Config::object()}};
}

// Call arguments (strata/plugin/call_arguments.hpp), as for the RNN layers
// (recurrent_call_arguments.cpp): tf-keras writes `layer(x, initial_state=[h, c])` as the
// node [x, h, c]; Keras 3 as {"args": [x], "kwargs": {"initial_state": [h, c]}}. Both arrive
// as inputs [x, h, c]; nodes are written in tf-keras's form.
class ConvLSTM : public Layer, public StateVariablesLayer, public CallArgumentsLayer {
 public:
  ConvLSTM(std::string class_name, const Config& c, std::size_t rank) : Layer(std::move(class_name), c), rank_(rank) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    return_sequences_ = r.optional<bool>("return_sequences", false);
    return_state_ = r.optional<bool>("return_state", false);
    go_backwards_ = r.optional<bool>("go_backwards", false);
    stateful_ = r.optional<bool>("stateful", false);
    const bool unroll = r.optional<bool>("unroll", false);
    STRATA_CHECK(!unroll, ValueError, r.describe("unroll=True is not possible with convolutional RNNs (as in Keras)"));
    const bool time_major = r.optional<bool>("time_major", false);
    STRATA_CHECK(!time_major, ValueError,
                 r.describe("time_major=True is not supported; give inputs as (batch, timesteps, ...)"));
    zero_output_for_mask_ = r.optional<bool>("zero_output_for_mask", false);
    s_.filters = r.required<std::int64_t>("filters", Range::positive());
    s_.kernel_size = r.int_tuple("kernel_size", rank_, Range::positive());
    strides_ = r.int_tuple("strides", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
    padding_ = r.one_of("padding", {"valid", "same"}, "valid");
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
    dilation_rate_ = r.int_tuple("dilation_rate", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
    for (std::size_t i = 0; i < rank_; ++i) {
      checked_add(checked_mul(s_.kernel_size[i] - 1, dilation_rate_[i], r.describe("the dilated kernel")), 1,
                  r.describe("the dilated kernel"));
    }
    auto activation = [&](const char* key, const char* fallback) {
      auto f = ErrorContext::push("reading '", key, "'");
      const Config* v = find_key(c, key);
      return layer_activation(c, v ? *v : Config(fallback));
    };
    activation_ = activation("activation", "tanh");
    recurrent_activation_ = activation("recurrent_activation", "hard_sigmoid");
    s_.use_bias = r.optional<bool>("use_bias", true);
    s_.kernel_initializer = initializer_at(c, "kernel_initializer", "glorot_uniform");
    s_.recurrent_initializer = initializer_at(c, "recurrent_initializer", "orthogonal");
    s_.bias_initializer = initializer_at(c, "bias_initializer", "zeros");
    s_.unit_forget_bias = r.optional<bool>("unit_forget_bias", true);
    s_.kernel_regularizer = regularizer_at(c, "kernel_regularizer");
    s_.recurrent_regularizer = regularizer_at(c, "recurrent_regularizer");
    s_.bias_regularizer = regularizer_at(c, "bias_regularizer");
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
    s_.kernel_constraint = constraint_at(c, "kernel_constraint");
    s_.recurrent_constraint = constraint_at(c, "recurrent_constraint");
    s_.bias_constraint = constraint_at(c, "bias_constraint");
    dropout_ = clamp01(r.optional<double>("dropout", 0.0));
    recurrent_dropout_ = clamp01(r.optional<double>("recurrent_dropout", 0.0));
    if (c.is_object() && c.contains("seed")) seed_ = c["seed"];  // Keras 3's; written back as read
    Config base = Config::object();
    base["name"] = name();
    base["trainable"] = trainable();
    base["dtype"] = std::string(dtype_name(dtype()));
    cell_ = std::make_shared<ConvLSTMCell>(base, s_);
    track("cell", cell_);
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& all_shapes) override {
    STRATA_CHECK(!all_shapes.empty(), ValueError, subject(), " needs an input");
    // Without the mask given as a tensor argument (the call's last input).
    const Config next = arguments_.peek(*this, all_shapes.size(), default_arguments);
    const bool mask_input = next.contains("kwargs") && next["kwargs"].is_object() && next["kwargs"].contains("mask") &&
                            is_placeholder(next["kwargs"]["mask"]) &&
                            next["kwargs"]["mask"]["strata.tensor"] == all_shapes.size() - 1;
    const std::vector<Shape> shapes(all_shapes.begin(), all_shapes.end() - (mask_input ? 1 : 0));
    const Shape& in = shapes[0];
    check_input(in);
    const Shape step = channels_last_step(in);
    STRATA_CHECK(step.dims().back() > 0, ShapeError, subject(),
                 ": the channel dimension of the inputs should be defined, got inputs of shape ", in.to_string());
    if (shapes.size() > 1) {
      STRATA_CHECK(shapes.size() == 3, ValueError, subject(), " has 2 states but was given ", shapes.size() - 1,
                   " initial state(s)");
      const std::size_t channel_axis = data_format_ == "channels_first" ? 1 : rank_ + 1;
      for (std::size_t i = 1; i < 3; ++i) {
        const Shape& s = shapes[i];
        STRATA_CHECK(s.has_known_rank() && s.rank() == rank_ + 2 &&
                         (s.dim(static_cast<std::int64_t>(channel_axis)) < 0 ||
                          s.dim(static_cast<std::int64_t>(channel_axis)) == s_.filters),
                     ShapeError, subject(), ": initial state ", i - 1, " must have ", rank_ + 2, " dimensions and ",
                     s_.filters, " channels, got ", s.to_string());
      }
    }
    cell_->ensure_built({step});
    if (stateful_) {
      const Shape state = state_shape(in);
      STRATA_CHECK(state.is_fully_defined(), ValueError, subject(),
                   " is stateful and needs to know its batch size and spatial dimensions: give the model's input a "
                   "fixed batch size (batch_input_shape / Input(..., batch_size=...)), got inputs of shape ",
                   in.to_string());
      for (int i = 0; i < 2; ++i) {
        states_.emplace_back(name() + "/state_" + std::to_string(i), zeros(state, dtype()), /*trainable=*/false);
      }
    }
  }

  std::vector<Shape> compute_output_shape(const std::vector<Shape>& shapes) const override {
    STRATA_CHECK(!shapes.empty(), ValueError, subject(), " needs an input");
    check_input(shapes[0]);
    const Shape state = state_shape(shapes[0]);
    std::vector<Shape> out;
    if (return_sequences_) {
      std::vector<std::int64_t> d = state.dims();
      d.insert(d.begin() + 1, shapes[0].dim(1));
      out.push_back(Shape(d));
    } else {
      out.push_back(state);
    }
    if (return_state_) {
      out.push_back(state);
      out.push_back(state);
    }
    return out;
  }

  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const override {
    return output_masks(masks.empty() ? Tensor() : masks[0]);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    return call_and_mask(inputs, ctx).tensors;
  }

  Outputs call_and_mask(const std::vector<Tensor>& all_inputs, const CallContext& ctx) const override {
    const Config arguments = arguments_.for_call(*this, all_inputs, default_arguments);
    // A mask given as a tensor argument (Keras 3's node) is the call's last input and wins over
    // the sequence's keras mask, as in Keras.
    const Config* mask_arg = arguments.contains("kwargs") && arguments["kwargs"].is_object() &&
                                     arguments["kwargs"].contains("mask")
                                 ? &arguments["kwargs"]["mask"]
                                 : nullptr;
    // (A deferred call runs with the mask alone, without that input.)
    const bool mask_input = mask_arg != nullptr && is_placeholder(*mask_arg) && all_inputs.size() > 1 &&
                            (*mask_arg)["strata.tensor"] == all_inputs.size() - 1;
    const std::vector<Tensor> inputs(all_inputs.begin(), all_inputs.end() - (mask_input ? 1 : 0));
    STRATA_CHECK(inputs.size() == 1 || inputs.size() == 3, ValueError, subject(),
                 " takes the sequence and optionally its 2 initial states (h, c); got ", inputs.size(), " inputs");
    check_input(inputs[0].shape());
    const Tensor mask = mask_input ? all_inputs.back() : ctx.masks.empty() ? Tensor() : ctx.masks[0];
    const bool symbolic = std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); }) ||
                          (mask.defined() && mask.is_symbolic());
    // A stateful layer traced into a graph could not carry its states: it runs when executed.
    if (symbolic && (inputs[0].shape().dim(1) < 0 || stateful_)) return defer(inputs, mask, ctx.training);
    return run(inputs, mask, ctx.training);
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["return_sequences"] = return_sequences_;
    c["return_state"] = return_state_;
    c["go_backwards"] = go_backwards_;
    c["stateful"] = stateful_;
    c["unroll"] = false;
    c["time_major"] = false;
    if (zero_output_for_mask_) c["zero_output_for_mask"] = true;
    c["filters"] = s_.filters;
    c["kernel_size"] = int_list(s_.kernel_size);
    c["strides"] = int_list(strides_);
    c["padding"] = padding_;
    c["data_format"] = data_format_;
    c["dilation_rate"] = int_list(dilation_rate_);
    c["activation"] = activation_config(activation_);
    c["recurrent_activation"] = activation_config(recurrent_activation_);
    c["use_bias"] = s_.use_bias;
    c["kernel_initializer"] = serialized_or_null(s_.kernel_initializer);
    c["recurrent_initializer"] = serialized_or_null(s_.recurrent_initializer);
    c["bias_initializer"] = serialized_or_null(s_.bias_initializer);
    c["unit_forget_bias"] = s_.unit_forget_bias;
    c["kernel_regularizer"] = serialized_or_null(s_.kernel_regularizer);
    c["recurrent_regularizer"] = serialized_or_null(s_.recurrent_regularizer);
    c["bias_regularizer"] = serialized_or_null(s_.bias_regularizer);
    c["activity_regularizer"] = serialized_or_null(activity_regularizer_);
    c["kernel_constraint"] = serialized_or_null(s_.kernel_constraint);
    c["recurrent_constraint"] = serialized_or_null(s_.recurrent_constraint);
    c["bias_constraint"] = serialized_or_null(s_.bias_constraint);
    c["dropout"] = dropout_;
    c["recurrent_dropout"] = recurrent_dropout_;
    if (seed_) c["seed"] = *seed_;
    return c;
  }

  void set_call_arguments(const Config& arguments) override {
    const std::string subject = ConfigReader::subject_of(*this);
    STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                     !arguments["args"].empty() && (!arguments.contains("kwargs") || arguments["kwargs"].is_object()),
                 FormatError, subject, ": call arguments must be {\"args\": [inputs], \"kwargs\": {...}}, got ",
                 arguments.dump());
    // Keras 3's ConvLSTM.call(sequences, initial_state=None, mask=None, training=None).
    Config a = positional_as_keywords(arguments, {"initial_state", "mask", "training"}, subject);
    Config& first = a["args"][0];
    if (!first.is_array()) first = Config::array({first});
    Config kwargs = Config::object();
    const Config given = a.value("kwargs", Config::object());
    for (const auto& [key, v] : given.items()) {
      if (key == "initial_state") {
        if (v.is_array()) {
          for (const auto& state : v) first.push_back(state);
        } else if (!v.is_null()) {
          first.push_back(v);
        }
        continue;
      }
      if (key == "training") {
        STRATA_CHECK(v.is_null() || v.is_boolean(), FormatError, subject,
                     ": the call argument 'training' must be true, false or null, got ", v.dump());
      } else if (key == "mask" && is_placeholder(v)) {
        // Keras 3 writes the mask it passed (the input's keras mask, computed by op layers such
        // as NotEqual and Any after Masking) as a tensor argument: the call's last input.
      } else if (key == "mask" || key == "constants") {
        STRATA_CHECK(count_call_tensors(v) == 0, FormatError, subject, ": the call argument '", key,
                     "' given as a tensor is not supported",
                     key == "mask" ? "; a mask must be one tensor" : " (RNN constants)");
      } else {
        STRATA_THROW(FormatError, subject, ": unknown call argument '", key, "' (", v.dump(),
                     "); a ConvLSTM layer takes its sequence, initial_state, mask and training");
      }
      kwargs[key] = v;
    }
    a["kwargs"] = kwargs;
    STRATA_CHECK(first.size() == 1 || first.size() == 3, FormatError, subject,
                 ": the call's tensors must be the sequence and optionally its 2 initial states (h, c), got ",
                 first.dump());
    for (std::size_t i = 0; i < first.size(); ++i) {
      STRATA_CHECK(is_placeholder(first[i]) && first[i]["strata.tensor"] == i, FormatError, subject,
                   ": the call's tensors must be the sequence and then the initial states h and c, got ", first.dump());
    }
    if (kwargs.contains("mask") && is_placeholder(kwargs["mask"])) {
      STRATA_CHECK(kwargs["mask"]["strata.tensor"] == first.size(), FormatError, subject,
                   ": the mask tensor must follow the sequence and its states, got ", a.dump());
    }
    arguments_.set(a);
  }
  Config call_arguments() const override {
    return arguments_.latest(
        [this] { return default_arguments(std::max<std::size_t>(1, build_input_shapes().size())); });
  }

  std::vector<Variable> state_variables() const override { return states_; }
  void reset_own_states() override {
    for (auto& s : states_) s.assign(zeros(s.shape(), s.dtype(), s.device()));
  }
  void to(const Device& device) override {
    Layer::to(device);
    for (auto& s : states_) s.to(device);
  }

 private:
  std::string subject() const { return ConfigReader::subject_of(*this); }
  bool channels_first() const { return data_format_ == "channels_first"; }

  void check_input(const Shape& in) const {
    STRATA_CHECK(in.has_known_rank() && in.rank() == rank_ + 3, ShapeError, subject(), " expects inputs of rank ",
                 rank_ + 3, " (batch, timesteps, ", rank_, " spatial dimensions and channels), got ", in.to_string());
  }

  // (batch, spatial..., channels) of one step.
  Shape channels_last_step(const Shape& in) const {
    std::vector<std::int64_t> d{in.dim(0)};
    const auto& all = in.dims();
    if (channels_first()) {
      d.insert(d.end(), all.begin() + 3, all.end());
      d.push_back(all[2]);
    } else {
      d.insert(d.end(), all.begin() + 2, all.end());
    }
    return Shape(d);
  }

  // The spatial lengths of the outputs (unknown in, unknown out).
  std::vector<std::int64_t> output_lengths(const Shape& in) const {
    const Shape step = channels_last_step(in);
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < rank_; ++i) {
      out.push_back(conv_output_length(step.dim(static_cast<std::int64_t>(i + 1)), s_.kernel_size[i], padding_,
                                       strides_[i], dilation_rate_[i]));
    }
    return out;
  }

  // A state's shape (and a step output's) in the layer's data format.
  Shape state_shape(const Shape& in) const {
    std::vector<std::int64_t> d{in.dim(0)};
    const auto lengths = output_lengths(in);
    if (channels_first()) d.push_back(s_.filters);
    d.insert(d.end(), lengths.begin(), lengths.end());
    if (!channels_first()) d.push_back(s_.filters);
    return Shape(d);
  }

  // Permutations between the data formats of a tensor with `lead` leading axes.
  std::vector<std::int64_t> to_last(std::size_t lead) const {
    std::vector<std::int64_t> p(lead);
    std::iota(p.begin(), p.end(), 0);
    for (std::size_t i = 0; i < rank_; ++i) p.push_back(static_cast<std::int64_t>(lead + 1 + i));
    p.push_back(static_cast<std::int64_t>(lead));
    return p;
  }
  std::vector<std::int64_t> to_first(std::size_t lead) const {
    std::vector<std::int64_t> p(lead);
    std::iota(p.begin(), p.end(), 0);
    p.push_back(static_cast<std::int64_t>(lead + rank_));
    for (std::size_t i = 0; i < rank_; ++i) p.push_back(static_cast<std::int64_t>(lead + i));
    return p;
  }

  std::vector<Tensor> output_masks(const Tensor& mask) const {
    std::vector<Tensor> out{return_sequences_ ? mask : Tensor()};
    if (return_state_) out.resize(3);
    return out;
  }

  Outputs defer(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) const {
    return recurrent::defer_layer_call<recurrent::DeferredLayerCall>(
        *this, inputs, mask, training, dtype(), output_masks(mask), subject(),
        "symbolic inputs of unknown length or statefully", "strata.DeferredConvLSTMCall");
  }

  Tensor input_conv(const Tensor& x, const Tensor& kernel) const {
    return conv_nd(x, kernel, rank_, strides_, padding_, dilation_rate_, subject());
  }
  Tensor recurrent_conv(const Tensor& h, const Tensor& kernel) const {
    const std::vector<std::int64_t> ones(rank_, 1);
    return conv_nd(h, kernel, rank_, ones, "same", ones, subject());
  }

  Outputs run(const std::vector<Tensor>& inputs, const Tensor& mask_in, bool training) const {
    const DType dt = dtype();
    auto as_layer_dtype = [dt](const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != dt ? cast(t, dt) : t; };
    Tensor x = as_layer_dtype(inputs[0]);
    if (channels_first()) x = transpose(x, to_last(2));
    const bool symbolic = x.is_symbolic();
    const auto& xd = x.shape().dims();
    const std::int64_t batch = xd[0], steps = xd[1];
    STRATA_CHECK(steps > 0, ValueError, subject(), " needs at least one timestep, got inputs of shape ",
                 inputs[0].shape().to_string());
    const std::int64_t f = s_.filters;
    const Tensor kernel = read(cell_->kernel());
    const Tensor recurrent_kernel = read(cell_->recurrent_kernel());

    // The input convolutions of every step at once, time folded into the batch (time-major).
    std::vector<std::int64_t> perm{1, 0}, rows_dims{-1};
    for (std::size_t i = 2; i < xd.size(); ++i) perm.push_back(static_cast<std::int64_t>(i));
    rows_dims.insert(rows_dims.end(), xd.begin() + 2, xd.end());
    const Tensor time_major = transpose(x, perm);
    Tensor rows;
    if (std::all_of(rows_dims.begin() + 1, rows_dims.end(), [](std::int64_t d) { return d >= 0; })) {
      rows = reshape(time_major, Shape(rows_dims));
    } else {  // spatial sizes known only when the graph runs: (-1, *shape[2:])
      const auto n = static_cast<std::int64_t>(xd.size());
      rows =
          execute1("Reshape", {time_major, concat({int_tensor({-1}), slice(shape_of(time_major), {2}, {n - 2})}, 0)});
    }
    const std::vector<Tensor> kernels = split(kernel, 4, -1);
    const std::vector<Tensor> recurrent_kernels = split(recurrent_kernel, 4, -1);
    Tensor projected;
    if (training && dropout_active(dropout_)) {
      // One mask per gate and sample, the same at every step (Keras's cell caches them).
      const Tensor template_step = slice(x, std::vector<std::int64_t>(xd.size(), 0), [&] {
        std::vector<std::int64_t> s(xd.size(), -1);
        s[1] = 1;
        return s;
      }());
      const Tensor step0 = squeeze(template_step, {1});
      std::vector<Tensor> gates;
      for (int g = 0; g < 4; ++g) {
        std::vector<std::int64_t> reps(xd.size() - 1, 1);
        reps[0] = steps;
        const Tensor m = tile(dropout_mask(step0, dropout_), reps);
        gates.push_back(input_conv(rows * m, kernels[static_cast<std::size_t>(g)]));
      }
      projected = concat(gates, -1);
    } else {
      projected = input_conv(rows, kernel);
    }
    if (s_.use_bias) projected = bias_add(projected, read(cell_->bias()));
    const std::vector<Tensor> per_step = steps == 1 ? std::vector<Tensor>{projected} : split(projected, steps, 0);

    // Step masks, (batch, 1, ..., 1) to broadcast over a state. A mask of the input's shape
    // without its channels (Masking before a channels_last layer) masks each position, as
    // tf-keras's backend.rnn does; its spatial shape must then be the output's.
    std::vector<Tensor> step_masks;
    if (mask_in.defined()) {
      Tensor m = mask_in.dtype() == DType::kBool ? mask_in : cast(mask_in, DType::kBool);
      const Shape& ms = m.shape();
      const bool per_step = ms.has_known_rank() && ms.rank() == 2 && ms.is_compatible_with(Shape{batch, steps});
      std::vector<std::int64_t> positions(xd.begin(), xd.end() - 1);
      const bool per_position = !per_step && !channels_first() && ms.has_known_rank() &&
                                ms.is_compatible_with(Shape(positions)) && ms.is_compatible_with(Shape([&] {
                                  std::vector<std::int64_t> d = positions;
                                  const auto lengths = output_lengths(inputs[0].shape());
                                  std::copy(lengths.begin(), lengths.end(), d.begin() + 2);
                                  return d;
                                }()));
      STRATA_CHECK(per_step || per_position, ShapeError, subject(),
                   ": the mask must have shape (batch, timesteps) = ", Shape{batch, steps}.to_string(),
                   channels_first()
                       ? std::string()
                       : " or, when the output keeps the input's spatial shape, " + Shape(positions).to_string(),
                   ", got ", ms.to_string());
      std::vector<std::int64_t> md{batch < 0 ? -1 : batch};
      md.insert(md.end(), rank_ + 1, 1);
      for (const Tensor& t : split(m, steps, 1)) {
        step_masks.push_back(per_step ? reshape(t, Shape(md)) : expand_dims(squeeze(t, {1}), -1));
      }
    }

    const std::size_t state_rank = rank_ + 2;
    std::vector<Tensor> states;
    if (inputs.size() == 3) {
      for (std::size_t i = 1; i < 3; ++i) {
        const Tensor s = as_layer_dtype(inputs[i]);
        states.push_back(channels_first() ? transpose(s, to_last(1)) : s);
      }
    } else if (stateful_ && !states_.empty()) {
      for (const auto& v : states_) {
        STRATA_CHECK(batch < 0 || v.shape().dim(0) == batch, ValueError, subject(), " is stateful with batch size ",
                     v.shape().dim(0), " and cannot run on a batch of ", batch,
                     " samples (Keras requires the batch size the model was built with)");
        if (!symbolic && v.device() != x.device()) {
          Variable moved = v;
          moved.to(x.device());
        }
        const Tensor s = read(v);
        states.push_back(channels_first() ? transpose(s, to_last(1)) : s);
      }
    } else {
      // Zeros of a step output's shape: tf-keras convolves zeros with a zero kernel.
      std::vector<std::int64_t> begin(state_rank, 0), size(state_rank, -1);
      size.back() = f;
      const Tensor zero = zeros_like(slice(per_step[0], begin, size));
      states = {zero, zero};
    }
    std::vector<Tensor> recurrent_masks;
    if (training && dropout_active(recurrent_dropout_)) {
      for (int g = 0; g < 4; ++g) recurrent_masks.push_back(dropout_mask(states[0], recurrent_dropout_));
    }

    // The cell's step (tf-keras's ConvLSTMCell.call) in the RNN layers' time loop.
    recurrent::TimeLoopOptions loop;
    loop.go_backwards = go_backwards_;
    loop.return_sequences = return_sequences_;
    loop.zero_output_for_mask = zero_output_for_mask_;
    const Tensor zero_output = zeros_like(states[0]);
    recurrent::TimeLoopResult ran =
        recurrent::run_time_loop(steps, std::move(states), step_masks, zero_output, loop,
                                 [&](std::size_t t, const std::vector<Tensor>& current) {
                                   const Tensor& h = current[0];
                                   const Tensor& c = current[1];
                                   Tensor z;
                                   if (recurrent_masks.empty()) {
                                     z = per_step[t] + recurrent_conv(h, recurrent_kernel);
                                   } else {
                                     std::vector<Tensor> gates;
                                     for (std::size_t g = 0; g < 4; ++g) {
                                       gates.push_back(recurrent_conv(h * recurrent_masks[g], recurrent_kernels[g]));
                                     }
                                     z = per_step[t] + concat(gates, -1);
                                   }
                                   const std::vector<Tensor> zs = split(z, 4, -1);
                                   const Tensor i = (*recurrent_activation_)(zs[0]);
                                   const Tensor fg = (*recurrent_activation_)(zs[1]);
                                   const Tensor c_new = fg * c + i * (*activation_)(zs[2]);
                                   const Tensor o = (*recurrent_activation_)(zs[3]);
                                   const Tensor h_new = o * (*activation_)(c_new);
                                   return std::make_pair(h_new, std::vector<Tensor>{h_new, c_new});
                                 });
    states = std::move(ran.states);

    if (stateful_ && !symbolic) {
      for (std::size_t i = 0; i < states_.size(); ++i) {
        Variable v = states_[i];
        v.assign(channels_first() ? transpose(states[i], to_first(1)) : states[i]);
      }
    }

    Outputs result;
    Tensor y = return_sequences_ ? stack(ran.outputs, 1) : ran.last_output;
    if (channels_first()) y = transpose(y, to_first(return_sequences_ ? 2 : 1));
    result.tensors.push_back(y);
    if (return_state_) {
      for (const auto& s : states) result.tensors.push_back(channels_first() ? transpose(s, to_first(1)) : s);
    }
    result.masks = output_masks(mask_in);
    // Keras's activity regularization: every output's, over its batch size.
    for (const auto& out : result.tensors) add_activity_regularization(*this, activity_regularizer_, out);
    return result;
  }

  std::size_t rank_;
  CellSettings s_;
  std::vector<std::int64_t> strides_, dilation_rate_;
  std::string padding_, data_format_;
  std::shared_ptr<Activation> activation_, recurrent_activation_;
  std::shared_ptr<Regularizer> activity_regularizer_;
  double dropout_ = 0.0, recurrent_dropout_ = 0.0;
  bool return_sequences_ = false, return_state_ = false, go_backwards_ = false, stateful_ = false;
  bool zero_output_for_mask_ = false;
  std::optional<Config> seed_;  // Keras 3's key, written back only when read
  std::shared_ptr<ConvLSTMCell> cell_;
  std::vector<Variable> states_;
  CallArgumentsState arguments_;
};

class ConvLSTM1D final : public ConvLSTM {
 public:
  explicit ConvLSTM1D(const Config& c) : ConvLSTM("ConvLSTM1D", c, 1) {}
};
class ConvLSTM2D final : public ConvLSTM {
 public:
  explicit ConvLSTM2D(const Config& c) : ConvLSTM("ConvLSTM2D", c, 2) {}
};
class ConvLSTM3D final : public ConvLSTM {
 public:
  explicit ConvLSTM3D(const Config& c) : ConvLSTM("ConvLSTM3D", c, 3) {}
};

}  // namespace

void register_conv_lstm_layers(Registrar& registrar) {
  register_layer<ConvLSTM1D>(registrar, "ConvLSTM1D");
  register_layer<ConvLSTM2D>(registrar, "ConvLSTM2D");
  register_layer<ConvLSTM3D>(registrar, "ConvLSTM3D");
}

}  // namespace strata::layers
