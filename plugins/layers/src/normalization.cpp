// BatchNormalization and LayerNormalization, as tf-keras 2.17 computes them.
//
// BatchNormalization in training uses the batch's statistics and moves the moving ones
// toward them: moving -= (moving - batch) * (1 - momentum). Where tf-keras takes its
// fused kernel (rank-4/5 inputs normalised over the channel axis, 1 or the last one),
// the variance that enters the moving average carries Bessel's correction n/(n-1);
// elsewhere it is the plain batch variance. Inference (and a layer that is not
// trainable, as in Keras) uses the moving statistics.
#include <algorithm>

#include "common.hpp"
#include "normalization.hpp"
#include "strata/distribute.hpp"
#include "strata/graph.hpp"

namespace strata::layers {
namespace {

// Sorted, non-negative axes of a rank-`rank` input; ValueError on duplicates/range.
std::vector<std::int64_t> validate_axes(const Layer& layer, std::vector<std::int64_t> axes, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  for (auto& a : axes) {
    STRATA_CHECK(a >= -r && a < r, ValueError, "layer '", layer.name(), "': axis ", a, " is out of range for an input of rank ",
                 rank);
    if (a < 0) a += r;
  }
  std::vector<std::int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  STRATA_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), ValueError, "layer '", layer.name(),
               "': axis holds duplicates: ", int_list(axes).dump());
  return axes;
}

// tf.nn.batch_normalization: x * inv + (beta - mean * inv), inv = rsqrt(var + eps) * gamma.
Tensor normalize(const Tensor& x, const Tensor& mean, const Tensor& variance, const Tensor& gamma, const Tensor& beta,
                 double epsilon) {
  Tensor inv = rsqrt(variance + epsilon);
  if (gamma.defined()) inv = inv * gamma;
  const Tensor shift = beta.defined() ? beta - mean * inv : -(mean * inv);
  return x * inv + shift;
}

// tf-keras's _sync_calculate_mean_and_var: the batch mean and variance of `x` over the
// replicas of the distributed step running on this thread, from the sums of x, x^2 and the
// count of values (one all-reduce of the three, stacked). False (and nothing set) when there
// is no such step, or it has one replica: strata::all_reduce is then the identity and hands
// back the same tensor (the same id()), and the caller computes plain moments, as tf-keras
// does without a replica context.
bool cross_replica_moments(const Tensor& x, const Tensor& mask, const std::vector<std::int64_t>& reduction, Tensor& mean_b,
                           Tensor& var_b) {
  Tensor y = x, count = ones_like(x);
  if (mask.defined()) {
    const Tensor w = expand_dims(cast(mask, x.dtype()), -1);
    y = x * w;
    count = w * count;
  }
  const Tensor local = concat({sum(y, reduction, true), sum(square(y), reduction, true), sum(count, reduction, true)}, 0);
  const Tensor global = all_reduce(local, ReduceOp::kSum);
  if (global.id() == local.id()) return false;
  const auto sums = split(global, 3, 0);
  const Tensor n = maximum(sums[2], ones_like(sums[2]));  // tf.math.divide_no_nan: a 0 sum over 0
  mean_b = sums[0] / n;
  var_b = maximum(sums[1] / n - square(mean_b), zeros_like(mean_b));
  return true;
}

class BatchNormalization final : public Layer, public InferenceTraceable {
 public:
  // `sync_class`: tf-keras's SyncBatchNormalization, BatchNormalization with synchronized=True.
  BatchNormalization(const Config& c, bool sync_class)
      : Layer(sync_class ? "SyncBatchNormalization" : "BatchNormalization", c), sync_class_(sync_class) {
    auto frame = ErrorContext::push("reading the config of ", class_name(), " layer '", name(), "'");
    const Config* axis = find_key(c, "axis");
    axis_config_ = axis ? *axis : Config(-1);
    axes_ = get_int_or_list(c, "axis", {-1});
    STRATA_CHECK(!axes_.empty(), ValueError, "BatchNormalization: axis must not be empty");
    momentum_ = get_number(c, "momentum", 0.99);
    epsilon_ = get_number(c, "epsilon", 1e-3);
    center_ = get_bool(c, "center", true);
    scale_ = get_bool(c, "scale", true);
    beta_gamma_ = BetaGammaSettings::read(c);
    moving_mean_initializer_ = initializer_at(c, "moving_mean_initializer", "zeros");
    moving_variance_initializer_ = initializer_at(c, "moving_variance_initializer", "ones");
    STRATA_CHECK(!get_bool(c, "renorm", false), ValueError, "BatchNormalization layer '", name(),
                 "': batch renormalization (renorm=true) is not supported");
    STRATA_CHECK(!find_key(c, "virtual_batch_size"), ValueError, "BatchNormalization layer '", name(),
                 "': virtual_batch_size (ghost batch normalization) is not supported");
    // synchronized=true (Keras 3, and tf-keras 2.12+) shares the batch statistics across the
    // replicas of a distribution strategy. SyncBatchNormalization is synchronized by its class
    // (tf-keras's constructor passes synchronized=True itself and refuses another value).
    synchronized_ = get_bool(c, "synchronized", sync_class_);
    STRATA_CHECK(synchronized_ || !sync_class_, ValueError, "SyncBatchNormalization layer '", name(),
                 "': synchronized=false contradicts the class (use BatchNormalization)");
    const Config* fused = find_key(c, "fused");
    STRATA_CHECK(!synchronized_ || !fused || !fused->is_boolean() || !fused->get<bool>(), ValueError, class_name(),
                 " layer '", name(), "': fused=true is not supported when synchronized=true");
    fused_allowed_ = get_bool(c, "fused", true) && !synchronized_;
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 1, /*at_least=*/true);
    rank_ = s.rank();
    axes_ = validate_axes(*this, axes_, rank_);
    for (auto a : axes_) {
      STRATA_CHECK(s.dims()[static_cast<std::size_t>(a)] != Shape::kUnknown, ShapeError, "BatchNormalization layer '",
                   name(), "': the input dimension at axis ", a, " must be known, got ", s.to_string());
    }
    fused_ = fused_allowed_ && axes_.size() == 1 && (rank_ == 4 || rank_ == 5) &&
             (axes_[0] == 1 || axes_[0] == static_cast<std::int64_t>(rank_) - 1);
    std::vector<std::int64_t> param;
    if (axes_.size() == 1) {
      param = {s.dims()[static_cast<std::size_t>(axes_[0])]};
    } else {
      param.assign(rank_, 1);
      for (auto a : axes_) param[static_cast<std::size_t>(a)] = s.dims()[static_cast<std::size_t>(a)];
    }
    broadcast_.assign(rank_, 1);
    for (auto a : axes_) broadcast_[static_cast<std::size_t>(a)] = s.dims()[static_cast<std::size_t>(a)];
    const Shape param_shape(param);
    // The weights' dtype given explicitly (Keras's _param_dtype): under a mixed policy they
    // are read in it, not in the compute dtype (Keras's experimental_autocast=False).
    if (scale_)
      gamma_ = add_weight("gamma", param_shape, beta_gamma_.gamma_initializer, true, beta_gamma_.gamma_regularizer,
                          beta_gamma_.gamma_constraint, dtype());
    if (center_)
      beta_ = add_weight("beta", param_shape, beta_gamma_.beta_initializer, true, beta_gamma_.beta_regularizer,
                         beta_gamma_.beta_constraint, dtype());
    moving_mean_ = add_weight("moving_mean", param_shape, moving_mean_initializer_, false, nullptr, nullptr, dtype());
    moving_variance_ =
        add_weight("moving_variance", param_shape, moving_variance_initializer_, false, nullptr, nullptr, dtype());
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    // float16/bfloat16 inputs (a mixed policy): statistics and normalisation in the weights'
    // float32, the result rounded once to the input's dtype, as Keras's BatchNormalization.
    const Tensor& in = single_input(*this, inputs);
    if (is_half(in.dtype()) && !is_half(dtype())) return {cast(normalize_call(cast(in, dtype()), ctx), in.dtype())};
    return {normalize_call(in, ctx)};
  }

 private:
  static bool is_half(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

  Tensor normalize_call(const Tensor& x, const CallContext& ctx) const {
    require_rank(*this, x.shape(), rank_);
    const double epsilon = epsilon_.get<double>();
    Tensor gamma = scale_ ? broadcast(read(gamma_)) : Tensor();
    Tensor beta = center_ ? broadcast(read(beta_)) : Tensor();
    if (!ctx.training || !trainable()) {
      return normalize(x, broadcast(read(moving_mean_)), broadcast(read(moving_variance_)), gamma, beta, epsilon);
    }
    std::vector<std::int64_t> reduction;
    for (std::size_t i = 0; i < rank_; ++i) {
      if (std::find(axes_.begin(), axes_.end(), static_cast<std::int64_t>(i)) == axes_.end()) {
        reduction.push_back(static_cast<std::int64_t>(i));
      }
    }
    const Tensor mask = ctx.masks.empty() || fused_ ? Tensor() : ctx.masks[0];
    Tensor mean_b, var_b;  // keepdims: shaped like the broadcast shape
    if (synchronized_ && !reduction.empty() && cross_replica_moments(x, mask, reduction, mean_b, var_b)) {
      // the global batch's statistics (a distributed step of more than one replica)
    } else if (reduction.empty()) {  // nothing to reduce over (an empty list would mean "every axis")
      mean_b = x;
      var_b = zeros_like(x);
    } else if (mask.defined()) {
      // tf.nn.weighted_moments with the mask as frequency weights.
      const Tensor w = expand_dims(cast(mask, x.dtype()), -1);
      const Tensor total = sum(w * ones_like(x), reduction, true);
      mean_b = sum(w * x, reduction, true) / total;
      var_b = sum(w * squared_difference(x, stop_gradient(mean_b)), reduction, true) / total;
    } else {
      mean_b = mean(x, reduction, true);
      var_b = mean(squared_difference(x, stop_gradient(mean_b)), reduction, true);
    }
    update_moving_statistics(x, mean_b, var_b);
    return normalize(x, mean_b, var_b, gamma, beta, epsilon);
  }

 public:
  Config get_config() const override {
    Config c = Layer::get_config();
    // tf-keras replaces axis by the list of resolved axes when it builds.
    c["axis"] = built() ? int_list(axes_) : axis_config_;
    c["momentum"] = momentum_;
    c["epsilon"] = epsilon_;
    c["center"] = center_;
    c["scale"] = scale_;
    beta_gamma_.write_initializers(c);
    c["moving_mean_initializer"] = serialized_or_null(moving_mean_initializer_);
    c["moving_variance_initializer"] = serialized_or_null(moving_variance_initializer_);
    beta_gamma_.write_regularizers_and_constraints(c);
    // Keras 3 writes the key always, tf-keras never (its BatchNormalization drops it); written
    // when set, which both read back. SyncBatchNormalization's constructor takes no such key.
    if (synchronized_ && !sync_class_) c["synchronized"] = true;
    return c;
  }

 private:
  // Parameters and statistics in the shape that broadcasts against the input.
  Tensor broadcast(const Tensor& v) const { return v.shape().dims() == broadcast_ ? v : reshape(v, Shape(broadcast_)); }

  // Moves the moving statistics towards the batch's. Eagerly it assigns; while tracing the
  // assignments are recorded into the graph (so a traced training step updates them too);
  // a symbolic Functional-API call only builds the model and assigns nothing.
  void update_moving_statistics(const Tensor& x, const Tensor& mean_b, const Tensor& var_b) const {
    if (mean_b.is_symbolic() && !is_tracing()) return;
    const Shape param = moving_mean_.shape();
    Tensor new_mean = reshape(stop_gradient(mean_b), param);
    Tensor new_var = reshape(stop_gradient(var_b), param);
    if (fused_) {
      // Bessel's correction over the n values each statistic was computed from.
      bool known = x.shape().has_known_rank();
      double n = 1.0;
      for (std::size_t i = 0; known && i < rank_; ++i) {
        const std::int64_t d = x.shape().dims()[i];
        if (d < 0) known = false;
        if (i != static_cast<std::size_t>(axes_[0])) n *= static_cast<double>(d);
      }
      if (known) {
        if (n > 1.0) new_var = new_var * (n / (n - 1.0));
      } else {  // a trace with an unknown batch size: n from the runtime shape
        const Tensor dims = cast(shape_of(x), x.dtype());
        const Tensor channels = cast(gather(shape_of(x), int_tensor({axes_[0]})), x.dtype());
        const Tensor count = prod(dims) / sum(channels);
        const Tensor one = scalar_like(count, 1.0);
        new_var = new_var * (count / maximum(count - one, one));
      }
    }
    const double decay = 1.0 - momentum_.get<double>();
    const Tensor old_mean = read(moving_mean_), old_var = read(moving_variance_);
    assign_variable(moving_mean_, old_mean - (old_mean - new_mean) * decay);
    assign_variable(moving_variance_, old_var - (old_var - new_var) * decay);
  }

  Config axis_config_;
  std::vector<std::int64_t> axes_;
  Config momentum_, epsilon_;
  bool center_ = true, scale_ = true, fused_allowed_ = true, fused_ = false;
  bool sync_class_ = false, synchronized_ = false;
  std::size_t rank_ = 0;
  std::vector<std::int64_t> broadcast_;
  BetaGammaSettings beta_gamma_;
  std::shared_ptr<Initializer> moving_mean_initializer_, moving_variance_initializer_;
  Variable gamma_, beta_, moving_mean_, moving_variance_;
};

class LayerNormalization final : public Layer, public InferenceTraceable {
 public:
  explicit LayerNormalization(const Config& c) : Layer("LayerNormalization", c) {
    auto frame = ErrorContext::push("reading the config of LayerNormalization layer '", name(), "'");
    const Config* axis = find_key(c, "axis");
    axis_config_ = axis ? *axis : Config(-1);
    axes_ = get_int_or_list(c, "axis", {-1});
    STRATA_CHECK(!axes_.empty(), ValueError, "LayerNormalization: axis must not be empty");
    epsilon_ = get_number(c, "epsilon", 1e-3);
    center_ = get_bool(c, "center", true);
    scale_ = get_bool(c, "scale", true);
    // Keras 3's rms_scaling (deprecated there, still written): x * rsqrt(var(x) + epsilon) *
    // gamma, with gamma whatever `scale` says and no beta (Keras 3's ops.layer_normalization).
    rms_scaling_ = get_bool(c, "rms_scaling", false);
    beta_gamma_ = BetaGammaSettings::read(c);
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 1, /*at_least=*/true);
    rank_ = s.rank();
    axes_ = validate_axes(*this, axes_, rank_);
    std::vector<std::int64_t> param;
    broadcast_.assign(rank_, 1);
    for (auto a : axes_) {
      const std::int64_t d = s.dims()[static_cast<std::size_t>(a)];
      STRATA_CHECK(d != Shape::kUnknown, ShapeError, "LayerNormalization layer '", name(),
                   "': the input dimension at axis ", a, " must be known, got ", s.to_string());
      param.push_back(d);
      broadcast_[static_cast<std::size_t>(a)] = d;
    }
    // The dtype given explicitly: under a mixed policy gamma and beta are read in float32
    // (Keras's experimental_autocast=False).
    if (scale_ || rms_scaling_) {
      gamma_ = add_weight("gamma", Shape(param), beta_gamma_.gamma_initializer, true, beta_gamma_.gamma_regularizer,
                          beta_gamma_.gamma_constraint, dtype());
    }
    if (center_ && !rms_scaling_) {
      beta_ = add_weight("beta", Shape(param), beta_gamma_.beta_initializer, true, beta_gamma_.beta_regularizer,
                         beta_gamma_.beta_constraint, dtype());
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    // float16/bfloat16 inputs (a mixed policy): computed in float32, rounded once at the end,
    // as Keras's LayerNormalization.
    const Tensor& in = single_input(*this, inputs);
    const bool half = (in.dtype() == DType::kFloat16 || in.dtype() == DType::kBFloat16) &&
                      dtype() != DType::kFloat16 && dtype() != DType::kBFloat16;
    if (half) return {cast(normalize_call(cast(in, dtype())), in.dtype())};
    return {normalize_call(in)};
  }

 private:
  Tensor normalize_call(const Tensor& x) const {
    require_rank(*this, x.shape(), rank_);
    const Tensor m = mean(x, axes_, true);
    const Tensor v = mean(squared_difference(x, stop_gradient(m)), axes_, true);
    const bool last_only = axes_.size() == 1 && axes_[0] == static_cast<std::int64_t>(rank_) - 1;
    auto shaped = [&](const Variable& w) { return last_only ? read(w) : reshape(read(w), Shape(broadcast_)); };
    if (rms_scaling_) return x * rsqrt(v + epsilon_.get<double>()) * shaped(gamma_);
    const Tensor gamma = scale_ ? shaped(gamma_) : Tensor();
    const Tensor beta = center_ ? shaped(beta_) : Tensor();
    return normalize(x, m, v, gamma, beta, epsilon_.get<double>());
  }

 public:
  Config get_config() const override {
    Config c = Layer::get_config();
    c["axis"] = built() ? int_list(axes_) : axis_config_;
    c["epsilon"] = epsilon_;
    c["center"] = center_;
    c["scale"] = scale_;
    if (rms_scaling_) c["rms_scaling"] = true;  // Keras 3's key, written only when set
    beta_gamma_.write_initializers(c);
    beta_gamma_.write_regularizers_and_constraints(c);
    return c;
  }

 private:
  Config axis_config_;
  std::vector<std::int64_t> axes_;
  Config epsilon_;
  bool center_ = true, scale_ = true, rms_scaling_ = false;
  std::size_t rank_ = 0;
  std::vector<std::int64_t> broadcast_;
  BetaGammaSettings beta_gamma_;
  Variable gamma_, beta_;
};

}  // namespace

void register_normalization_layers(Registrar& registrar) {
  registrar.add<ObjectKind::kLayer>(
      "BatchNormalization", [](const Config& c) -> std::shared_ptr<Layer> { return std::make_shared<BatchNormalization>(c, false); });
  // tf-keras's tf.keras.layers.experimental.SyncBatchNormalization (Keras 3 has none).
  registrar.add<ObjectKind::kLayer>("SyncBatchNormalization", [](const Config& c) -> std::shared_ptr<Layer> {
    return std::make_shared<BatchNormalization>(c, true);
  });
  register_layer<LayerNormalization>(registrar, "LayerNormalization");
}

}  // namespace strata::layers
