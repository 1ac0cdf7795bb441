// GroupNormalization, UnitNormalization and SpectralNormalization, as tf-keras 2.21 computes
// them (tf_keras/src/layers/normalization/), written in ops so that every backend runs them
// and their gradients come from the ops'.
//
// GroupNormalization splits the channel axis into `groups` groups (the input reshaped with
// [groups, channels / groups] in place of the channel axis) and normalises each group of each
// sample over every other axis but the batch: tf.nn.weighted_moments with the keras mask as
// frequency weights (all ones without one; a mask broadcasts against the input as NumPy does,
// aligned from the last axis, as tf.broadcast_to does), then tf.nn.batch_normalization.
//
// UnitNormalization is tf.math.l2_normalize: x * rsqrt(max(sum(x^2, axis), 1e-12)).
//
// SpectralNormalization wraps a layer with a `kernel` (Dense, Conv2D, ...) or `embeddings`
// (Embedding) weight and owns the non-trainable `vector_u` (1, kernel.shape[-1]). In training
// each call first runs power iteration on the kernel reshaped to (-1, last): v = l2n(u Wᵀ),
// u = l2n(v W) (l2n over every element), sigma = v W uᵀ, and assigns the kernel W / sigma and
// vector_u u (both left alone when the kernel is all zeros), then calls the wrapped layer,
// which reads the new kernel; gradients reach the kernel only through that call (the
// assignment is not differentiated), as in tf-keras. In inference it is the wrapped layer.
#include <algorithm>

#include "common.hpp"
#include "normalization.hpp"
#include "strata/graph.hpp"
#include "strata/serialization.hpp"

namespace strata::layers {
namespace {

// `axis` made non-negative for a rank-`rank` input; ValueError naming the layer when it is
// out of range.
std::int64_t resolve_axis(const Layer& layer, std::int64_t axis, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  STRATA_CHECK(axis >= -r && axis < r, ValueError, ConfigReader::subject_of(layer), ": axis ", axis,
               " is out of range for an input of rank ", rank);
  return axis < 0 ? axis + r : axis;
}

// x reshaped to `dims`, where kUnknown entries are x's dimensions at the same position of
// `from` (its shape when the graph runs). With at most one unknown entry the shape is a
// constant (-1 there); otherwise it is computed at run time from Shape(from).
Tensor reshape_like(const Tensor& x, const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& from_axis,
                    const Tensor& from) {
  const auto unknown = std::count(dims.begin(), dims.end(), Shape::kUnknown);
  if (unknown <= 1) return reshape(x, Shape(dims));
  std::vector<Tensor> parts;
  std::vector<std::int64_t> run;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] != Shape::kUnknown) {
      run.push_back(dims[i]);
      continue;
    }
    if (!run.empty()) parts.push_back(int_tensor(run));
    run.clear();
    parts.push_back(slice(shape_of(from), {from_axis[i]}, {1}));
  }
  if (!run.empty()) parts.push_back(int_tensor(run));
  return execute1("Reshape", {x, concat(parts, 0)});
}

// tf.nn.batch_normalization: x * inv + (beta - mean * inv), inv = rsqrt(var + eps) * gamma.
Tensor batch_normalization(const Tensor& x, const Tensor& mean, const Tensor& variance, const Tensor& gamma,
                           const Tensor& beta, double epsilon) {
  Tensor inv = rsqrt(variance + epsilon);
  if (gamma.defined()) inv = inv * gamma;
  const Tensor shift = beta.defined() ? beta - mean * inv : -(mean * inv);
  return x * inv + shift;
}

// tf.math.l2_normalize over `axes` (every axis when empty).
Tensor l2_normalize(const Tensor& x, const std::vector<std::int64_t>& axes) {
  const Tensor square_sum = sum(square(x), axes, /*keepdims=*/true);
  return x * rsqrt(maximum(square_sum, scalar_like(square_sum, 1e-12)));
}

// ---- GroupNormalization ------------------------------------------------------------------

class GroupNormalization final : public Layer {
 public:
  explicit GroupNormalization(const Config& c) : Layer("GroupNormalization", c) {
    const ConfigReader r(c, *this);
    auto frame = ErrorContext::push("reading the config of ", r.subject());
    groups_ = r.optional<std::int64_t>("groups", 32);
    // tf-keras fails later (a division by zero for 0); Keras 3 refuses these at once.
    STRATA_CHECK(groups_ > 0 || groups_ == -1, ValueError, r.subject(),
                 ": groups must be a positive integer (or -1 for instance normalization), got ", groups_);
    const Config* axis = r.find("axis");
    STRATA_CHECK(axis == nullptr || axis->is_number_integer(), ValueError, r.subject(),
                 ": axis must be one integer (the channel axis), got ", axis ? axis->dump() : "");
    axis_ = r.optional<std::int64_t>("axis", -1);
    epsilon_ = r.number("epsilon", Config(1e-3));
    center_ = r.optional<bool>("center", true);
    scale_ = r.optional<bool>("scale", true);
    beta_gamma_ = BetaGammaSettings::read(c);
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    const std::string subject = ConfigReader::subject_of(*this);
    const Shape& s = single_shape(*this, shapes);
    STRATA_CHECK(s.has_known_rank(), ValueError, subject, ": the input's rank must be known");
    rank_ = s.rank();
    channel_axis_ = resolve_axis(*this, axis_, rank_);
    STRATA_CHECK(channel_axis_ != 0, ValueError, subject, ": axis ", axis_,
                 " is the batch axis; GroupNormalization normalises each sample over a channel axis after it");
    const std::int64_t dim = s.dims()[static_cast<std::size_t>(channel_axis_)];
    STRATA_CHECK(dim != Shape::kUnknown, ValueError, subject, ": axis ", axis_,
                 " of the input should have a defined dimension, but the input has shape ", s.to_string());
    if (groups_ == -1) groups_ = dim;  // instance normalization; tf-keras writes the resolved value
    STRATA_CHECK(dim >= groups_, ValueError, subject, ": the number of groups (", groups_,
                 ") cannot be more than the number of channels (", dim, ")");
    STRATA_CHECK(dim % groups_ == 0, ValueError, subject, ": the number of channels (", dim,
                 ") must be a multiple of the number of groups (", groups_, ")");
    channels_ = dim;
    const Shape param({dim});
    if (scale_)
      gamma_ = add_weight("gamma", param, beta_gamma_.gamma_initializer, true, beta_gamma_.gamma_regularizer,
                          beta_gamma_.gamma_constraint);
    if (center_)
      beta_ = add_weight("beta", param, beta_gamma_.beta_initializer, true, beta_gamma_.beta_regularizer,
                         beta_gamma_.beta_constraint);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), rank_);
    const auto a = static_cast<std::size_t>(channel_axis_);
    STRATA_CHECK(x.shape().dims()[a] == channels_ || x.shape().dims()[a] == Shape::kUnknown, ShapeError,
                 ConfigReader::subject_of(*this), ": expected ", channels_, " channels on axis ", axis_,
                 ", got an input of shape ", x.shape().to_string());
    // [..., C, ...] -> [..., G, C / G, ...]; the reshaped axis k > a + 1 is input axis k - 1.
    std::vector<std::int64_t> grouped, grouped_from;
    for (std::size_t i = 0; i < rank_; ++i) {
      if (i == a) {
        grouped.insert(grouped.end(), {groups_, channels_ / groups_});
        grouped_from.insert(grouped_from.end(), {0, 0});
        continue;
      }
      grouped.push_back(x.shape().dims()[i]);
      grouped_from.push_back(static_cast<std::int64_t>(i));
    }
    const Tensor xr = reshape_like(x, grouped, grouped_from, x);
    std::vector<std::int64_t> reduction;  // every axis of the reshaped input but the batch and the group axes
    for (std::int64_t i = 1; i <= static_cast<std::int64_t>(rank_); ++i) {
      if (i != channel_axis_) reduction.push_back(i);
    }
    const Tensor mask = ctx.masks.empty() ? Tensor() : ctx.masks[0];
    Tensor m, v;
    if (!mask.defined()) {
      m = mean(xr, reduction, true);
      v = mean(squared_difference(xr, m), reduction, true);
    } else {
      // tf.nn.weighted_moments with the mask broadcast to the input's shape as frequency weights.
      check_mask_broadcasts(mask.shape(), x.shape());
      const Tensor w = reshape_like(cast(mask, x.dtype()) * ones_like(x), grouped, grouped_from, x);
      const Tensor total = sum(w, reduction, true);
      // reciprocal_no_nan: a group without weight gets mean and variance 0.
      const Tensor empty = equal(total, scalar_like(total, 0.0));
      const Tensor divisor = select(empty, zeros_like(total), reciprocal(select(empty, ones_like(total), total)));
      m = sum(w * xr, reduction, true) * divisor;
      v = sum(w * squared_difference(xr, m), reduction, true) * divisor;
    }
    std::vector<std::int64_t> param_shape(rank_ + 1, 1);
    param_shape[a] = groups_;
    param_shape[a + 1] = channels_ / groups_;
    const Tensor gamma = scale_ ? reshape(read(gamma_), Shape(param_shape)) : Tensor();
    const Tensor beta = center_ ? reshape(read(beta_), Shape(param_shape)) : Tensor();
    const Tensor y = batch_normalization(xr, m, v, gamma, beta, epsilon_.get<double>());
    std::vector<std::int64_t> back = x.shape().dims(), back_from(rank_);
    for (std::size_t i = 0; i < rank_; ++i) back_from[i] = static_cast<std::int64_t>(i);
    return {reshape_like(y, back, back_from, x)};
  }

  std::vector<Shape> compute_output_shape(const std::vector<Shape>& shapes) const override {
    ensure_built(shapes);
    return {single_shape(*this, shapes)};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["groups"] = groups_;
    c["axis"] = axis_;
    c["epsilon"] = epsilon_;
    c["center"] = center_;
    c["scale"] = scale_;
    beta_gamma_.write_initializers(c);
    beta_gamma_.write_regularizers_and_constraints(c);
    return c;
  }

 private:
  // tf.broadcast_to(mask, shape(x)): NumPy's rule from the last axis; a dimension unknown
  // now is checked by the ops when the graph runs.
  void check_mask_broadcasts(const Shape& mask, const Shape& x) const {
    bool ok = mask.has_known_rank() && mask.rank() <= x.rank();
    for (std::size_t i = 0; ok && i < mask.rank(); ++i) {
      const std::int64_t md = mask.dims()[mask.rank() - 1 - i], xd = x.dims()[x.rank() - 1 - i];
      ok = md == 1 || md == Shape::kUnknown || xd == Shape::kUnknown || md == xd;
    }
    STRATA_CHECK(ok, ShapeError, ConfigReader::subject_of(*this), ": the mask of shape ", mask.to_string(),
                 " does not broadcast to the input's shape ", x.to_string(),
                 " (tf-keras broadcasts it from the last axis as its frequency weights)");
  }

  std::int64_t groups_ = 32, axis_ = -1, channel_axis_ = -1, channels_ = 0;
  Config epsilon_;
  bool center_ = true, scale_ = true;
  std::size_t rank_ = 0;
  BetaGammaSettings beta_gamma_;
  Variable gamma_, beta_;
};

// ---- UnitNormalization -------------------------------------------------------------------

class UnitNormalization final : public Layer {
 public:
  explicit UnitNormalization(const Config& c) : Layer("UnitNormalization", c) {
    const ConfigReader r(c, *this);
    auto frame = ErrorContext::push("reading the config of ", r.subject());
    const Config* axis = r.find("axis");
    STRATA_CHECK(axis == nullptr || axis->is_number_integer() || axis->is_array(), ValueError, r.subject(),
                 ": axis must be an integer or a list of integers, got ", axis ? axis->dump() : "");
    axes_ = get_int_or_list(c, "axis", {-1});
    axis_config_ = axis == nullptr ? Config(-1) : axis->is_array() ? int_list(axes_) : Config(axes_.at(0));
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    STRATA_CHECK(s.has_known_rank(), ValueError, ConfigReader::subject_of(*this), ": the input's rank must be known");
    rank_ = s.rank();
    resolved_.clear();
    for (const auto a : axes_) resolved_.push_back(resolve_axis(*this, a, rank_));
    std::vector<std::int64_t> sorted = resolved_;
    std::sort(sorted.begin(), sorted.end());
    STRATA_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), ValueError,
                 ConfigReader::subject_of(*this), ": duplicate axis: ", int_list(axes_).dump());
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& in = single_input(*this, inputs);
    require_rank(*this, in.shape(), rank_);
    const Tensor x = in.dtype() == dtype() ? in : cast(in, dtype());
    // axis []: TensorFlow reduces over no axis, so each element is divided by its own magnitude.
    if (resolved_.empty()) return {x * rsqrt(maximum(square(x), scalar_like(x, 1e-12)))};
    return {l2_normalize(x, resolved_)};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["axis"] = axis_config_;
    return c;
  }

 private:
  std::vector<std::int64_t> axes_, resolved_;
  Config axis_config_;
  std::size_t rank_ = 0;
};

// ---- SpectralNormalization -----------------------------------------------------------------

// {"module", "class_name", "config", "registered_name"} of a built-in or custom layer, as
// tf-keras's serialize_keras_object writes a wrapped layer.
Config serialized_layer(const Layer& layer) {
  const std::string& cls = layer.class_name();
  const auto gt = cls.find('>');
  Config c = Config::object();
  c["module"] = gt == std::string::npos ? std::string(keras_module(ObjectKind::kLayer)) : std::string("strata.custom");
  c["class_name"] = gt == std::string::npos ? cls : cls.substr(gt + 1);
  c["config"] = layer.get_config();
  c["registered_name"] = gt == std::string::npos ? Config(nullptr) : Config(cls);
  return c;
}

class SpectralNormalization final : public Layer {
 public:
  explicit SpectralNormalization(const Config& c) : Layer("SpectralNormalization", c) {
    const ConfigReader r(c, *this);
    auto frame = ErrorContext::push("reading the config of ", r.subject());
    const Config value = r.required<Config>("layer");
    STRATA_CHECK(value.is_object() || value.is_string(), FormatError, r.subject(),
                 ": 'layer' must be a serialized layer ({\"class_name\": ..., \"config\": ...}), got ", value.dump());
    const auto original = deserialize_layer(value);
    layer_config_ = serialized_layer(*original);
    if (value.is_object() && value.contains("build_config")) read_build_config_ = value["build_config"];
    // tf-keras builds the wrapped layer inside the wrapper's name scope, without its own: its
    // weights are "spectral_normalization/kernel". A copy named after the wrapper runs.
    Config inner = original->get_config();
    inner["name"] = name();
    inner_ = deserialize_layer(Config{{"class_name", original->class_name()}, {"config", inner}});
    if (!original->trainable()) inner_->set_trainable(false);
    power_iterations_ = r.optional<std::int64_t>("power_iterations", 1);
    STRATA_CHECK(power_iterations_ > 0, ValueError, r.subject(), ": power_iterations should be greater than zero, got ",
                 power_iterations_);
    track("layer", inner_);
  }

  void build(const std::vector<Shape>& shapes) override {
    inner_->ensure_built(shapes);
    for (const char* want : {"kernel", "embeddings"}) {
      for (const auto& w : inner_->own_weights()) {
        if (w.name == want && !kernel_.defined()) kernel_ = w.variable;
      }
    }
    STRATA_CHECK(kernel_.defined(), ValueError, ConfigReader::subject_of(*this), ": the wrapped ", inner_->class_name(),
                 " layer '", layer_config_["config"].value("name", std::string()),
                 "' has no weight 'kernel' nor 'embeddings' to normalize");
    const Shape& ks = kernel_.shape();
    STRATA_CHECK(ks.rank() >= 1 && ks.num_elements() > 0, ValueError, ConfigReader::subject_of(*this),
                 ": cannot normalize the empty kernel of shape ", ks.to_string());
    vector_u_ = add_weight("vector_u", Shape({1, ks.dims().back()}),
                           get_initializer(Config{{"class_name", "TruncatedNormal"},
                                                  {"config", {{"mean", 0.0}, {"stddev", 0.02}, {"seed", nullptr}}}}),
                           /*trainable=*/false, nullptr, nullptr, kernel_.dtype());
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    return call_and_mask(inputs, ctx).tensors;
  }

  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override {
    CallContext ctx;
    ctx.masks = masks;
    return call_and_mask(inputs, ctx).masks;
  }

  // The wrapped layer's outputs and output masks (tf-keras keeps the masks the wrapped
  // layer's call sets: an Embedding with mask_zero masks the wrapper's output).
  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    if (ctx.training) update_weights(inputs);
    return inner_->call_with_masks(inputs, ctx);
  }

  std::vector<Shape> compute_output_shape(const std::vector<Shape>& shapes) const override {
    ensure_built(shapes);
    return inner_->compute_output_shape(shapes);
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["layer"] = layer_config_;
    // tf-keras 2.21's kernel layers record their build shape (Dense, Conv2D, Embedding, ...
    // call Layer.build), so a built wrapper writes it in the wrapped layer's config.
    if (!read_build_config_.is_null()) {
      c["layer"]["build_config"] = read_build_config_;
    } else if (inner_->built() && inner_->build_input_shapes().size() == 1) {
      Config dims = Config::array();
      for (const auto d : inner_->build_input_shapes()[0].dims()) dims.push_back(d < 0 ? Config(nullptr) : Config(d));
      c["layer"]["build_config"] = Config{{"input_shape", dims}};
    }
    c["power_iterations"] = power_iterations_;
    return c;
  }

 private:
  // tf-keras's _update_weights: assigns the spectrally normalised kernel and the new
  // vector_u, both through stop_gradient (the power iteration is not differentiated). A
  // Functional-API call on symbolic inputs assigns nothing; while tracing the assignments
  // are recorded into the graph, which makes them each time it runs.
  void update_weights(const std::vector<Tensor>& inputs) const {
    const bool symbolic = std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); });
    if (symbolic && !is_tracing()) return;
    const Shape& ks = kernel_.shape();
    const std::int64_t last = ks.dims().back();
    const Tensor kernel = stop_gradient(read(kernel_));
    const Tensor w = reshape(kernel, Shape({ks.num_elements() / last, last}));
    const Tensor u0 = stop_gradient(read(vector_u_));
    Tensor u = u0, v;
    for (std::int64_t i = 0; i < power_iterations_; ++i) {
      v = l2_normalize(matmul(u, w, false, true), {});
      u = l2_normalize(matmul(v, w), {});
    }
    const Tensor sigma = matmul(matmul(v, w), u, false, true);  // (1, 1)
    const Tensor normalized = reshape(w / sigma, ks);
    // tf.cond(reduce_all(kernel == 0), keep both, normalise): a select, so a trace records it.
    const Tensor all_zero = reduce_all(equal(kernel, scalar_like(kernel, 0.0)), {});
    assign_variable(kernel_, select(all_zero, kernel, normalized));
    assign_variable(vector_u_, select(all_zero, u0, u));
  }

  Config layer_config_;
  Config read_build_config_;  // the wrapped layer's build_config as read, else null
  std::shared_ptr<Layer> inner_;
  std::int64_t power_iterations_ = 1;
  Variable kernel_, vector_u_;
};

}  // namespace

void register_normalization_extra_layers(Registrar& registrar) {
  register_layer<GroupNormalization>(registrar, "GroupNormalization");
  register_layer<UnitNormalization>(registrar, "UnitNormalization");
  register_layer<SpectralNormalization>(registrar, "SpectralNormalization");
}

}  // namespace strata::layers
