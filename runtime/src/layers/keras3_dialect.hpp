// Private to the runtime: writing configs in Keras 3's dialect (the config.json of a `.keras`
// archive). While a Keras3DialectScope is alive on a thread, model configs are written the
// way Keras 3 writes them: every layer entry {"module", "class_name", "config",
// "registered_name", "build_config"}, layer dtypes as DTypePolicy objects, InputLayer's
// `batch_shape`, Functional nodes as {"args", "kwargs"} with `__keras_tensor__` references,
// graph models nested in others numbered from node 0. How each layer class spells its own
// arguments in Keras 3 is not the runtime's business (it names no plugin's classes):
// format-keras rewrites that (plugins/format-keras/src/keras3_config.cpp). Outside a scope
// nothing changes: H5, SavedModel and JSON keep tf-keras's dialect.
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

// InputLayer's config as Keras 3 writes it: batch_shape (not batch_input_shape). "optional"
// stays as the layer has it (absent means Keras 3's default, false).
void keras3_input_layer_config(Config& config);

}  // namespace strata::internal
