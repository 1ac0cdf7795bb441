#include "layers/keras3_dialect.hpp"

namespace strata::internal {
namespace {

int& dialect_depth() {
  thread_local int depth = 0;
  return depth;
}

}  // namespace

Keras3DialectScope::Keras3DialectScope() { ++dialect_depth(); }
Keras3DialectScope::~Keras3DialectScope() { --dialect_depth(); }
bool keras3_dialect() { return dialect_depth() > 0; }

Config keras3_dtype_policy(const Config& dtype) {
  std::string name;
  if (dtype.is_string()) {
    name = dtype.get<std::string>();
  } else if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object() &&
             dtype["config"].contains("name") && dtype["config"]["name"].is_string()) {
    name = dtype["config"]["name"].get<std::string>();  // tf-keras's Policy object
  } else {
    return dtype;
  }
  return Config{{"module", "keras"},
                {"class_name", "DTypePolicy"},
                {"config", Config{{"name", name}}},
                {"registered_name", nullptr}};
}

void keras3_input_layer_config(Config& config) {
  if (!config.is_object()) return;
  if (config.contains("batch_input_shape")) {
    config["batch_shape"] = config["batch_input_shape"];
    config.erase("batch_input_shape");
  }
}

}  // namespace strata::internal
