#include "common.hpp"

#include <cmath>

#include "strata/config_reader.hpp"
#include "strata/error.hpp"

namespace strata::training {

// ---- config keys ------------------------------------------------------------------------
// Readers of this plugin over the SDK's strata::config::reader (no subject: the
// caller's ErrorContext frame names the object).

Config get_value(const Config& config, const char* key, const Config& fallback) {
  if (!config.is_object()) return fallback;
  auto it = config.find(key);
  return it == config.end() ? fallback : *it;
}

std::optional<std::vector<double>> get_double_list(const Config& config, const char* key) {
  return reader(config).number_list(key);
}

// ---- op helpers -------------------------------------------------------------------------

Tensor divide_no_nan(const Tensor& a, const Tensor& b) {
  const Tensor zero = scalar_like(b, 0.0);
  const Tensor is_zero = equal(b, zero);
  // The division is computed where b == 0 too (inf or nan there) and then discarded.
  return select(is_zero, zeros_like(a * b), a / select(is_zero, ones_like(b), b));
}

Tensor clip(const Tensor& x, double lo, double hi) {
  return minimum(maximum(x, scalar_like(x, lo)), scalar_like(x, hi));
}

Tensor ceil(const Tensor& x) { return neg(floor(neg(x))); }

Tensor slice_axis(const Tensor& x, std::int64_t axis, std::int64_t begin, std::int64_t end) {
  const auto rank = static_cast<std::int64_t>(x.rank());
  const std::size_t a = x.shape().normalize_axis(axis);
  const std::int64_t n = x.shape().dims()[a];
  if (end < 0) end += n;
  std::vector<std::int64_t> b(static_cast<std::size_t>(rank), 0), s = x.shape().dims();
  b[a] = begin;
  s[a] = end - begin;
  return slice(x, b, s);
}

namespace {

bool last_dim_is_one(const Tensor& t) { return t.rank() > 0 && t.shape().dims().back() == 1; }

}  // namespace

void squeeze_or_expand(Tensor& y_pred, Tensor* y_true, Tensor* sample_weight) {
  const auto pred_rank = static_cast<std::int64_t>(y_pred.rank());
  if (y_true != nullptr && y_true->defined()) {
    const auto true_rank = static_cast<std::int64_t>(y_true->rank());
    if (pred_rank - true_rank != 1 || last_dim_is_one(y_pred)) {
      // remove_squeezable_dimensions(y_true, y_pred) with expected_rank_diff 0.
      const std::int64_t diff = pred_rank - true_rank;
      if (diff == 1 && last_dim_is_one(y_pred)) {
        y_pred = squeeze(y_pred, {-1});
      } else if (diff == -1 && last_dim_is_one(*y_true)) {
        *y_true = squeeze(*y_true, {-1});
      }
    }
  }
  if (sample_weight == nullptr || !sample_weight->defined() || sample_weight->rank() == 0) return;
  const auto w_rank = static_cast<std::int64_t>(sample_weight->rank());
  const auto p_rank = static_cast<std::int64_t>(y_pred.rank());
  if (w_rank - p_rank == 1) {
    *sample_weight = squeeze(*sample_weight, {-1});
  } else if (p_rank - w_rank == 1) {
    *sample_weight = expand_dims(*sample_weight, -1);
  }
}

// ---- loss and metric functions ------------------------------------------------------------

FunctionArgs function_args(const Config& kwargs) {
  FunctionArgs a;
  a.from_logits = get_bool(kwargs, "from_logits", a.from_logits);
  a.label_smoothing = get_double(kwargs, "label_smoothing", a.label_smoothing);
  a.axis = get_int(kwargs, "axis", a.axis);
  a.delta = get_double(kwargs, "delta", a.delta);
  if (find_key(kwargs, "ignore_class")) a.ignore_class = get_int(kwargs, "ignore_class", 0);
  a.threshold = get_double(kwargs, "threshold", a.threshold);
  a.k = get_int(kwargs, "k", a.k);
  return a;
}

namespace {

Tensor mean_last(const Tensor& x, std::int64_t axis = -1) { return mean(x, {axis}); }

Tensor as_dtype(const Tensor& x, DType dtype) { return x.dtype() == dtype ? x : cast(x, dtype); }

Tensor mean_squared_error(const Tensor& y_true, const Tensor& y_pred) {
  return mean_last(squared_difference(y_pred, as_dtype(y_true, y_pred.dtype())));
}

Tensor mean_absolute_error(const Tensor& y_true, const Tensor& y_pred) {
  return mean_last(abs(y_pred - as_dtype(y_true, y_pred.dtype())));
}

Tensor mean_absolute_percentage_error(const Tensor& y_true_in, const Tensor& y_pred) {
  const Tensor y_true = as_dtype(y_true_in, y_pred.dtype());
  const Tensor diff = abs((y_true - y_pred) / maximum(abs(y_true), scalar_like(y_true, kEpsilon)));
  return scalar_like(diff, 100.0) * mean_last(diff);
}

Tensor mean_squared_logarithmic_error(const Tensor& y_true_in, const Tensor& y_pred) {
  const Tensor y_true = as_dtype(y_true_in, y_pred.dtype());
  const Tensor first = log(maximum(y_pred, scalar_like(y_pred, kEpsilon)) + 1.0);
  const Tensor second = log(maximum(y_true, scalar_like(y_true, kEpsilon)) + 1.0);
  return mean_last(squared_difference(first, second));
}

// _maybe_convert_labels: {0, 1} labels become {-1, 1}; any other labels are kept.
Tensor maybe_convert_labels(const Tensor& y_true) {
  const Tensor is_label = logical_or(equal(y_true, scalar_like(y_true, 0.0)), equal(y_true, scalar_like(y_true, 1.0)));
  const Tensor all_binary = greater(min(cast(is_label, DType::kFloat32)), Tensor::scalar<float>(0.5f, y_true.device()));
  return select(all_binary, y_true * 2.0 - 1.0, y_true);
}

Tensor hinge(const Tensor& y_true_in, const Tensor& y_pred) {
  const Tensor y_true = maybe_convert_labels(as_dtype(y_true_in, y_pred.dtype()));
  return mean_last(maximum(1.0 - y_true * y_pred, scalar_like(y_pred, 0.0)));
}

Tensor squared_hinge(const Tensor& y_true_in, const Tensor& y_pred) {
  const Tensor y_true = maybe_convert_labels(as_dtype(y_true_in, y_pred.dtype()));
  return mean_last(square(maximum(1.0 - y_true * y_pred, scalar_like(y_pred, 0.0))));
}

Tensor categorical_hinge(const Tensor& y_true_in, const Tensor& y_pred) {
  const Tensor y_true = as_dtype(y_true_in, y_pred.dtype());
  const Tensor pos = sum(y_true * y_pred, {-1});
  const Tensor negative = max((1.0 - y_true) * y_pred, {-1});
  return maximum(negative - pos + 1.0, scalar_like(y_pred, 0.0));
}

Tensor huber(const Tensor& y_true_in, const Tensor& y_pred_in, double delta_value) {
  // tf-keras casts both to floatx (float32).
  const Tensor y_pred = as_dtype(y_pred_in, DType::kFloat32);
  const Tensor y_true = as_dtype(y_true_in, DType::kFloat32);
  const Tensor delta = scalar_like(y_pred, delta_value);
  const Tensor error = y_pred - y_true;
  const Tensor abs_error = abs(error);
  const Tensor half = scalar_like(y_pred, 0.5);
  return mean_last(select(less_equal(abs_error, delta), half * square(error), delta * abs_error - half * square(delta)));
}

Tensor log_cosh(const Tensor& y_true, const Tensor& y_pred) {
  const Tensor x = y_pred - as_dtype(y_true, y_pred.dtype());
  return mean_last(x + softplus(x * -2.0) - std::log(2.0f));
}

Tensor kl_divergence(const Tensor& y_true_in, const Tensor& y_pred_in) {
  const Tensor y_true = clip(as_dtype(y_true_in, y_pred_in.dtype()), kEpsilon, 1.0);
  const Tensor y_pred = clip(y_pred_in, kEpsilon, 1.0);
  return sum(y_true * log(y_true / y_pred), {-1});
}

Tensor poisson(const Tensor& y_true, const Tensor& y_pred) {
  return mean_last(y_pred - as_dtype(y_true, y_pred.dtype()) * log(y_pred + kEpsilon));
}

Tensor l2_normalize(const Tensor& x, std::int64_t axis) {
  const Tensor square_sum = sum(square(x), {axis}, /*keepdims=*/true);
  return x * rsqrt(maximum(square_sum, scalar_like(square_sum, 1e-12)));
}

Tensor cosine_similarity(const Tensor& y_true, const Tensor& y_pred, std::int64_t axis) {
  const Tensor t = l2_normalize(as_dtype(y_true, y_pred.dtype()), axis);
  const Tensor p = l2_normalize(y_pred, axis);
  return neg(sum(t * p, {axis}));
}

// backend.binary_crossentropy, element-wise.
Tensor binary_crossentropy_elements(const Tensor& target, const Tensor& output, bool from_logits) {
  if (from_logits) {
    // sigmoid_cross_entropy_with_logits: max(x, 0) - x z + log1p(exp(-|x|)).
    const Tensor zero = scalar_like(output, 0.0);
    const Tensor cond = greater_equal(output, zero);
    const Tensor relu_logits = select(cond, output, zeros_like(output));
    const Tensor neg_abs_logits = select(cond, neg(output), output);
    return relu_logits - output * target + log1p(exp(neg_abs_logits));
  }
  const Tensor o = clip(output, kEpsilon, 1.0 - static_cast<double>(static_cast<float>(kEpsilon)));
  Tensor bce = target * log(o + kEpsilon);
  bce = bce + (1.0 - target) * log(1.0 - o + kEpsilon);
  return neg(bce);
}

Tensor binary_crossentropy(const Tensor& y_true_in, const Tensor& y_pred, const FunctionArgs& a) {
  Tensor y_true = as_dtype(y_true_in, y_pred.dtype());
  if (a.label_smoothing != 0.0) {
    y_true = y_true * (1.0 - a.label_smoothing) + scalar_like(y_true, 0.5 * a.label_smoothing);
  }
  return mean(binary_crossentropy_elements(y_true, y_pred, a.from_logits), {a.axis});
}

Tensor categorical_crossentropy(const Tensor& y_true_in, const Tensor& y_pred, const FunctionArgs& a) {
  Tensor y_true = as_dtype(y_true_in, y_pred.dtype());
  STRATA_CHECK(y_true.shape() == y_pred.shape(), ShapeError, "categorical_crossentropy needs targets shaped like the ",
               "predictions, got ", y_true.shape().to_string(), " and ", y_pred.shape().to_string(),
               " (integer labels need sparse_categorical_crossentropy)");
  if (a.label_smoothing != 0.0) {
    const double num_classes = static_cast<double>(y_true.shape()[a.axis]);
    const Tensor ls = scalar_like(y_true, a.label_smoothing);
    y_true = y_true * (1.0 - ls) + ls / scalar_like(y_true, num_classes);
  }
  const std::size_t axis = y_pred.shape().normalize_axis(a.axis);
  const bool last = axis + 1 == y_pred.rank();
  if (a.from_logits) {
    // softmax_cross_entropy_with_logits over `axis`.
    if (last) return neg(sum(y_true * log_softmax(y_pred, -1), {-1}));
    std::vector<std::int64_t> perm;
    for (std::size_t i = 0; i < y_pred.rank(); ++i) {
      if (i != axis) perm.push_back(static_cast<std::int64_t>(i));
    }
    perm.push_back(static_cast<std::int64_t>(axis));
    return neg(sum(transpose(y_true, perm) * log_softmax(transpose(y_pred, perm), -1), {-1}));
  }
  const auto ax = static_cast<std::int64_t>(axis);
  Tensor output = y_pred / sum(y_pred, {ax}, /*keepdims=*/true);
  output = clip(output, kEpsilon, 1.0 - static_cast<double>(static_cast<float>(kEpsilon)));
  return neg(sum(y_true * log(output), {ax}));
}

// TensorFlow's sparse_softmax_cross_entropy_with_logits refuses a label outside
// [0, classes) on the CPU (InvalidArgumentError "Received a label value of L which is outside
// the valid range of [0, C)"; its GPU kernel gives NaN); a one-hot of such a label is all
// zeros, which would make the loss 0. Labels equal to ignore_class are exempt (tf-keras
// replaces them by 0 before the op). The labels are read on the host, whatever the device
// (one copy of the integer labels per batch); a traced call has no values to check.
void check_label_range(const Tensor& target, std::int64_t classes, const std::optional<std::int64_t>& ignore_class) {
  if (target.is_symbolic() || target.num_elements() == 0) return;
  const auto labels = target.to(Device::cpu()).to_vector<std::int64_t>();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int64_t label = labels[i];
    if ((label >= 0 && label < classes) || (ignore_class && label == *ignore_class)) continue;
    STRATA_THROW(ValueError, "sparse_categorical_crossentropy: label ", label, " (label number ", i,
                ") is outside the valid range [0, ", classes, ") of the predictions' ", classes,
                " classes; labels are class indices (pass ignore_class to skip a padding label)");
  }
}

Tensor sparse_categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred, const FunctionArgs& a,
                                       Tensor* valid) {
  Tensor output = y_pred;
  if (!a.from_logits) {
    output = log(clip(output, kEpsilon, 1.0 - static_cast<double>(static_cast<float>(kEpsilon))));
  }
  const std::size_t axis = output.shape().normalize_axis(a.axis);
  if (axis + 1 != output.rank()) {
    std::vector<std::int64_t> perm;
    for (std::size_t i = 0; i < output.rank(); ++i) {
      if (i != axis) perm.push_back(static_cast<std::int64_t>(i));
    }
    perm.push_back(static_cast<std::int64_t>(axis));
    output = transpose(output, perm);
  }
  const std::vector<std::int64_t> dims = output.shape().dims();
  const std::int64_t classes = dims.back();
  const Shape result_shape(std::vector<std::int64_t>(dims.begin(), dims.end() - 1));
  STRATA_CHECK(y_true.num_elements() == result_shape.num_elements(), ShapeError,
               "sparse_categorical_crossentropy needs one integer label per prediction row: labels of shape ",
               y_true.shape().to_string(), " do not fit predictions of shape ", y_pred.shape().to_string());
  const Tensor target = reshape(as_dtype(y_true, DType::kInt64), result_shape);
  check_label_range(target, classes, a.ignore_class);
  // sparse_softmax_cross_entropy_with_logits: -log_softmax(logits)[label].
  const Tensor labels = one_hot(target, classes, 1.0, 0.0, output.dtype());
  Tensor res = neg(sum(labels * log_softmax(output, -1), {-1}));
  if (a.ignore_class) {
    const Tensor keep = not_equal(target, scalar_like(target, static_cast<double>(*a.ignore_class)));
    res = select(keep, res, zeros_like(res));
    if (valid) *valid = keep;
  }
  return res;
}

Tensor accuracy(const Tensor& y_true, const Tensor& y_pred) {
  return cast(equal(y_true, as_dtype(y_pred, y_true.dtype())), DType::kFloat32);
}

Tensor binary_accuracy(const Tensor& y_true, const Tensor& y_pred, double threshold) {
  return mean_last(binary_matches(y_true, y_pred, threshold));
}

Tensor categorical_accuracy(const Tensor& y_true, const Tensor& y_pred) {
  return sparse_categorical_matches(argmax(y_true, -1), y_pred);
}

Tensor sparse_categorical_accuracy(const Tensor& y_true, const Tensor& y_pred) {
  Tensor matches = sparse_categorical_matches(y_true, y_pred);
  if (matches.rank() > 1 && matches.shape().dims().back() == 1) matches = squeeze(matches, {-1});
  return matches;
}

}  // namespace

Tensor binary_matches(const Tensor& y_true, const Tensor& y_pred, double threshold) {
  const Tensor pred = cast(greater(y_pred, scalar_like(y_pred, threshold)), y_pred.dtype());
  return cast(equal(as_dtype(y_true, pred.dtype()), pred), DType::kFloat32);
}

Tensor sparse_categorical_matches(const Tensor& y_true_in, const Tensor& y_pred) {
  Tensor y_true = y_true_in;
  const Shape original = y_true.shape();
  bool reshape_matches = false;
  if (y_true.rank() == y_pred.rank()) {
    y_true = squeeze(y_true, {-1});
    reshape_matches = true;
  }
  Tensor pred = argmax(y_pred, -1);
  pred = as_dtype(pred, y_true.dtype());
  Tensor matches = cast(equal(y_true, pred), DType::kFloat32);
  if (reshape_matches) matches = reshape(matches, original);
  return matches;
}

Tensor sparse_top_k_categorical_matches(const Tensor& y_true_in, const Tensor& y_pred_in, std::int64_t k) {
  Tensor y_true = y_true_in, y_pred = y_pred_in;
  const Shape original = y_true.shape();
  const std::int64_t classes = y_pred.shape().dims().back();
  if (y_pred.rank() > 2) y_pred = reshape(y_pred, Shape{-1, classes});
  const bool reshape_matches = y_true.rank() > 1;
  if (reshape_matches) y_true = reshape(y_true, Shape{-1});
  // in_top_k: the target is in the top k when fewer than k classes score strictly
  // higher than it (ties with the k-th score count as inside); a target outside
  // [0, classes) or a non-finite score is never inside.
  const Tensor target = as_dtype(y_true, DType::kInt64);
  const Tensor hot = one_hot(target, classes, 1.0, 0.0, DType::kBool);
  const Tensor target_score = sum(select(hot, y_pred, zeros_like(y_pred)), {-1}, /*keepdims=*/true);
  const Tensor higher = sum(cast(greater(y_pred, target_score), DType::kFloat32), {-1});
  const Tensor in_range = logical_and(greater_equal(target, scalar_like(target, 0.0)),
                                      less(target, scalar_like(target, static_cast<double>(classes))));
  const Tensor finite_row = equal(sum(cast(logical_not(equal(y_pred - y_pred, zeros_like(y_pred))), DType::kFloat32), {-1}),
                                  scalar_like(higher, 0.0));
  const Tensor inside = logical_and(logical_and(less(higher, scalar_like(higher, static_cast<double>(k))), in_range),
                                    finite_row);
  Tensor matches = cast(inside, DType::kFloat32);
  if (reshape_matches) matches = reshape(matches, original);
  return matches;
}

namespace {

const std::vector<std::string>& function_names() {
  static const std::vector<std::string> names = {
      "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
      "hinge", "squared_hinge", "categorical_hinge", "huber", "log_cosh", "kl_divergence", "poisson",
      "cosine_similarity", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
      "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
      "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"};
  return names;
}

}  // namespace

bool is_known_function(const std::string& name) {
  for (const auto& n : function_names()) {
    if (n == name) return true;
  }
  return false;
}

Tensor apply_function(const std::string& name, const Tensor& y_true, const Tensor& y_pred, const FunctionArgs& a,
                      Tensor* valid) {
  if (name == "mean_squared_error") return mean_squared_error(y_true, y_pred);
  if (name == "mean_absolute_error") return mean_absolute_error(y_true, y_pred);
  if (name == "mean_absolute_percentage_error") return mean_absolute_percentage_error(y_true, y_pred);
  if (name == "mean_squared_logarithmic_error") return mean_squared_logarithmic_error(y_true, y_pred);
  if (name == "hinge") return hinge(y_true, y_pred);
  if (name == "squared_hinge") return squared_hinge(y_true, y_pred);
  if (name == "categorical_hinge") return categorical_hinge(y_true, y_pred);
  if (name == "huber") return huber(y_true, y_pred, a.delta);
  if (name == "log_cosh") return log_cosh(y_true, y_pred);
  if (name == "kl_divergence") return kl_divergence(y_true, y_pred);
  if (name == "poisson") return poisson(y_true, y_pred);
  if (name == "cosine_similarity") return cosine_similarity(y_true, y_pred, a.axis);
  if (name == "binary_crossentropy") return binary_crossentropy(y_true, y_pred, a);
  if (name == "categorical_crossentropy") return categorical_crossentropy(y_true, y_pred, a);
  if (name == "sparse_categorical_crossentropy") return sparse_categorical_crossentropy(y_true, y_pred, a, valid);
  if (name == "accuracy") return accuracy(y_true, y_pred);
  if (name == "binary_accuracy") return binary_accuracy(y_true, y_pred, a.threshold);
  if (name == "categorical_accuracy") return categorical_accuracy(y_true, y_pred);
  if (name == "sparse_categorical_accuracy") return sparse_categorical_accuracy(y_true, y_pred);
  if (name == "top_k_categorical_accuracy") return sparse_top_k_categorical_matches(argmax(y_true, -1), y_pred, a.k);
  if (name == "sparse_top_k_categorical_accuracy") return sparse_top_k_categorical_matches(y_true, y_pred, a.k);
  std::string known;
  for (const auto& n : function_names()) known += (known.empty() ? "" : ", ") + n;
  STRATA_THROW(ValueError, "unknown loss or metric function '", name, "' (known: ", known, ")");
}

}  // namespace strata::training
