// The tf-keras loss classes (each a LossFunctionWrapper around a loss function) and the
// loss function names compile() accepts ("mse", "binary_crossentropy", ...). call()
// first brings y_true and y_pred to compatible ranks as LossFunctionWrapper.call does,
// then applies the function (common.cpp); the runtime's Loss::operator() weights and
// reduces the per-sample values.
#include <utility>

#include "common.hpp"
#include "strata/losses.hpp"

namespace strata::training {
namespace {

// A loss class: its registered name, default instance name, the function it wraps and
// the keyword arguments it passes on (in tf-keras's get_config order, with defaults).
struct LossSpec {
  const char* class_name;
  const char* default_name;
  const char* fn;
  std::vector<std::pair<const char*, Config>> kwargs;
};

const std::vector<LossSpec>& loss_specs() {
  static const std::vector<LossSpec> specs = {
      {"MeanSquaredError", "mean_squared_error", "mean_squared_error", {}},
      {"MeanAbsoluteError", "mean_absolute_error", "mean_absolute_error", {}},
      {"MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mean_absolute_percentage_error", {}},
      {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "mean_squared_logarithmic_error", {}},
      {"BinaryCrossentropy",
       "binary_crossentropy",
       "binary_crossentropy",
       {{"from_logits", false}, {"label_smoothing", 0.0}, {"axis", -1}}},
      {"CategoricalCrossentropy",
       "categorical_crossentropy",
       "categorical_crossentropy",
       {{"from_logits", false}, {"label_smoothing", 0.0}, {"axis", -1}}},
      {"SparseCategoricalCrossentropy",
       "sparse_categorical_crossentropy",
       "sparse_categorical_crossentropy",
       {{"from_logits", false}, {"ignore_class", nullptr}}},
      {"Huber", "huber_loss", "huber", {{"delta", 1.0}}},
      {"KLDivergence", "kl_divergence", "kl_divergence", {}},
      {"Poisson", "poisson", "poisson", {}},
      {"CosineSimilarity", "cosine_similarity", "cosine_similarity", {{"axis", -1}}},
      {"Hinge", "hinge", "hinge", {}},
      {"SquaredHinge", "squared_hinge", "squared_hinge", {}},
      {"CategoricalHinge", "categorical_hinge", "categorical_hinge", {}},
      {"LogCosh", "log_cosh", "log_cosh", {}},
  };
  return specs;
}

class KerasLoss final : public Loss {
 public:
  // A loss class (`wrapper` false: every keyword argument is in the config, with its
  // default) or a LossFunctionWrapper around spec.fn (only the keyword arguments the
  // config gives).
  KerasLoss(const LossSpec& spec, const Config& config, const std::string& default_name, bool wrapper)
      : Loss(wrapper ? "LossFunctionWrapper" : spec.class_name, config, default_name), fn_(spec.fn),
        reduction_text_(get_string(config, "reduction", "auto")) {
    kwargs_ = Config::object();
    for (const auto& [key, fallback] : spec.kwargs) {
      if (!wrapper || (config.is_object() && config.contains(key))) kwargs_[key] = get_value(config, key, fallback);
    }
    args_ = function_args(kwargs_);
  }

  Tensor call(const Tensor& y_true_in, const Tensor& y_pred_in) const override {
    Tensor y_pred = y_pred_in, y_true = y_true_in;
    squeeze_or_expand(y_pred, &y_true);
    Tensor valid;
    Tensor losses = apply_function(fn_, y_true, y_pred, args_, &valid);
    if (valid.defined() && reduction() == Reduction::kSumOverBatchSize) {
      // tf-keras attaches the ignore_class mask to the losses and, for
      // sum_over_batch_size, rescales it by total / valid so the mean runs over the
      // valid entries only. Loss::operator() divides by the number of entries, so the
      // same rescaling is applied here (the reduced loss then equals tf-keras's).
      const Tensor count = scalar_like(losses, static_cast<double>(losses.num_elements()));
      const Tensor valid_count = sum(cast(valid, losses.dtype()));
      losses = losses * divide_no_nan(count, valid_count);
    }
    return losses;
  }

  Config get_config() const override {
    Config c = Loss::get_config();
    c["reduction"] = reduction_text_;
    for (auto it = kwargs_.begin(); it != kwargs_.end(); ++it) c[it.key()] = it.value();
    c["fn"] = fn_;
    return c;
  }

 private:
  std::string fn_;
  std::string reduction_text_;
  Config kwargs_;
  FunctionArgs args_;
};

const LossSpec& spec_for_function(const std::string& fn) {
  for (const auto& s : loss_specs()) {
    if (fn == s.fn) return s;
  }
  STRATA_THROW(ValueError, "no loss class wraps the function '", fn, "'");
}

// Function names compile() accepts, and the function (fn.__name__) each one is.
const std::vector<std::pair<const char*, const char*>>& loss_function_aliases() {
  static const std::vector<std::pair<const char*, const char*>> aliases = {
      {"mean_squared_error", "mean_squared_error"},
      {"mse", "mean_squared_error"},
      {"MSE", "mean_squared_error"},
      {"mean_absolute_error", "mean_absolute_error"},
      {"mae", "mean_absolute_error"},
      {"MAE", "mean_absolute_error"},
      {"mean_absolute_percentage_error", "mean_absolute_percentage_error"},
      {"mape", "mean_absolute_percentage_error"},
      {"MAPE", "mean_absolute_percentage_error"},
      {"mean_squared_logarithmic_error", "mean_squared_logarithmic_error"},
      {"msle", "mean_squared_logarithmic_error"},
      {"MSLE", "mean_squared_logarithmic_error"},
      {"binary_crossentropy", "binary_crossentropy"},
      {"bce", "binary_crossentropy"},
      {"BCE", "binary_crossentropy"},
      {"categorical_crossentropy", "categorical_crossentropy"},
      {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
      {"huber", "huber"},
      {"huber_loss", "huber"},
      {"kl_divergence", "kl_divergence"},
      {"kld", "kl_divergence"},
      {"KLD", "kl_divergence"},
      {"kullback_leibler_divergence", "kl_divergence"},
      {"poisson", "poisson"},
      {"cosine_similarity", "cosine_similarity"},
      {"hinge", "hinge"},
      {"squared_hinge", "squared_hinge"},
      {"categorical_hinge", "categorical_hinge"},
      {"log_cosh", "log_cosh"},
      {"logcosh", "log_cosh"},
  };
  return aliases;
}

std::string canonical_loss_function(const std::string& name) {
  for (const auto& [alias, fn] : loss_function_aliases()) {
    if (name == alias) return fn;
  }
  STRATA_THROW(ValueError, "LossFunctionWrapper: unknown loss function '", name, "'");
}

}  // namespace

void register_losses(Registrar& r) {
  for (const auto& spec : loss_specs()) {
    const LossSpec* s = &spec;
    r.add<ObjectKind::kLoss>(spec.class_name, [s](const Config& c) -> std::shared_ptr<Loss> {
      return std::make_shared<KerasLoss>(*s, c, s->default_name, /*wrapper=*/false);
    });
  }
  // tf-keras wraps a loss function in a LossFunctionWrapper named after the function
  // (fn.__name__), which computes what the class wrapping the same function computes.
  for (const auto& [alias, fn] : loss_function_aliases()) {
    const LossSpec* s = &spec_for_function(fn);
    const std::string name = fn;
    r.add<ObjectKind::kLoss>(alias, [s, name](const Config& c) -> std::shared_ptr<Loss> {
      return std::make_shared<KerasLoss>(*s, c, name, /*wrapper=*/true);
    });
  }
  // {"class_name": "LossFunctionWrapper", "config": {"reduction", "name", "fn", ...}}.
  r.add<ObjectKind::kLoss>("LossFunctionWrapper", [](const Config& c) -> std::shared_ptr<Loss> {
    const std::string fn = canonical_loss_function(get_string(c, "fn", ""));
    return std::make_shared<KerasLoss>(spec_for_function(fn), c, fn, /*wrapper=*/true);
  });
}

}  // namespace strata::training
