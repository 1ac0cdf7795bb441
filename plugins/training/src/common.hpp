// Helpers shared by the sources of the training plugin: reading config keys the way
// tf-keras's constructors take them (a missing key or a JSON null gives the default),
// keeping numbers exactly as written so get_config echoes them back, and the few op
// compositions that losses and metrics share (tf-keras's squeeze_or_expand_dimensions,
// divide_no_nan, the loss and metric functions themselves).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "strata/config.hpp"
#include "strata/config_reader.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::training {

// ---- registration (one function per source file) ---------------------------------------

void register_optimizers(Registrar& registrar);
void register_schedules(Registrar& registrar);
void register_losses(Registrar& registrar);
void register_metrics(Registrar& registrar);

// ---- reading config keys ----------------------------------------------------------------
// Thin calls into the SDK's ConfigReader (strata/config_reader.hpp) with its semantics:
// a missing key or a JSON null gives the fallback; FormatError for a wrong type.

// The SDK's one-key shortcuts (strata/config_reader.hpp): find_key, get_bool, get_int,
// get_double, get_string, get_number, and the reader they use.
using namespace ::strata::config;
// Like get_number, but a JSON null is kept (keys whose default is None).
Config get_value(const Config& config, const char* key, const Config& fallback);
// A number or a list of numbers (thresholds), or nullopt when missing or null.
std::optional<std::vector<double>> get_double_list(const Config& config, const char* key);

// ---- op helpers -------------------------------------------------------------------------

// tf-keras's epsilon() (backend.epsilon, 1e-7).
inline constexpr double kEpsilon = 1e-7;

// a / b, with 0 where b == 0 (tf.math.divide_no_nan).
Tensor divide_no_nan(const Tensor& a, const Tensor& b);
// tf.clip_by_value with scalar bounds.
Tensor clip(const Tensor& x, double lo, double hi);
// tf.math.ceil, written as -floor(-x) (the op set has no Ceil).
Tensor ceil(const Tensor& x);
// x[begin:end] along `axis` (a negative end counts from the end).
Tensor slice_axis(const Tensor& x, std::int64_t axis, std::int64_t begin, std::int64_t end);

// losses_utils.squeeze_or_expand_dimensions: squeezes a trailing 1 of y_pred or y_true
// when their ranks differ by one (remove_squeezable_dimensions), then brings
// `sample_weight` (when defined and not a scalar) within one rank of y_pred.
void squeeze_or_expand(Tensor& y_pred, Tensor* y_true, Tensor* sample_weight = nullptr);

// The loss and metric functions of tf_keras.losses / tf_keras.metrics, by the name
// tf-keras gives the function (fn.__name__). Arguments a function takes besides y_true
// and y_pred come from `kwargs` (from_logits, label_smoothing, axis, delta, ignore_class,
// threshold, k), with the function's defaults.
struct FunctionArgs {
  bool from_logits = false;
  double label_smoothing = 0.0;
  std::int64_t axis = -1;
  double delta = 1.0;
  std::optional<std::int64_t> ignore_class;
  double threshold = 0.5;
  std::int64_t k = 5;
};
FunctionArgs function_args(const Config& kwargs);
// Per-sample values (the last axis reduced, except for the element-wise matches of the
// accuracy functions), as the tf-keras function returns them. `valid` (when not null)
// receives the mask tf-keras attaches to sparse_categorical_crossentropy's result when
// ignore_class is set (undefined otherwise). ValueError for an unknown name.
Tensor apply_function(const std::string& name, const Tensor& y_true, const Tensor& y_pred, const FunctionArgs& args,
                      Tensor* valid = nullptr);
// True when `name` is a function apply_function knows.
bool is_known_function(const std::string& name);

// The pieces of a few metric functions, shared with the metric classes.
Tensor binary_matches(const Tensor& y_true, const Tensor& y_pred, double threshold);
Tensor sparse_categorical_matches(const Tensor& y_true, const Tensor& y_pred);
Tensor sparse_top_k_categorical_matches(const Tensor& y_true, const Tensor& y_pred, std::int64_t k);

}  // namespace strata::training
