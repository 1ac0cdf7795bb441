// Config helpers shared by the recurrent layers.
#include "common.hpp"
#include "recurrent_internal.hpp"
#include "strata/config_reader.hpp"
#include "strata/ops.hpp"

namespace strata::recurrent {
namespace {

const Config* present(const Config& config, const char* key) {
  if (!config.is_object()) return nullptr;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return nullptr;
  return &*it;
}

// The SDK's reader, its messages starting "<cls> config: ".
ConfigReader reader(const Config& config, std::string_view cls) {
  static const Config empty = Config::object();
  return ConfigReader(config.is_object() ? config : empty, std::string(cls) + " config");
}

}  // namespace

bool config_bool(const Config& config, std::string_view cls, const char* key, bool fallback) {
  return reader(config, cls).optional(key, fallback);
}

std::int64_t config_int(const Config& config, std::string_view cls, const char* key, std::int64_t fallback) {
  return reader(config, cls).optional(key, fallback);
}

double config_double(const Config& config, std::string_view cls, const char* key, double fallback) {
  return reader(config, cls).optional(key, fallback);
}

std::shared_ptr<Activation> config_activation(const Config& config, const char* key, const char* fallback) {
  if (!config.is_object() || !config.contains(key)) return get_activation(Config(fallback));
  return layers::layer_activation(config, config[key]);
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
