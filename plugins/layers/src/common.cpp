#include "common.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "strata/graph.hpp"

namespace strata::layers {

// ---- reading config keys ----------------------------------------------------------------

const Config* find_key(const Config& config, const char* key) {
  if (!config.is_object()) return nullptr;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return nullptr;
  return &*it;
}

bool get_bool(const Config& config, const char* key, bool fallback) {
  const Config* v = find_key(config, key);
  if (!v) return fallback;
  STRATA_CHECK(v->is_boolean(), FormatError, "config key '", key, "' must be true or false, got ", v->dump());
  return v->get<bool>();
}

namespace {

std::int64_t as_int(const Config& v, const char* key) {
  if (v.is_number_unsigned()) {
    STRATA_CHECK(v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                 FormatError, "config key '", key, "' holds ", v.dump(), ", larger than any size");
    return v.get<std::int64_t>();
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // Range first: converting a double outside int64's range is undefined behaviour.
    STRATA_CHECK(d >= -9.2e18 && d <= 9.2e18 && d == static_cast<double>(static_cast<std::int64_t>(d)), FormatError,
                 "config key '", key, "' must hold integers, got ", v.dump());
    return static_cast<std::int64_t>(d);
  }
  STRATA_THROW(FormatError, "config key '", key, "' must hold integers, got ", v.dump());
}

}  // namespace

std::int64_t get_int(const Config& config, const char* key, std::int64_t fallback) {
  const Config* v = find_key(config, key);
  return v ? as_int(*v, key) : fallback;
}

double get_double(const Config& config, const char* key, double fallback) {
  const Config* v = find_key(config, key);
  if (!v) return fallback;
  STRATA_CHECK(v->is_number(), FormatError, "config key '", key, "' must be a number, got ", v->dump());
  return v->get<double>();
}

std::string get_string(const Config& config, const char* key, const std::string& fallback) {
  const Config* v = find_key(config, key);
  if (!v) return fallback;
  STRATA_CHECK(v->is_string(), FormatError, "config key '", key, "' must be a string, got ", v->dump());
  return v->get<std::string>();
}

Config get_number(const Config& config, const char* key, const Config& fallback) {
  const Config* v = find_key(config, key);
  if (!v) return fallback;
  STRATA_CHECK(v->is_number(), FormatError, "config key '", key, "' must be a number, got ", v->dump());
  return *v;
}

std::vector<std::int64_t> get_int_tuple(const Config& config, const char* key, std::size_t n,
                                        const std::vector<std::int64_t>& fallback) {
  const Config* v = find_key(config, key);
  if (!v) return fallback;
  if (v->is_number()) return std::vector<std::int64_t>(n, as_int(*v, key));
  // Keras 3 and H5 may wrap tuples as {"class_name": "__tuple__", "items": [...]}.
  const Config& list = v->is_object() && v->contains("items") ? (*v)["items"] : *v;
  STRATA_CHECK(list.is_array() && list.size() == n, FormatError, "config key '", key, "' must be an integer or a list of ",
               n, " integers, got ", v->dump());
  std::vector<std::int64_t> out;
  for (const auto& e : list) out.push_back(as_int(e, key));
  return out;
}

std::vector<std::int64_t> get_int_or_list(const Config& config, const char* key,
                                          const std::vector<std::int64_t>& fallback) {
  const Config* v = find_key(config, key);
  if (!v) return fallback;
  if (v->is_number()) return {as_int(*v, key)};
  const Config& list = v->is_object() && v->contains("items") ? (*v)["items"] : *v;
  STRATA_CHECK(list.is_array(), FormatError, "config key '", key, "' must be an integer or a list of integers, got ",
               v->dump());
  std::vector<std::int64_t> out;
  for (const auto& e : list) out.push_back(as_int(e, key));
  return out;
}

std::optional<std::vector<std::int64_t>> get_optional_dims(const Config& config, const char* key) {
  const Config* v = find_key(config, key);
  if (!v) return std::nullopt;
  const Config& list = v->is_object() && v->contains("items") ? (*v)["items"] : *v;
  STRATA_CHECK(list.is_array(), FormatError, "config key '", key, "' must be a list of dimensions, got ", v->dump());
  std::vector<std::int64_t> out;
  for (const auto& e : list) out.push_back(e.is_null() ? Shape::kUnknown : as_int(e, key));
  return out;
}

std::string get_data_format(const Config& config) {
  std::string f = get_string(config, "data_format", "channels_last");
  std::transform(f.begin(), f.end(), f.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  STRATA_CHECK(f == "channels_last" || f == "channels_first", FormatError,
               "data_format must be \"channels_last\" or \"channels_first\", got \"", f, "\"");
  return f;
}

std::string get_padding(const Config& config, const std::vector<std::string>& allowed) {
  std::string p = get_string(config, "padding", "valid");
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::find(allowed.begin(), allowed.end(), p) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
    STRATA_THROW(FormatError, "padding must be one of ", list, "; got \"", p, "\"");
  }
  return p;
}

// ---- nested objects ---------------------------------------------------------------------

std::shared_ptr<Initializer> initializer_at(const Config& config, const char* key, const char* fallback) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  return get_initializer(v ? *v : Config(fallback));
}

std::shared_ptr<Regularizer> regularizer_at(const Config& config, const char* key) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  return v ? get_regularizer(*v) : nullptr;
}

std::shared_ptr<Constraint> constraint_at(const Config& config, const char* key) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  return v ? get_constraint(*v) : nullptr;
}

std::shared_ptr<Activation> activation_at(const Config& config, const char* key) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  if (v && v->is_string() && v->get<std::string>().empty()) return get_activation(Config("linear"));
  return get_activation(v ? *v : Config("linear"));
}

Config serialized_or_null(const std::shared_ptr<Initializer>& object) {
  return object ? serialize(*object, ObjectKind::kInitializer) : Config(nullptr);
}
Config serialized_or_null(const std::shared_ptr<Regularizer>& object) {
  return object ? serialize(*object, ObjectKind::kRegularizer) : Config(nullptr);
}
Config serialized_or_null(const std::shared_ptr<Constraint>& object) {
  return object ? serialize(*object, ObjectKind::kConstraint) : Config(nullptr);
}

Config int_list(const std::vector<std::int64_t>& values) {
  Config out = Config::array();
  for (auto v : values) out.push_back(v);
  return out;
}

double round_to_float32(double value) { return static_cast<double>(static_cast<float>(value)); }

// ---- shapes -----------------------------------------------------------------------------

std::int64_t conv_output_length(std::int64_t length, std::int64_t kernel, const std::string& padding,
                                std::int64_t stride, std::int64_t dilation) {
  if (length == Shape::kUnknown) return Shape::kUnknown;
  const std::int64_t dilated = (kernel - 1) * dilation + 1;
  std::int64_t out = length;
  if (padding == "valid") {
    out = length - dilated + 1;
  } else if (padding == "full") {
    out = length + dilated - 1;
  }  // "same" and "causal" keep the length
  // Python's floor division: (out + stride - 1) // stride.
  const std::int64_t num = out + stride - 1;
  return num >= 0 ? num / stride : -((-num + stride - 1) / stride);
}

const Tensor& single_input(const Layer& layer, const std::vector<Tensor>& inputs) {
  STRATA_CHECK(inputs.size() == 1, ValueError, "layer '", layer.name(), "' (", layer.class_name(),
               ") takes one input, got ", inputs.size());
  return inputs.front();
}

const Shape& single_shape(const Layer& layer, const std::vector<Shape>& shapes) {
  STRATA_CHECK(shapes.size() == 1, ValueError, "layer '", layer.name(), "' (", layer.class_name(),
               ") takes one input, got ", shapes.size());
  return shapes.front();
}

void require_rank(const Layer& layer, const Shape& shape, std::size_t rank, bool at_least) {
  STRATA_CHECK(shape.has_known_rank(), ShapeError, "layer '", layer.name(), "' (", layer.class_name(),
               ") needs an input of known rank");
  const bool ok = at_least ? shape.rank() >= rank : shape.rank() == rank;
  STRATA_CHECK(ok, ShapeError, "layer '", layer.name(), "' (", layer.class_name(), ") expects an input of rank ",
               at_least ? "at least " : "", rank, ", got shape ", shape.to_string());
}

// ---- op compositions --------------------------------------------------------------------

Tensor reduce_all(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return cast(min(cast(x, DType::kFloat32), axes, keepdims), DType::kBool);
}

Tensor uniform_noise_like(const Tensor& x, const Shape& shape, std::optional<std::int64_t> seed) {
  if (shape.is_fully_defined()) return random_uniform(shape, x.dtype(), 0.0, 1.0, seed, x.device());
  // Symbolic call with unknown dimensions: the shape is computed when the graph runs.
  const Tensor dynamic = shape_of(x);
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < shape.rank(); ++i) {
    const std::int64_t d = shape.dims()[i];
    parts.push_back(d == Shape::kUnknown ? slice(dynamic, {static_cast<std::int64_t>(i)}, {1}) : int_tensor({d}));
  }
  const std::int64_t s1 = seed.value_or(0), s2 = seed ? 1 : 0;
  DeviceScope scope(x.device());
  return execute1("RandomUniform", {concat(parts, 0)}, {{"dtype", x.dtype()}, {"seed", s1}, {"seed2", s2}});
}

void add_activity_regularization(const Layer& layer, const std::shared_ptr<Regularizer>& regularizer,
                                 const Tensor& output) {
  if (!regularizer) return;
  const Tensor loss = (*regularizer)(output);
  const std::int64_t batch = output.shape().has_known_rank() && output.rank() > 0 ? output.shape()[0] : 1;
  if (batch != Shape::kUnknown) {
    layer.add_loss(output.rank() > 0 ? loss / static_cast<double>(batch) : loss);
    return;
  }
  // Unknown batch (symbolic call): count the rows on the output's device.
  std::vector<std::int64_t> begin(output.rank(), 0), size(output.rank(), 1);
  size[0] = -1;
  layer.add_loss(loss / sum(ones_like(slice(output, begin, size))));
}

}  // namespace strata::layers
