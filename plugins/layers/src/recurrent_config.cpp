// Config helpers shared by the recurrent layers.
#include <cmath>

#include "recurrent_internal.hpp"
#include "strata/ops.hpp"

namespace strata::recurrent {
namespace {

const Config* present(const Config& config, const char* key) {
  if (!config.is_object()) return nullptr;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

bool config_bool(const Config& config, std::string_view cls, const char* key, bool fallback) {
  const Config* v = present(config, key);
  if (!v) return fallback;
  if (v->is_boolean()) return v->get<bool>();
  // Python truthiness of the integers Keras accepts in practice (0/1).
  STRATA_CHECK(v->is_number_integer(), FormatError, cls, " config: \"", key, "\" must be true or false, got ", v->dump());
  return v->get<std::int64_t>() != 0;
}

std::int64_t config_int(const Config& config, std::string_view cls, const char* key, std::int64_t fallback) {
  const Config* v = present(config, key);
  if (!v) return fallback;
  if (v->is_number_integer()) return v->get<std::int64_t>();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    STRATA_CHECK(std::floor(d) == d && std::abs(d) < 9.0e15, FormatError, cls, " config: \"", key,
                 "\" must be an integer, got ", v->dump());
    return static_cast<std::int64_t>(d);
  }
  STRATA_THROW(FormatError, cls, " config: \"", key, "\" must be an integer, got ", v->dump());
}

double config_double(const Config& config, std::string_view cls, const char* key, double fallback) {
  const Config* v = present(config, key);
  if (!v) return fallback;
  STRATA_CHECK(v->is_number(), FormatError, cls, " config: \"", key, "\" must be a number, got ", v->dump());
  return v->get<double>();
}

std::shared_ptr<Activation> config_activation(const Config& config, const char* key, const char* fallback) {
  if (!config.is_object() || !config.contains(key)) return get_activation(Config(fallback));
  return get_activation(config[key]);
}

std::shared_ptr<Initializer> config_initializer(const Config& config, const char* key, const char* fallback) {
  if (!config.is_object() || !config.contains(key)) {
    return fallback ? get_initializer(Config(fallback)) : nullptr;
  }
  return get_initializer(config[key]);
}

std::shared_ptr<Regularizer> config_regularizer(const Config& config, const char* key) {
  const Config* v = present(config, key);
  return v ? get_regularizer(*v) : nullptr;
}

std::shared_ptr<Constraint> config_constraint(const Config& config, const char* key) {
  const Config* v = present(config, key);
  return v ? get_constraint(*v) : nullptr;
}

Config serialized_or_null(const Serializable* object, ObjectKind kind) {
  return object ? serialize(*object, kind) : Config(nullptr);
}

void add_activity_losses(const Layer& layer, const Regularizer& regularizer, const std::vector<Tensor>& outputs) {
  for (const auto& out : outputs) {
    if (!out.defined() || !out.shape().has_known_rank() || out.shape().rank() == 0) continue;
    const std::int64_t batch = out.shape().dim(0);
    if (batch <= 0) continue;
    layer.add_loss(regularizer(out) / static_cast<double>(batch));
  }
}

}  // namespace strata::recurrent
