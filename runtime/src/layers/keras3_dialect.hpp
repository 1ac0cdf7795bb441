// Private to the runtime: writing configs in Keras 3's dialect (the config.json of a `.keras`
// archive). While a Keras3DialectScope is alive on a thread, model configs are written the
// way Keras 3 writes them: every layer entry {"module", "class_name", "config",
// "registered_name", "build_config"}, layer dtypes as DTypePolicy objects, InputLayer's
// `batch_shape`, Functional nodes as {"args", "kwargs"} with `__keras_tensor__` references,
// graph models nested in others numbered from node 0, and each Keras built-in layer's config
// spelt as Keras 3's constructor takes it (keras3_layer_config). Outside a scope nothing
// changes: H5, SavedModel and JSON keep tf-keras's dialect.
#pragma once

#include <string>

#include "strata/config.hpp"
#include "strata/layer.hpp"

namespace strata::internal {

class Keras3DialectScope {
 public:
  Keras3DialectScope();
  ~Keras3DialectScope();
  Keras3DialectScope(const Keras3DialectScope&) = delete;
  Keras3DialectScope& operator=(const Keras3DialectScope&) = delete;
};
bool keras3_dialect();

// {"module": "keras", "class_name": "DTypePolicy", "config": {"name": ...}, "registered_name": null}
// for a dtype written as a string or as a tf-keras Policy object; other values unchanged.
Config keras3_dtype_policy(const Config& dtype);

// Rewrites the config of a layer of Keras class `class_name` from tf-keras's spelling to the
// arguments Keras 3's constructor takes: keys Keras 3 refuses are dropped when they hold
// their only meaningful value and refused (ValueError naming the layer and the key) when
// not; renamed keys renamed. Idempotent.
void keras3_layer_config(const std::string& class_name, Config& config);
// keras3_layer_config on every {"class_name", "config"} object in `value` (at any depth:
// wrapped layers, cells) whose class is registered as a layer under a keras.* module.
void keras3_layer_configs(Config& value);

}  // namespace strata::internal
