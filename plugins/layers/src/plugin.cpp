// The plugin entry point: registers every class of the layers plugin.
#include "common.hpp"
#include "recurrent.hpp"

namespace {

void register_all(strata::Registrar& registrar) {
  using namespace strata::layers;
  // Keras's own classes: configs name them without a registered name (the runtime asks
  // the registry's module, never this plugin's name).
  using strata::ObjectKind;
  registrar.set_module(ObjectKind::kLayer, "keras.layers");
  registrar.set_module(ObjectKind::kActivation, "keras.activations");
  registrar.set_module(ObjectKind::kInitializer, "keras.initializers");
  registrar.set_module(ObjectKind::kRegularizer, "keras.regularizers");
  registrar.set_module(ObjectKind::kConstraint, "keras.constraints");
  register_activations(registrar);
  register_initializers(registrar);
  register_regularizers(registrar);
  register_constraints(registrar);
  register_core_layers(registrar);
  register_activation_layers(registrar);
  register_reshaping_layers(registrar);
  register_spatial_layers(registrar);
  register_conv_layers(registrar);
  register_separable_conv_layers(registrar);
  register_conv_transpose_layers(registrar);
  register_pooling_layers(registrar);
  register_normalization_layers(registrar);
  register_merge_layers(registrar);
  register_noise_layers(registrar);
  register_preprocessing_layers(registrar);
  register_volumetric_layers(registrar);
  register_einsum_layers(registrar);
  register_attention_layers(registrar);
  register_convnext_layers(registrar);
  register_recurrent_layers(registrar);
  register_keras3_layers(registrar);
  register_grouped_query_attention(registrar);
  register_conv_lstm_layers(registrar);
  register_locally_connected_layers(registrar);
  register_encoding_layers(registrar);
  register_lookup_layers(registrar);
  register_normalization_extra_layers(registrar);
  register_random_augmentation_layers(registrar);
  register_keras_ops_layers(registrar);  // sets Keras 3's ops modules, then keras.layers again
  register_tf_op_layers(registrar);  // sets its own module: keep it last
}

}  // namespace

STRATA_PLUGIN("layers", "0.1.0",
              "Keras built-in layers, activations, initializers, regularizers and constraints", register_all);
