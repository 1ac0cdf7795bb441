// The tf-keras metrics: Mean and Sum, MeanMetricWrapper and the classes built on it
// (accuracies, regression errors, crossentropies, ...), RootMeanSquaredError, and the
// confusion-matrix metrics Precision, Recall and AUC. Their state is variables named as
// tf-keras names them (total, count, true_positives, ...); updates are written in ops on
// the device the state lives on.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "common.hpp"
#include "strata/metrics.hpp"

namespace strata::training {
namespace {

void add_to(const Variable& v, const Tensor& delta) { Variable(v).assign(v.value() + delta); }

Tensor to_state(const Tensor& t, DType dtype, const Device& device) {
  Tensor out = t.dtype() == dtype ? t : cast(t, dtype);
  return out.to(device);
}

// tf.__internal__.ops.broadcast_weights: `weights` multiplied out to the shape of
// `values` when it broadcasts (a scalar, or the same rank with each dimension 1 or
// equal); undefined otherwise.
Tensor broadcast_weights(const Tensor& weights, const Tensor& values) {
  if (weights.rank() == 0) return weights * ones_like(values);
  if (weights.rank() != values.rank()) return Tensor();
  for (std::size_t i = 0; i < weights.rank(); ++i) {
    const std::int64_t w = weights.shape().dims()[i], v = values.shape().dims()[i];
    if (w != 1 && w != v) return Tensor();
  }
  return weights.shape() == values.shape() ? weights : weights * ones_like(values);
}

// ---- Reduce: Mean and Sum --------------------------------------------------------------------

class ReduceMetric : public Metric {
 public:
  ReduceMetric(std::string class_name, const Config& config, std::string default_name, bool weighted_mean)
      : Metric(std::move(class_name), config, std::move(default_name)), weighted_mean_(weighted_mean) {
    total_ = add_state("total");
    if (weighted_mean_) count_ = add_state("count");
  }

  Tensor result() const override {
    if (!weighted_mean_) return identity(total_.value());
    return divide_no_nan(total_.value(), count_.value());
  }

 protected:
  // Reduce.update_state(values, sample_weight).
  void update_values(const Tensor& values_in, const Tensor& sample_weight) {
    const Device device = total_.device();
    Tensor values = to_state(values_in, dtype(), device);
    Tensor weights;
    if (sample_weight.defined()) {
      weights = to_state(sample_weight, dtype(), device);
      squeeze_or_expand(values, nullptr, &weights);
      Tensor broadcast = broadcast_weights(weights, values);
      if (broadcast.defined()) {
        weights = broadcast;
      } else {
        // Weights of lower rank: the values are averaged (summed for Sum) over the
        // trailing dimensions first.
        std::vector<std::int64_t> axes;
        for (std::size_t i = weights.rank(); i < values.rank(); ++i) axes.push_back(static_cast<std::int64_t>(i));
        values = weighted_mean_ ? mean(values, axes) : sum(values, axes);
      }
      values = values * weights;
    }
    add_to(total_, sum(values));
    if (!weighted_mean_) return;
    const Tensor count = weights.defined() ? sum(weights) : scalar_like(count_.value(), static_cast<double>(values.num_elements()));
    add_to(count_, count);
  }

  const Variable& total() const { return total_; }
  const Variable& count() const { return count_; }

 private:
  bool weighted_mean_;
  Variable total_, count_;
};

// Mean and Sum take the values as y_true (tf-keras's update_state(values,
// sample_weight)); y_pred is used when y_true is undefined.
class Mean final : public ReduceMetric {
 public:
  Mean(const Config& c, bool weighted_mean)
      : ReduceMetric(weighted_mean ? "Mean" : "Sum", c, weighted_mean ? "mean" : "sum", weighted_mean) {}
  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) override {
    update_values(y_true.defined() ? y_true : y_pred, sample_weight);
  }
};

// ---- MeanMetricWrapper ------------------------------------------------------------------------

using MatchFn = std::function<Tensor(const Tensor& y_true, const Tensor& y_pred, Tensor* valid)>;

class WrapperMetric final : public ReduceMetric {
 public:
  // `kwargs`: the keyword arguments get_config writes after name and dtype; `fn_name`:
  // written as "fn" when the class is MeanMetricWrapper itself.
  WrapperMetric(std::string class_name, const Config& config, std::string default_name, MatchFn fn, Config kwargs,
                std::string fn_name = {})
      : ReduceMetric(std::move(class_name), config, std::move(default_name), true), fn_(std::move(fn)),
        kwargs_(std::move(kwargs)), fn_name_(std::move(fn_name)) {}

  void update_state(const Tensor& y_true_in, const Tensor& y_pred_in, const Tensor& sample_weight) override {
    Tensor y_true = to_state(y_true_in, dtype(), y_pred_in.device());
    Tensor y_pred = y_pred_in.dtype() == dtype() ? y_pred_in : cast(y_pred_in, dtype());
    squeeze_or_expand(y_pred, &y_true);
    Tensor valid;
    const Tensor matches = fn_(y_true, y_pred, &valid);
    Tensor weights = sample_weight;
    if (valid.defined()) {
      // The mask tf-keras attaches to the matches becomes (part of) the sample weight.
      Tensor mask = cast(valid, matches.dtype());
      if (weights.defined()) {
        weights = cast(weights, mask.dtype()).to(mask.device());
        squeeze_or_expand(mask, nullptr, &weights);
        weights = weights * mask;
      } else {
        weights = mask;
      }
    }
    update_values(matches, weights);
  }

  Config get_config() const override {
    Config c = Metric::get_config();
    for (auto it = kwargs_.begin(); it != kwargs_.end(); ++it) c[it.key()] = it.value();
    if (!fn_name_.empty()) c["fn"] = fn_name_;
    return c;
  }

 private:
  MatchFn fn_;
  Config kwargs_;
  std::string fn_name_;
};

// Function names tf-keras's metrics.get resolves to a function, and the function
// (fn.__name__) each is. "accuracy"/"acc" and "crossentropy"/"ce" are resolved by compile
// from the shapes. (tf-keras 2.17's metrics.get does not resolve "kld", "kl_divergence"
// or "bce".)
const std::vector<std::pair<const char*, const char*>>& metric_function_aliases() {
  static const std::vector<std::pair<const char*, const char*>> aliases = {
      {"binary_accuracy", "binary_accuracy"},
      {"categorical_accuracy", "categorical_accuracy"},
      {"sparse_categorical_accuracy", "sparse_categorical_accuracy"},
      {"top_k_categorical_accuracy", "top_k_categorical_accuracy"},
      {"sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"},
      {"mean_absolute_error", "mean_absolute_error"},
      {"mae", "mean_absolute_error"},
      {"MAE", "mean_absolute_error"},
      {"mean_squared_error", "mean_squared_error"},
      {"mse", "mean_squared_error"},
      {"MSE", "mean_squared_error"},
      {"mean_absolute_percentage_error", "mean_absolute_percentage_error"},
      {"mape", "mean_absolute_percentage_error"},
      {"MAPE", "mean_absolute_percentage_error"},
      {"mean_squared_logarithmic_error", "mean_squared_logarithmic_error"},
      {"msle", "mean_squared_logarithmic_error"},
      {"MSLE", "mean_squared_logarithmic_error"},
      {"binary_crossentropy", "binary_crossentropy"},
      {"categorical_crossentropy", "categorical_crossentropy"},
      {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
      {"kullback_leibler_divergence", "kl_divergence"},
      {"poisson", "poisson"},
      {"hinge", "hinge"},
      {"squared_hinge", "squared_hinge"},
      {"categorical_hinge", "categorical_hinge"},
      {"log_cosh", "log_cosh"},
      {"logcosh", "log_cosh"},
      {"cosine_similarity", "cosine_similarity"},
      {"cosine_proximity", "cosine_similarity"},
  };
  return aliases;
}

// The function a MeanMetricWrapper config names: a name (any alias above, or
// "accuracy"), or Keras 3's {"class_name": "function", "config": name} form.
std::string metric_function_name(const Config& fn) {
  std::string name;
  if (fn.is_string()) {
    name = fn.get<std::string>();
  } else if (fn.is_object() && fn.contains("config") && fn["config"].is_string()) {
    name = fn["config"].get<std::string>();
  } else {
    STRATA_THROW(FormatError, "MeanMetricWrapper: 'fn' must name a metric function, got ", fn.dump());
  }
  for (const auto& [alias, canonical] : metric_function_aliases()) {
    if (name == alias) return canonical;
  }
  if (name == "acc" || name == "ACC") return "accuracy";
  STRATA_CHECK(is_known_function(name), ValueError, "MeanMetricWrapper: unknown metric function '", name, "'");
  return name;
}

MatchFn function_match(const std::string& fn, const Config& kwargs) {
  const FunctionArgs args = function_args(kwargs);
  if (fn == "cosine_similarity") {
    // The metric function is the similarity itself; the loss function is its negative.
    return [args](const Tensor& y_true, const Tensor& y_pred, Tensor*) {
      return neg(apply_function("cosine_similarity", y_true, y_pred, args));
    };
  }
  return [fn, args](const Tensor& y_true, const Tensor& y_pred, Tensor* valid) {
    return apply_function(fn, y_true, y_pred, args, valid);
  };
}

// kwargs of a class: each key with the config's value or the class's default.
Config class_kwargs(const Config& c, const std::vector<std::pair<const char*, Config>>& keys) {
  Config out = Config::object();
  for (const auto& [key, fallback] : keys) out[key] = get_value(c, key, fallback);
  return out;
}

// A MeanMetricWrapper subclass wrapping `fn` (a function of common.cpp).
void add_function_class(Registrar& r, const std::string& class_name, const std::string& default_name,
                        const std::string& fn, std::vector<std::pair<const char*, Config>> keys = {}) {
  r.add<ObjectKind::kMetric>(class_name, [=](const Config& c) -> std::shared_ptr<Metric> {
    const Config kwargs = class_kwargs(c, keys);
    return std::make_shared<WrapperMetric>(class_name, c, default_name, function_match(fn, kwargs), kwargs);
  });
}

// A MeanMetricWrapper subclass with its own match function.
void add_match_class(Registrar& r, const std::string& class_name, const std::string& default_name,
                     std::function<MatchFn(const Config& kwargs)> make_fn,
                     std::vector<std::pair<const char*, Config>> keys = {}) {
  r.add<ObjectKind::kMetric>(class_name, [=](const Config& c) -> std::shared_ptr<Metric> {
    const Config kwargs = class_kwargs(c, keys);
    return std::make_shared<WrapperMetric>(class_name, c, default_name, make_fn(kwargs), kwargs);
  });
}

// ---- RootMeanSquaredError ------------------------------------------------------------------

class RootMeanSquaredError final : public ReduceMetric {
 public:
  explicit RootMeanSquaredError(const Config& c)
      : ReduceMetric("RootMeanSquaredError", c, "root_mean_squared_error", true) {}
  void update_state(const Tensor& y_true_in, const Tensor& y_pred_in, const Tensor& sample_weight) override {
    Tensor y_true = to_state(y_true_in, dtype(), y_pred_in.device());
    Tensor y_pred = y_pred_in.dtype() == dtype() ? y_pred_in : cast(y_pred_in, dtype());
    squeeze_or_expand(y_pred, &y_true);
    update_values(squared_difference(y_pred, y_true), sample_weight);
  }
  Tensor result() const override { return sqrt(divide_no_nan(total().value(), count().value())); }
};

// ---- confusion-matrix metrics ---------------------------------------------------------------

constexpr double kNegInf = -1e10;  // metrics_utils.NEG_INF

// metrics_utils.is_evenly_distributed_thresholds: at least 3 thresholds equal to
// i / (n - 1) within np.allclose(atol=epsilon).
bool evenly_distributed(const std::vector<double>& thresholds) {
  const std::size_t n = thresholds.size();
  if (n < 3) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const double even = static_cast<double>(static_cast<float>(i) / static_cast<float>(n - 1));
    if (std::fabs(thresholds[i] - even) > kEpsilon + 1e-5 * std::fabs(even)) return false;
  }
  return true;
}

// _filter_top_k: entries outside the k largest of the last axis become NEG_INF (ties
// go to the lower index, as tf.math.top_k picks them).
Tensor filter_top_k(const Tensor& x, std::int64_t k) {
  const std::int64_t n = x.shape().dims().back();
  std::vector<std::uint8_t> lower(static_cast<std::size_t>(n * n), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < i; ++j) lower[static_cast<std::size_t>(i * n + j)] = 1;
  }
  const Tensor before = Tensor::from_bools(lower, Shape{n, n}, x.device());
  const Tensor xi = expand_dims(x, -1), xj = expand_dims(x, -2);  // [..., n, 1], [..., 1, n]
  const Tensor ahead = logical_or(greater(xj, xi), logical_and(equal(xj, xi), before));
  const Tensor rank = sum(cast(ahead, x.dtype()), {-1});
  const Tensor mask = cast(less(rank, scalar_like(rank, static_cast<double>(k))), x.dtype());
  return x * mask + (1.0 - mask) * kNegInf;
}

struct ConfusionVariables {
  Variable tp, fp, tn, fn;  // undefined ones are not updated
};

struct ConfusionOptions {
  std::vector<double> thresholds;
  bool evenly = false;
  std::optional<std::int64_t> top_k, class_id;
  bool multi_label = false;
  Tensor label_weights;  // [labels], single-label only
};

// metrics_utils.update_confusion_matrix_variables.
void update_confusion(const ConfusionVariables& vars, const Tensor& y_true_in, const Tensor& y_pred_in,
                      const Tensor& sample_weight, const ConfusionOptions& o) {
  const DType dt = vars.tp.dtype();
  const Device device = vars.tp.device();
  Tensor y_true = to_state(y_true_in, dt, device), y_pred = to_state(y_pred_in, dt, device);
  Tensor sw = sample_weight.defined() ? to_state(sample_weight, dt, device) : Tensor();
  squeeze_or_expand(y_pred, &y_true, sw.defined() ? &sw : nullptr);
  STRATA_CHECK(y_pred.shape() == y_true.shape(), ShapeError, "confusion-matrix metric: y_true of shape ",
               y_true.shape().to_string(), " does not match y_pred of shape ", y_pred.shape().to_string());
  if (o.top_k) y_pred = filter_top_k(y_pred, *o.top_k);
  if (o.class_id) {
    y_true = slice_axis(y_true, -1, *o.class_id, *o.class_id + 1);
    y_pred = slice_axis(y_pred, -1, *o.class_id, *o.class_id + 1);
  }
  const auto num_thresholds = static_cast<std::int64_t>(o.thresholds.size());
  // Weights shaped like y_pred (sample weights times, single-label, label weights).
  Tensor weights;
  if (sw.defined()) {
    weights = broadcast_weights(sw, y_pred);
    if (!weights.defined()) weights = sw * ones_like(y_pred);
  }
  if (o.label_weights.defined() && !o.multi_label) {
    const Tensor lw = expand_dims(to_state(o.label_weights, dt, device), 0) * ones_like(y_pred);
    weights = weights.defined() ? weights * lw : lw;
  }
  const bool need_negatives = vars.tn.defined() || vars.fn.defined();

  if (o.evenly) {
    // The bucketed path tf-keras takes for evenly spaced thresholds: each prediction
    // falls in bucket ceil(p (T - 1)) - 1; the counts at threshold i are those of the
    // buckets >= i.
    const bool with_epsilon = o.thresholds.front() < 0.0 || o.thresholds.back() > 1.0;
    y_pred = clip(y_pred, 0.0, 1.0);
    y_true = cast(cast(y_true, DType::kBool), dt);
    if (!o.multi_label) {
      y_true = reshape(y_true, Shape{-1});
      y_pred = reshape(y_pred, Shape{-1});
      if (weights.defined()) weights = reshape(weights, Shape{-1});
    }
    const Tensor true_labels = weights.defined() ? y_true * weights : y_true;
    const Tensor false_labels = weights.defined() ? (1.0 - y_true) * weights : 1.0 - y_true;
    Tensor bucket = ceil(y_pred * static_cast<double>(num_thresholds - 1)) - 1.0;
    if (with_epsilon) bucket = maximum(bucket, scalar_like(bucket, 0.0));
    Tensor ids = cast(bucket, DType::kInt64);
    std::int64_t labels = 1;
    if (o.multi_label) {
      // One segment per (bucket, label): id = bucket * L + label.
      labels = y_pred.shape().dims().back();
      std::vector<std::int64_t> index(static_cast<std::size_t>(labels));
      for (std::int64_t l = 0; l < labels; ++l) index[static_cast<std::size_t>(l)] = l;
      const Tensor label_index = Tensor::from_vector<std::int64_t>(index, Shape{1, labels}, device);
      ids = reshape(ids * scalar_like(ids, static_cast<double>(labels)) + label_index, Shape{-1});
    }
    const Tensor segments = int_tensor({num_thresholds * labels}).reshape(Shape{});
    auto bucket_sums = [&](const Tensor& data) {
      const Tensor flat = o.multi_label ? reshape(data, Shape{-1}) : data;
      return reshape(execute1("UnsortedSegmentSum", {flat, ids, segments}), Shape{num_thresholds, labels});
    };
    // Reverse cumulative sums over the buckets, as a product with an upper-triangular
    // matrix of ones.
    std::vector<float> upper(static_cast<std::size_t>(num_thresholds * num_thresholds), 0.0f);
    for (std::int64_t i = 0; i < num_thresholds; ++i) {
      for (std::int64_t j = i; j < num_thresholds; ++j) upper[static_cast<std::size_t>(i * num_thresholds + j)] = 1.0f;
    }
    const Tensor cumulative = cast(Tensor::from_vector<float>(upper, Shape{num_thresholds, num_thresholds}, device), dt);
    const Shape state_shape = vars.tp.shape();
    const Tensor tp = reshape(matmul(cumulative, bucket_sums(true_labels)), state_shape);
    const Tensor fp = reshape(matmul(cumulative, bucket_sums(false_labels)), state_shape);
    if (vars.tp.defined()) add_to(vars.tp, tp);
    if (vars.fp.defined()) add_to(vars.fp, fp);
    if (need_negatives) {
      const std::vector<std::int64_t> axes = o.multi_label ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{};
      const Tensor total_true = sum(true_labels, axes), total_false = sum(false_labels, axes);
      if (vars.tn.defined()) add_to(vars.tn, total_false - fp);
      if (vars.fn.defined()) add_to(vars.fn, total_true - tp);
    }
    return;
  }

  // The general path: compare every prediction with every threshold.
  std::vector<float> t(o.thresholds.begin(), o.thresholds.end());
  Tensor predictions, label_pos;
  Shape threshold_shape;
  if (o.multi_label) {
    predictions = expand_dims(y_pred, 0);                              // [1, N, L]
    label_pos = expand_dims(cast(y_true, DType::kBool), 0);            // [1, N, L]
    threshold_shape = Shape{num_thresholds, 1, 1};
  } else {
    predictions = reshape(y_pred, Shape{1, -1});                       // [1, M]
    label_pos = reshape(cast(y_true, DType::kBool), Shape{1, -1});     // [1, M]
    threshold_shape = Shape{num_thresholds, 1};
    if (weights.defined()) weights = reshape(weights, Shape{-1});
  }
  const Tensor thresholds = cast(Tensor::from_vector<float>(t, threshold_shape, device), dt);
  const Tensor pred_pos = greater(predictions, thresholds);
  const Tensor pred_neg = logical_not(pred_pos), label_neg = logical_not(label_pos);
  const Tensor w = weights.defined() ? expand_dims(weights, 0) : Tensor();
  auto count = [&](const Tensor& label, const Tensor& pred) {
    Tensor hits = cast(logical_and(label, pred), dt);
    if (w.defined()) hits = hits * w;
    return sum(hits, {1});
  };
  if (vars.tp.defined()) add_to(vars.tp, count(label_pos, pred_pos));
  if (vars.fp.defined()) add_to(vars.fp, count(label_neg, pred_pos));
  if (vars.tn.defined()) add_to(vars.tn, count(label_neg, pred_neg));
  if (vars.fn.defined()) add_to(vars.fn, count(label_pos, pred_neg));
}

// Precision and Recall: counts at each threshold (default 0.5; -1e10 with top_k).
class PrecisionRecall final : public Metric {
 public:
  PrecisionRecall(const Config& c, bool precision)
      : Metric(precision ? "Precision" : "Recall", c, precision ? "precision" : "recall"), precision_(precision),
        init_thresholds_(get_value(c, "thresholds", nullptr)), top_k_(get_value(c, "top_k", nullptr)),
        class_id_(get_value(c, "class_id", nullptr)) {
    if (!top_k_.is_null()) options_.top_k = get_int(c, "top_k", 1);
    if (!class_id_.is_null()) options_.class_id = get_int(c, "class_id", 0);
    if (auto given = get_double_list(c, "thresholds")) {
      for (double t : *given) {
        STRATA_CHECK(t >= 0.0 && t <= 1.0, ValueError, "threshold values must be in [0, 1], got ", t);
      }
      options_.thresholds = *given;
    } else {
      options_.thresholds = {options_.top_k ? kNegInf : 0.5};
    }
    options_.evenly = evenly_distributed(options_.thresholds);
    const Shape shape{static_cast<std::int64_t>(options_.thresholds.size())};
    vars_.tp = add_state("true_positives", shape);
    if (precision_) {
      vars_.fp = add_state("false_positives", shape);
    } else {
      vars_.fn = add_state("false_negatives", shape);
    }
  }

  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) override {
    update_confusion(vars_, y_true, y_pred, sample_weight, options_);
  }

  // A scalar for one threshold, one value per threshold otherwise.
  Tensor result() const override {
    const Tensor tp = vars_.tp.value();
    const Tensor other = precision_ ? vars_.fp.value() : vars_.fn.value();
    const Tensor r = divide_no_nan(tp, tp + other);
    return options_.thresholds.size() == 1 ? reshape(r, Shape{}) : r;
  }

  Config get_config() const override {
    Config c = Metric::get_config();
    c["thresholds"] = init_thresholds_;
    c["top_k"] = top_k_;
    c["class_id"] = class_id_;
    return c;
  }

 private:
  bool precision_;
  Config init_thresholds_, top_k_, class_id_;
  ConfusionOptions options_;
  ConfusionVariables vars_;
};

class AUC final : public Metric {
 public:
  explicit AUC(const Config& c)
      : Metric("AUC", c, "auc"), curve_(get_string(c, "curve", "ROC")),
        summation_(get_string(c, "summation_method", "interpolation")), multi_label_(get_bool(c, "multi_label", false)),
        num_labels_(get_value(c, "num_labels", nullptr)), label_weights_config_(get_value(c, "label_weights", nullptr)),
        from_logits_(get_bool(c, "from_logits", false)) {
    if (curve_ == "roc") curve_ = "ROC";
    if (curve_ == "pr") curve_ = "PR";
    STRATA_CHECK(curve_ == "ROC" || curve_ == "PR", ValueError, "AUC: invalid curve '", curve_,
                 "'; expected one of PR, ROC");
    if (!summation_.empty()) summation_[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(summation_[0])));
    STRATA_CHECK(summation_ == "interpolation" || summation_ == "majoring" || summation_ == "minoring", ValueError,
                 "AUC: invalid summation_method '", summation_, "'; expected interpolation, majoring or minoring");
    std::vector<double> inner;
    if (auto given = get_double_list(c, "thresholds")) {
      inner = *given;
      std::sort(inner.begin(), inner.end());
      from_thresholds_ = true;
      num_thresholds_ = static_cast<std::int64_t>(inner.size()) + 2;
      std::vector<double> with_ends{0.0};
      with_ends.insert(with_ends.end(), inner.begin(), inner.end());
      with_ends.push_back(1.0);
      options_.evenly = evenly_distributed(with_ends);
    } else {
      num_thresholds_ = get_int(c, "num_thresholds", 200);
      STRATA_CHECK(num_thresholds_ > 1, ValueError, "AUC: num_thresholds must be an integer > 1, got ", num_thresholds_);
      for (std::int64_t i = 0; i < num_thresholds_ - 2; ++i) {
        inner.push_back(static_cast<double>(i + 1) * 1.0 / static_cast<double>(num_thresholds_ - 1));
      }
      options_.evenly = true;
    }
    inner_thresholds_ = inner;
    options_.thresholds = {0.0 - kEpsilon};
    options_.thresholds.insert(options_.thresholds.end(), inner.begin(), inner.end());
    options_.thresholds.push_back(1.0 + kEpsilon);
    options_.multi_label = multi_label_;
    if (auto lw = get_double_list(c, "label_weights")) {
      std::vector<float> values(lw->begin(), lw->end());
      for (float v : values) STRATA_CHECK(v >= 0.0f, ValueError, "AUC: all values of label_weights must be non-negative");
      label_weights_ = Tensor::from_vector<float>(values, Shape{static_cast<std::int64_t>(values.size())});
      if (!multi_label_) options_.label_weights = label_weights_;
    }
    if (multi_label_) {
      if (!num_labels_.is_null()) build(get_int(c, "num_labels", 1));
    } else {
      STRATA_CHECK(num_labels_.is_null(), ValueError, "AUC: num_labels is needed only when multi_label is true");
      build(0);
    }
  }

  void update_state(const Tensor& y_true, const Tensor& y_pred_in, const Tensor& sample_weight) override {
    if (!built_) {
      STRATA_CHECK(y_pred_in.rank() == 2, ShapeError, "AUC: y_pred must have rank 2 when multi_label is true, got ",
                   y_pred_in.shape().to_string());
      build(y_pred_in.shape().dims()[1]);
    }
    const Tensor y_pred = from_logits_ ? sigmoid(y_pred_in) : y_pred_in;
    update_confusion(vars_, y_true, y_pred, sample_weight, options_);
  }

  Tensor result() const override {
    STRATA_CHECK(built_, ValueError, "AUC '", name(), "' has seen no data yet (multi_label without num_labels)");
    const std::int64_t n = num_thresholds_;
    const Tensor tp = vars_.tp.value(), fp = vars_.fp.value(), tn = vars_.tn.value(), fn = vars_.fn.value();
    auto head = [n](const Tensor& x) { return slice_axis(x, 0, 0, n - 1); };
    auto tail = [n](const Tensor& x) { return slice_axis(x, 0, 1, n); };
    Tensor terms;
    if (curve_ == "PR" && summation_ == "interpolation") {
      const Tensor dtp = head(tp) - tail(tp);
      const Tensor p = tp + fp;
      const Tensor dp = head(p) - tail(p);
      const Tensor zero = scalar_like(p, 0.0);
      const Tensor prec_slope = divide_no_nan(dtp, maximum(dp, zero));
      const Tensor intercept = tail(tp) - prec_slope * tail(p);
      const Tensor safe_p_ratio = select(logical_and(greater(head(p), zero), greater(tail(p), zero)),
                                         divide_no_nan(head(p), maximum(tail(p), zero)), ones_like(tail(p)));
      terms = divide_no_nan(prec_slope * (dtp + intercept * log(safe_p_ratio)), maximum(tail(tp) + tail(fn), zero));
    } else {
      const Tensor recall = divide_no_nan(tp, tp + fn);
      Tensor x, y;
      if (curve_ == "ROC") {
        x = divide_no_nan(fp, fp + tn);
        y = recall;
      } else {
        x = recall;
        y = divide_no_nan(tp, tp + fp);
      }
      Tensor heights;
      if (summation_ == "interpolation") {
        heights = (head(y) + tail(y)) / 2.0;
      } else if (summation_ == "minoring") {
        heights = minimum(head(y), tail(y));
      } else {
        heights = maximum(head(y), tail(y));
      }
      terms = (head(x) - tail(x)) * heights;
    }
    if (!multi_label_) return sum(terms);
    const Tensor by_label = sum(terms, {0});
    if (!label_weights_.defined()) return mean(by_label);
    const Tensor lw = label_weights_.to(by_label.device());
    return divide_no_nan(sum(by_label * lw), sum(lw));
  }

  Config get_config() const override {
    Config c = Metric::get_config();
    c["num_thresholds"] = num_thresholds_;
    c["curve"] = curve_;
    c["summation_method"] = summation_;
    c["multi_label"] = multi_label_;
    c["num_labels"] = num_labels_;
    c["label_weights"] = label_weights_config_;
    c["from_logits"] = from_logits_;
    if (from_thresholds_) c["thresholds"] = inner_thresholds_;
    return c;
  }

 private:
  void build(std::int64_t labels) {
    const Shape shape = multi_label_ ? Shape{num_thresholds_, labels} : Shape{num_thresholds_};
    vars_.tp = add_state("true_positives", shape);
    vars_.tn = add_state("true_negatives", shape);
    vars_.fp = add_state("false_positives", shape);
    vars_.fn = add_state("false_negatives", shape);
    built_ = true;
  }

  std::int64_t num_thresholds_ = 200;
  std::string curve_, summation_;
  bool multi_label_;
  Config num_labels_, label_weights_config_;
  bool from_logits_;
  bool from_thresholds_ = false;
  std::vector<double> inner_thresholds_;
  Tensor label_weights_;
  ConfusionOptions options_;
  ConfusionVariables vars_;
  bool built_ = false;
};

}  // namespace

void register_metrics(Registrar& r) {
  r.add<ObjectKind::kMetric>("Mean", [](const Config& c) -> std::shared_ptr<Metric> { return std::make_shared<Mean>(c, true); });
  r.add<ObjectKind::kMetric>("Sum", [](const Config& c) -> std::shared_ptr<Metric> { return std::make_shared<Mean>(c, false); });
  r.add<ObjectKind::kMetric>("MeanMetricWrapper", [](const Config& c) -> std::shared_ptr<Metric> {
    const Config* fn = find_key(c, "fn");
    STRATA_CHECK(fn != nullptr, FormatError, "MeanMetricWrapper config needs 'fn' (a metric function name)");
    const std::string name = metric_function_name(*fn);
    Config kwargs = Config::object();
    for (auto it = c.begin(); it != c.end(); ++it) {
      if (it.key() != "name" && it.key() != "dtype" && it.key() != "fn") kwargs[it.key()] = it.value();
    }
    return std::make_shared<WrapperMetric>("MeanMetricWrapper", c, "mean_metric_wrapper", function_match(name, kwargs),
                                           kwargs, name);
  });
  // A function name is a MeanMetricWrapper of that function, named as given.
  for (const auto& [alias, fn] : metric_function_aliases()) {
    const std::string given = alias, canonical = fn;
    r.add<ObjectKind::kMetric>(given, [given, canonical](const Config& c) -> std::shared_ptr<Metric> {
      return std::make_shared<WrapperMetric>("MeanMetricWrapper", c, given, function_match(canonical, Config::object()),
                                             Config::object(), canonical);
    });
  }

  add_function_class(r, "Accuracy", "accuracy", "accuracy");
  add_match_class(
      r, "BinaryAccuracy", "binary_accuracy",
      [](const Config& kw) -> MatchFn {
        const double threshold = get_double(kw, "threshold", 0.5);
        return [threshold](const Tensor& t, const Tensor& p, Tensor*) { return binary_matches(t, p, threshold); };
      },
      {{"threshold", 0.5}});
  add_function_class(r, "CategoricalAccuracy", "categorical_accuracy", "categorical_accuracy");
  add_match_class(r, "SparseCategoricalAccuracy", "sparse_categorical_accuracy", [](const Config&) -> MatchFn {
    return [](const Tensor& t, const Tensor& p, Tensor*) { return sparse_categorical_matches(t, p); };
  });
  add_function_class(r, "TopKCategoricalAccuracy", "top_k_categorical_accuracy", "top_k_categorical_accuracy",
                     {{"k", 5}});
  add_function_class(r, "SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy",
                     "sparse_top_k_categorical_accuracy", {{"k", 5}});
  add_function_class(r, "MeanAbsoluteError", "mean_absolute_error", "mean_absolute_error");
  add_function_class(r, "MeanSquaredError", "mean_squared_error", "mean_squared_error");
  add_function_class(r, "MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mean_absolute_percentage_error");
  add_function_class(r, "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "mean_squared_logarithmic_error");
  add_function_class(r, "BinaryCrossentropy", "binary_crossentropy", "binary_crossentropy",
                     {{"from_logits", false}, {"label_smoothing", 0}});
  add_function_class(r, "CategoricalCrossentropy", "categorical_crossentropy", "categorical_crossentropy",
                     {{"from_logits", false}, {"label_smoothing", 0}, {"axis", -1}});
  add_function_class(r, "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
                     "sparse_categorical_crossentropy", {{"from_logits", false}, {"ignore_class", nullptr}, {"axis", -1}});
  add_function_class(r, "Hinge", "hinge", "hinge");
  add_function_class(r, "SquaredHinge", "squared_hinge", "squared_hinge");
  add_function_class(r, "CategoricalHinge", "categorical_hinge", "categorical_hinge");
  add_function_class(r, "KLDivergence", "kullback_leibler_divergence", "kl_divergence");
  add_function_class(r, "Poisson", "poisson", "poisson");
  add_function_class(r, "LogCoshError", "logcosh", "log_cosh");
  add_function_class(r, "CosineSimilarity", "cosine_similarity", "cosine_similarity", {{"axis", -1}});
  r.add<ObjectKind::kMetric>("RootMeanSquaredError",
                             [](const Config& c) -> std::shared_ptr<Metric> { return std::make_shared<RootMeanSquaredError>(c); });
  r.add<ObjectKind::kMetric>("Precision",
                             [](const Config& c) -> std::shared_ptr<Metric> { return std::make_shared<PrecisionRecall>(c, true); });
  r.add<ObjectKind::kMetric>("Recall",
                             [](const Config& c) -> std::shared_ptr<Metric> { return std::make_shared<PrecisionRecall>(c, false); });
  r.add<ObjectKind::kMetric>("AUC", [](const Config& c) -> std::shared_ptr<Metric> { return std::make_shared<AUC>(c); });
}

}  // namespace strata::training
