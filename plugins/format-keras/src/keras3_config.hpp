// The config.json of the archives Strata writes: the model in Keras 3's config dialect
// (strata::model_config_keras3: Keras 3's object and node forms) with each Keras layer's
// arguments spelt as Keras 3's constructor takes them. tf-keras and Keras 3 differ there per
// class (Keras 3 dropped tf-keras's unused arguments, renamed a few, and calls recurrent
// layers with their initial states as a keyword); this file holds that table, so that the
// runtime names no layer class of a plugin.
#pragma once

#include "strata/config.hpp"
#include "strata/model.hpp"

namespace strata::keras {

// model_config_keras3(model) with every Keras layer's config (at any depth: wrapped layers,
// cells, nested models) and every recurrent layer's call rewritten for Keras 3. ValueError
// naming the layer and the argument for a setting Keras 3 cannot express (a transposed
// convolution with groups, tf-keras's hard_sigmoid, ...). Logs a warning for each layer class
// Keras 3 does not have (tf-keras's TFOpLambda, custom classes): Keras 3 needs them registered.
Config keras3_model_config(const Model& model);

// Rewrites one layer config of Keras class `class_name` (idempotent); exposed for tests.
void keras3_layer_config(const std::string& class_name, Config& config);

}  // namespace strata::keras
