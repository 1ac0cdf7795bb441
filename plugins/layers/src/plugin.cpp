// The plugin entry point: registers every class of the layers plugin.
#include "common.hpp"
#include "recurrent.hpp"

namespace {

void register_all(strata::Registrar& registrar) {
  using namespace strata::layers;
  register_activations(registrar);
  register_initializers(registrar);
  register_regularizers(registrar);
  register_constraints(registrar);
  register_core_layers(registrar);
  register_reshaping_layers(registrar);
  register_conv_layers(registrar);
  register_pooling_layers(registrar);
  register_normalization_layers(registrar);
  register_merge_layers(registrar);
  register_preprocessing_layers(registrar);
  register_recurrent_layers(registrar);
}

}  // namespace

STRATA_PLUGIN("layers", "0.1.0",
              "Keras built-in layers, activations, initializers, regularizers and constraints", register_all);
