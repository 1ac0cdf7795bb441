// The C API's training calls (version 3): compile (from the file's training config, or
// from Keras JSON strings), fit on caller buffers, train_on_batch, evaluate, and the logs
// handle that carries their results; version 4: sample weights and test_on_batch.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"
#include "strata/strata.hpp"
#include "strata/training.hpp"

struct strata_logs {
  std::vector<std::pair<std::string, double>> items;
};

namespace strata::capi {
namespace {

// The size strata_fit_options had in C API version 3, the smallest struct_size accepted.
constexpr std::size_t kFitOptionsSizeV3 = offsetof(strata_fit_options, verbose) + sizeof(std::int32_t);

Device model_device(const strata_model& m) {
  const auto weights = m.model->weights();
  return weights.empty() ? Device::cpu() : weights.front().device();
}

void require_compiled(const strata_model& m, const char* call) {
  STRATA_CHECK(m.model->is_compiled(), ValueError, call, ": model '", m.model->name(),
               "' is not compiled; call strata_model_compile_from_file (the training configuration saved in its "
               "file) or strata_model_compile first");
}

// The tensor of target `i` from the caller's buffer: every field checked; a floating
// target is converted to a floating output's dtype (as inputs are).
Tensor target_tensor(const strata_model& m, std::size_t i, const strata_buffer& b, const Device& device) {
  std::string who = detail::concat("target ", i);
  if (i < m.outputs.size()) who += detail::concat(" (of output '", m.outputs[i].name, "')");
  check_struct_size<strata_buffer>(b.struct_size, buffer_size_v1(), "strata_buffer", who);
  STRATA_CHECK(b.rank >= 0 && b.rank <= STRATA_MAX_RANK, capi::InvalidArgument, who, ": rank ", b.rank,
               " is out of range (0 to ", STRATA_MAX_RANK, ")");
  std::vector<std::int64_t> dims(b.shape, b.shape + b.rank);
  for (std::size_t d = 0; d < dims.size(); ++d) {
    STRATA_CHECK(dims[d] >= 0, capi::InvalidArgument, who, ": dimension ", d, " is ", dims[d]);
  }
  const Shape shape(std::move(dims));
  const DType dtype = to_dtype(b.dtype, who);
  const std::size_t item = dtype_size(dtype);
  STRATA_CHECK(static_cast<std::uint64_t>(shape.num_elements()) <= std::numeric_limits<std::size_t>::max() / item,
               capi::InvalidArgument, who, ": a ", dtype_name(dtype), " ", shape.to_string(), " value is too large");
  const std::size_t bytes = static_cast<std::size_t>(shape.num_elements()) * item;
  STRATA_CHECK(b.size <= b.capacity, capi::InvalidArgument, who, ": size (", b.size,
               " bytes) is larger than capacity (", b.capacity, " bytes)");
  STRATA_CHECK(b.size == bytes, capi::InvalidArgument, who, ": size is ", b.size, " bytes but a ", dtype_name(dtype),
               " ", shape.to_string(), " value takes ", bytes);
  STRATA_CHECK(b.data != nullptr || bytes == 0, capi::InvalidArgument, who, ": data is NULL");
  Tensor y = Tensor::from_host(dtype, shape, b.data, bytes, Device::cpu());
  if (i < m.outputs.size() && is_floating(dtype) && is_floating(m.outputs[i].dtype) && dtype != m.outputs[i].dtype) {
    y = cast(y, m.outputs[i].dtype);
  }
  return device == Device::cpu() ? y : y.to(device);
}

// The size strata_fit_options has had since version 4 (sample_weight appended).
constexpr std::size_t kFitOptionsSizeV4 = offsetof(strata_fit_options, sample_weight) + sizeof(const strata_buffer*);

// A sample_weight buffer (Keras's sample_weight): NULL gives an undefined tensor; else a
// rank-1 numeric buffer of `samples` weights, checked as a target is.
Tensor sample_weight_tensor(const char* call, const strata_buffer* b, std::int64_t samples, const Device& device) {
  if (b == nullptr) return Tensor();
  const std::string who = detail::concat(call, ": sample_weight");
  check_struct_size<strata_buffer>(b->struct_size, buffer_size_v1(), "strata_buffer", who);
  const DType dtype = to_dtype(b->dtype, who);
  STRATA_CHECK(dtype != DType::kBool, ValueError, who, " is bool; give one numeric weight per sample (float32)");
  STRATA_CHECK(b->rank == 1, ShapeError, who, " has rank ", b->rank, "; it holds one weight per sample: shape [",
               samples, "]");
  STRATA_CHECK(b->shape[0] == samples, ShapeError, who, " holds ", b->shape[0], " weights but the inputs hold ",
               samples, " samples; give one weight per sample");
  const std::size_t bytes = static_cast<std::size_t>(samples) * dtype_size(dtype);
  STRATA_CHECK(b->size <= b->capacity, capi::InvalidArgument, who, ": size (", b->size,
               " bytes) is larger than capacity (", b->capacity, " bytes)");
  STRATA_CHECK(b->size == bytes, capi::InvalidArgument, who, ": size is ", b->size, " bytes but a ",
               dtype_name(dtype), " [", samples, "] value takes ", bytes);
  STRATA_CHECK(b->data != nullptr || bytes == 0, capi::InvalidArgument, who, ": data is NULL");
  Tensor w = Tensor::from_host(dtype, Shape(std::vector<std::int64_t>{samples}), b->data, bytes, Device::cpu());
  if (!is_floating(dtype)) w = cast(w, DType::kFloat32);
  return device == Device::cpu() ? w : w.to(device);
}

// Keras's evaluate(x, y, batch_size, sample_weight): Model::evaluate takes no weights, so
// the batches go through test_step here (metrics reset first, as evaluate does).
Logs evaluate_weighted(Model& model, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                       const Tensor& sample_weight, std::int64_t batch_size) {
  const std::int64_t n = xs[0].shape()[0];
  const auto rows = [](const Tensor& t, std::int64_t start, std::int64_t len) {
    std::vector<std::int64_t> begin(t.rank(), 0), size = t.shape().dims();
    begin[0] = start;
    size[0] = len;
    return slice(t, begin, size);
  };
  model.reset_metrics();
  Logs logs;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t len = std::min(batch_size, n - start);
    std::vector<Tensor> bx, by;
    for (const auto& t : xs) bx.push_back(rows(t, start, len));
    for (const auto& t : ys) by.push_back(rows(t, start, len));
    logs = model.test_step(bx, by, rows(sample_weight, start, len));
  }
  return logs;
}

// x and y of a training call, checked against the model's inputs and outputs.
std::pair<std::vector<Tensor>, std::vector<Tensor>> batch(const strata_model& m, const char* call,
                                                          const strata_buffer* x, std::size_t x_count,
                                                          const strata_buffer* y, std::size_t y_count) {
  STRATA_CHECK(x_count > 0, capi::InvalidArgument, call, ": no input buffers were given (x_count is 0)");
  STRATA_CHECK(y_count > 0, capi::InvalidArgument, call, ": no target buffers were given (y_count is 0)");
  STRATA_CHECK(m.inputs.empty() || x_count == m.inputs.size(), capi::InvalidArgument, call, ": the model takes ",
               m.inputs.size(), " input(s) but ", x_count, " input buffers were given");
  STRATA_CHECK(m.outputs.empty() || y_count == m.outputs.size(), capi::InvalidArgument, call, ": the model has ",
               m.outputs.size(), " output(s) but ", y_count, " target buffers were given");
  const Device device = model_device(m);
  std::vector<Tensor> xs, ys;
  for (std::size_t i = 0; i < x_count; ++i) xs.push_back(model_input_tensor(m, i, x[i], device));
  for (std::size_t i = 0; i < y_count; ++i) ys.push_back(target_tensor(m, i, y[i], device));
  // Every buffer must hold the same number of samples (the first dimension).
  const auto samples = [](const Tensor& t) { return t.rank() == 0 ? std::int64_t{-1} : t.shape()[0]; };
  const std::int64_t n = samples(xs[0]);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    STRATA_CHECK(xs[i].rank() > 0, ShapeError, call, ": ", model_port_name(m, true, i),
                 " is a scalar; the first dimension counts the samples");
    STRATA_CHECK(samples(xs[i]) == n, ShapeError, call, ": ", model_port_name(m, true, i), " holds ",
                 samples(xs[i]), " samples but input 0 holds ", n);
  }
  for (std::size_t i = 0; i < ys.size(); ++i) {
    STRATA_CHECK(ys[i].rank() > 0, ShapeError, call, ": target ", i,
                 " is a scalar; the first dimension counts the samples");
    STRATA_CHECK(samples(ys[i]) == n, ShapeError, call, ": target ", i, " holds ", samples(ys[i]),
                 " samples but input 0 holds ", n);
  }
  return {std::move(xs), std::move(ys)};
}

strata_logs* to_handle(const Logs& logs) {
  auto h = std::make_unique<strata_logs>();
  h->items = logs.items();
  return h.release();
}

// A compile argument: NULL or "" gives null; text starting with '{', '[' or '"' is Keras
// JSON; anything else is a name ("adam", "mse").
Config compile_argument(const char* text, const char* what) {
  if (text == nullptr || *text == '\0') return Config();
  const char c = text[0];
  if (c == '{' || c == '[' || c == '"') {
    auto frame = ErrorContext::push("strata_model_compile: reading ", what);
    return parse_python_json(text, what);
  }
  return Config(std::string(text));
}

// Records the key order of each epoch's logs (History.history is keyed in order).
class KeyOrder final : public Callback {
 public:
  void on_epoch_end(int, const Logs& logs) override {
    for (const auto& item : logs.items()) {
      bool seen = false;
      for (const auto& k : keys) seen = seen || k == item.first;
      if (!seen) keys.push_back(item.first);
    }
  }
  std::vector<std::string> keys;
};

}  // namespace
}  // namespace strata::capi

using strata::capi::guarded;

extern "C" {

strata_status* strata_logs_count(const strata_logs* logs, size_t* count) {
  STRATA_C_REQUIRE(logs != nullptr && count != nullptr, "strata_logs_count: NULL argument");
  *count = logs->items.size();
  return nullptr;
}

strata_status* strata_logs_get(const strata_logs* logs, size_t index, const char** name, double* value) {
  STRATA_C_REQUIRE(logs != nullptr, "strata_logs_get: logs is NULL");
  return guarded([&] {
    STRATA_CHECK(index < logs->items.size(), capi::InvalidArgument, "strata_logs_get: the logs hold ",
                 logs->items.size(), " value(s), so there is no value ", index);
    if (name) *name = logs->items[index].first.c_str();
    if (value) *value = logs->items[index].second;
  });
}

strata_status* strata_logs_find(const strata_logs* logs, const char* name, double* value) {
  STRATA_C_REQUIRE(logs != nullptr && name != nullptr && value != nullptr, "strata_logs_find: NULL argument");
  return guarded([&] {
    std::string known;
    for (const auto& [k, v] : logs->items) {
      if (k == name) {
        *value = v;
        return;
      }
      known += known.empty() ? k : ", " + k;
    }
    STRATA_THROW(ValueError, "strata_logs_find: the logs hold no value named '", name, "' (they hold: ",
                 known.empty() ? "nothing" : known, ")");
  });
}

void strata_logs_release(strata_logs* logs) { delete logs; }

strata_status* strata_model_compile_from_file(strata_model* model) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_compile_from_file: model is NULL");
  return guarded([&] {
    STRATA_CHECK(!model->path.empty(), ValueError,
                 "strata_model_compile_from_file: the model was not loaded from a file");
    strata::LoadOptions options;
    options.format = model->format;
    options.compile = true;
    std::shared_ptr<strata::Model> loaded = strata::load_model(model->path, options);
    STRATA_CHECK(loaded->is_compiled(), ValueError, "strata_model_compile_from_file: '", model->path,
                 "' holds no training configuration (it was saved uncompiled, or without its optimizer); "
                 "compile the model with strata_model_compile instead");
    // Only the compile state comes from the file: the weights stay the model's own.
    loaded->set_weights(model->model->get_weights());
    const strata::Device device = strata::capi::model_device(*model);
    if (device != strata::Device::cpu()) loaded->to(device);
    strata::set_num_threads(*loaded, strata::num_threads(*model->model));  // the model's thread setting stays
    model->model = std::move(loaded);
  });
}

strata_status* strata_model_compile(strata_model* model, const char* optimizer, const char* loss,
                                    const char* metrics) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_compile: model is NULL");
  STRATA_C_REQUIRE(optimizer != nullptr && *optimizer != '\0',
                   "strata_model_compile: optimizer is NULL or empty (e.g. \"adam\", or "
                   "{\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.001}})");
  STRATA_C_REQUIRE(loss != nullptr && *loss != '\0', "strata_model_compile: loss is NULL or empty (e.g. \"mse\")");
  return guarded([&] {
    namespace capi = strata::capi;
    const strata::Config opt = capi::compile_argument(optimizer, "the optimizer");
    const strata::Config l = capi::compile_argument(loss, "the loss");
    const strata::Config m = capi::compile_argument(metrics, "the metrics");
    model->model->compile(opt, l, m);
    // A model on an accelerator keeps its optimizer's variables there.
    const strata::Device device = capi::model_device(*model);
    if (device != strata::Device::cpu()) model->model->to(device);
  });
}

strata_status* strata_model_is_compiled(const strata_model* model, int32_t* compiled) {
  STRATA_C_REQUIRE(model != nullptr && compiled != nullptr, "strata_model_is_compiled: NULL argument");
  *compiled = model->model->is_compiled() ? 1 : 0;
  return nullptr;
}

strata_status* strata_model_fit(strata_model* model, const strata_buffer* x, size_t x_count, const strata_buffer* y,
                                size_t y_count, const strata_fit_options* options, char** history,
                                strata_logs** logs) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_fit: model is NULL");
  STRATA_C_REQUIRE(x != nullptr && y != nullptr, "strata_model_fit: x and y must not be NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    strata::FitOptions fo;
    fo.verbose = 0;
    fo.shuffle = false;
    if (options != nullptr) {
      capi::check_struct_size<strata_fit_options>(options->struct_size, capi::kFitOptionsSizeV3,
                                                  "strata_fit_options", "strata_model_fit: options");
      STRATA_CHECK(options->batch_size >= 0, ValueError, "strata_model_fit: batch_size is ", options->batch_size,
                   " (0 for the default, 32)");
      STRATA_CHECK(options->epochs >= 0, ValueError, "strata_model_fit: epochs is ", options->epochs,
                   " (0 for the default, 1)");
      STRATA_CHECK(options->initial_epoch >= 0, ValueError, "strata_model_fit: initial_epoch is ",
                   options->initial_epoch);
      STRATA_CHECK(options->verbose >= 0 && options->verbose <= 2, ValueError, "strata_model_fit: verbose is ",
                   options->verbose, " (0 silent, 1 progress bar, 2 one line per epoch)");
      STRATA_CHECK(options->validation_split >= 0.0 && options->validation_split < 1.0, ValueError,
                   "strata_model_fit: validation_split must be in [0, 1), got ", options->validation_split);
      if (options->batch_size > 0) fo.batch_size = options->batch_size;
      if (options->epochs > 0) fo.epochs = options->epochs;
      fo.shuffle = options->shuffle != 0;
      fo.validation_split = options->validation_split;
      fo.initial_epoch = options->initial_epoch;
      fo.verbose = options->verbose;
    }
    capi::require_compiled(*model, "strata_model_fit");
    auto [xs, ys] = capi::batch(*model, "strata_model_fit", x, x_count, y, y_count);
    // sample_weight (version 4) only when the host's struct holds it.
    if (options != nullptr && options->struct_size >= capi::kFitOptionsSizeV4) {
      fo.sample_weight = capi::sample_weight_tensor("strata_model_fit", options->sample_weight, xs[0].shape()[0],
                                                    capi::model_device(*model));
    }
    auto order = std::make_shared<capi::KeyOrder>();
    fo.callbacks.push_back(order);
    const strata::History h = model->model->fit(xs, ys, fo);
    // Build both results before handing out either (out-parameters only on success).
    std::unique_ptr<strata_logs> last = std::make_unique<strata_logs>();
    strata::Config dict = strata::Config::object();
    for (const auto& key : order->keys) {
      const auto it = h.history.find(key);
      if (it == h.history.end()) continue;
      dict[key] = it->second;
      if (!it->second.empty()) last->items.emplace_back(key, it->second.back());
    }
    char* text = nullptr;
    if (history != nullptr) {
      const std::string json = strata::to_python_json(dict);
      text = static_cast<char*>(std::malloc(json.size() + 1));
      if (text == nullptr) throw std::bad_alloc();
      std::memcpy(text, json.c_str(), json.size() + 1);
      *history = text;
    }
    if (logs != nullptr) *logs = last.release();
  });
}

strata_status* strata_model_train_on_batch(strata_model* model, const strata_buffer* x, size_t x_count,
                                           const strata_buffer* y, size_t y_count, strata_logs** logs) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_train_on_batch: model is NULL");
  STRATA_C_REQUIRE(x != nullptr && y != nullptr, "strata_model_train_on_batch: x and y must not be NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    capi::require_compiled(*model, "strata_model_train_on_batch");
    auto [xs, ys] = capi::batch(*model, "strata_model_train_on_batch", x, x_count, y, y_count);
    const strata::Logs result = model->model->train_on_batch(xs, ys);
    if (logs != nullptr) *logs = capi::to_handle(result);
  });
}

strata_status* strata_model_evaluate(strata_model* model, const strata_buffer* x, size_t x_count,
                                     const strata_buffer* y, size_t y_count, int64_t batch_size, strata_logs** logs) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_evaluate: model is NULL");
  STRATA_C_REQUIRE(x != nullptr && y != nullptr, "strata_model_evaluate: x and y must not be NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    STRATA_CHECK(batch_size >= 0, ValueError, "strata_model_evaluate: batch_size is ", batch_size,
                 " (0 for the default, 32)");
    capi::require_compiled(*model, "strata_model_evaluate");
    auto [xs, ys] = capi::batch(*model, "strata_model_evaluate", x, x_count, y, y_count);
    const strata::Logs result = model->model->evaluate(xs, ys, batch_size > 0 ? batch_size : 32, 0);
    if (logs != nullptr) *logs = capi::to_handle(result);
  });
}

strata_status* strata_model_train_on_batch_weighted(strata_model* model, const strata_buffer* x, size_t x_count,
                                                    const strata_buffer* y, size_t y_count,
                                                    const strata_buffer* sample_weight, strata_logs** logs) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_train_on_batch_weighted: model is NULL");
  STRATA_C_REQUIRE(x != nullptr && y != nullptr, "strata_model_train_on_batch_weighted: x and y must not be NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    const char* call = "strata_model_train_on_batch_weighted";
    capi::require_compiled(*model, call);
    auto [xs, ys] = capi::batch(*model, call, x, x_count, y, y_count);
    const strata::Tensor w =
        capi::sample_weight_tensor(call, sample_weight, xs[0].shape()[0], capi::model_device(*model));
    const strata::Logs result = model->model->train_on_batch(xs, ys, w);
    if (logs != nullptr) *logs = capi::to_handle(result);
  });
}

strata_status* strata_model_test_on_batch(strata_model* model, const strata_buffer* x, size_t x_count,
                                          const strata_buffer* y, size_t y_count, const strata_buffer* sample_weight,
                                          strata_logs** logs) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_test_on_batch: model is NULL");
  STRATA_C_REQUIRE(x != nullptr && y != nullptr, "strata_model_test_on_batch: x and y must not be NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    const char* call = "strata_model_test_on_batch";
    capi::require_compiled(*model, call);
    auto [xs, ys] = capi::batch(*model, call, x, x_count, y, y_count);
    const strata::Tensor w =
        capi::sample_weight_tensor(call, sample_weight, xs[0].shape()[0], capi::model_device(*model));
    const strata::Logs result = model->model->test_on_batch(xs, ys, w);
    if (logs != nullptr) *logs = capi::to_handle(result);
  });
}

strata_status* strata_model_evaluate_weighted(strata_model* model, const strata_buffer* x, size_t x_count,
                                              const strata_buffer* y, size_t y_count,
                                              const strata_buffer* sample_weight, int64_t batch_size,
                                              strata_logs** logs) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_evaluate_weighted: model is NULL");
  STRATA_C_REQUIRE(x != nullptr && y != nullptr, "strata_model_evaluate_weighted: x and y must not be NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    const char* call = "strata_model_evaluate_weighted";
    STRATA_CHECK(batch_size >= 0, ValueError, call, ": batch_size is ", batch_size, " (0 for the default, 32)");
    capi::require_compiled(*model, call);
    auto [xs, ys] = capi::batch(*model, call, x, x_count, y, y_count);
    const strata::Tensor w =
        capi::sample_weight_tensor(call, sample_weight, xs[0].shape()[0], capi::model_device(*model));
    const std::int64_t b = batch_size > 0 ? batch_size : 32;
    const strata::Logs result = w.defined() ? capi::evaluate_weighted(*model->model, xs, ys, w, b)
                                            : model->model->evaluate(xs, ys, b, 0);
    if (logs != nullptr) *logs = capi::to_handle(result);
  });
}

}  // extern "C"
