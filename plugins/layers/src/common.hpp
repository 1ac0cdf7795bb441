// Helpers shared by the sources of the layers plugin (recurrent layers included):
// reading Keras config keys with Keras's defaults, writing nested objects the way
// tf-keras writes them in layer configs, and a few op compositions several layers need.
//
// The get_* readers are the SDK's one-key shortcuts (strata::config in
// strata/config_reader.hpp) and a few of this plugin's own over config::reader; a layer that
// validates values (units > 0, rate in [0, 1]) uses a ConfigReader made with the layer, so
// that messages name it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "strata/activations.hpp"
#include "strata/config_reader.hpp"
#include "strata/constraints.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/regularizers.hpp"

namespace strata::layers {

// ---- registration (one function per source file) ---------------------------------------

void register_activations(Registrar& registrar);
void register_activation_layers(Registrar& registrar);
void register_initializers(Registrar& registrar);
void register_regularizers(Registrar& registrar);
void register_constraints(Registrar& registrar);
void register_core_layers(Registrar& registrar);
void register_reshaping_layers(Registrar& registrar);
void register_spatial_layers(Registrar& registrar);
void register_conv_layers(Registrar& registrar);
void register_pooling_layers(Registrar& registrar);
void register_normalization_layers(Registrar& registrar);
void register_normalization_extra_layers(Registrar& registrar);  // GroupNormalization & co.
void register_merge_layers(Registrar& registrar);
void register_noise_layers(Registrar& registrar);
void register_preprocessing_layers(Registrar& registrar);
void register_volumetric_layers(Registrar& registrar);
void register_separable_conv_layers(Registrar& registrar);
void register_conv_transpose_layers(Registrar& registrar);
void register_einsum_layers(Registrar& registrar);
void register_attention_layers(Registrar& registrar);
void register_convnext_layers(Registrar& registrar);
void register_random_augmentation_layers(Registrar& registrar);
void register_tf_op_layers(Registrar& registrar);
void register_conv_lstm_layers(Registrar& registrar);
void register_locally_connected_layers(Registrar& registrar);
// CategoryEncoding, Discretization, Hashing, HashedCrossing (preprocessing_encoding.cpp).
void register_encoding_layers(Registrar& registrar);
void register_lookup_layers(Registrar& registrar);  // index_lookup.cpp, text_vectorization.cpp
// Keras 3's layers that tf-keras lacks (keras3_layers.cpp, grouped_query_attention.cpp).
void register_keras3_layers(Registrar& registrar);
void register_grouped_query_attention(Registrar& registrar);
void register_keras_ops_layers(Registrar& registrar);  // Keras 3's op classes (keras_ops.cpp)

// ---- reading config keys ----------------------------------------------------------------

// The SDK's one-key shortcuts (strata/config_reader.hpp): find_key, get_bool, get_int,
// get_double, get_string, get_number, and the reader they use.
using namespace ::strata::config;
// An int or a list of `n` ints (Keras's normalize_tuple): 3 -> {3, 3} for n = 2.
std::vector<std::int64_t> get_int_tuple(const Config& config, const char* key, std::size_t n,
                                        const std::vector<std::int64_t>& fallback);
// An int or a list of ints of any length (axes). Null/missing: fallback.
std::vector<std::int64_t> get_int_or_list(const Config& config, const char* key,
                                          const std::vector<std::int64_t>& fallback);
// A list of ints, or nullopt when missing/null (Dropout's noise_shape keeps nulls as -1).
std::optional<std::vector<std::int64_t>> get_optional_dims(const Config& config, const char* key);
// "channels_last" (the default) or "channels_first"; FormatError otherwise.
std::string get_data_format(const Config& config);
// Lower-cased padding name, checked against `allowed`.
std::string get_padding(const Config& config, const std::vector<std::string>& allowed);

// ---- nested objects ---------------------------------------------------------------------

// The object a config key names, in any form get_initializer & co. accept; a missing
// key gives `fallback` (a Keras alias such as "glorot_uniform"); a JSON null gives null
// for regularizers and constraints and the fallback for initializers.
std::shared_ptr<Initializer> initializer_at(const Config& config, const char* key, const char* fallback);
std::shared_ptr<Regularizer> regularizer_at(const Config& config, const char* key);
std::shared_ptr<Constraint> constraint_at(const Config& config, const char* key);
// Missing or null: "linear".
std::shared_ptr<Activation> activation_at(const Config& config, const char* key);
// The op a fused kernel applies for `activation` after its bias ("Relu", "Tanh", "Sigmoid",
// "Elu"; "" for linear), or nullptr when it is none of Keras's functions of those names.
const char* fusable_activation_op(const Activation& activation);
// y = activation(x · kernel + bias) as one fused kernel (_FusedMatMul, that the cpu backend
// provides: one pass over the output instead of three), when that is equivalent and safe:
// eager inference (no trace, no tape recording), float32 matrices on the cpu, a fusable
// activation, graph passes on (graph_passes_enabled). Otherwise an undefined tensor.
Tensor fused_dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, const Activation& activation);
// Keras 3 changed what "hard_sigmoid" computes: tf-keras's is clip(0.2 x + 0.5, 0, 1), Keras
// 3's relu6(x + 3) / 6. A layer config Keras 3 wrote (written_by_keras3: its dtype is a
// DTypePolicy object, which tf-keras never writes; Keras 3 before 3.4 wrote a string and reads
// as tf-keras) gets Keras 3's, registered as kKeras3HardSigmoid (the name Strata writes for it).
inline constexpr const char* kKeras3HardSigmoid = "strata.keras3_hard_sigmoid";
bool written_by_keras3(const Config& layer_config);
// The activation `value` names in the layer config `layer_config` (get_activation, but with
// Keras 3's hard_sigmoid in a Keras 3 config).
std::shared_ptr<Activation> layer_activation(const Config& layer_config, const Config& value);

// {"module", "class_name", "config", "registered_name"} or null, as tf-keras writes
// nested objects in layer configs.
Config serialized_or_null(const std::shared_ptr<Initializer>& object);
Config serialized_or_null(const std::shared_ptr<Regularizer>& object);
Config serialized_or_null(const std::shared_ptr<Constraint>& object);

// The kernel and bias settings of Dense-like layers (Dense, EinsumDense, MultiHeadAttention,
// GroupQueryAttention): kernel_initializer ("glorot_uniform" when missing), bias_initializer
// ("zeros"), kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint and
// bias_constraint. read_kernel_bias_settings reads them in that order with initializer_at &
// co. (their errors name the key); write_kernel_bias_settings sets the seven keys of
// `config`, in that order, with serialized_or_null.
struct KernelBiasSettings {
  std::shared_ptr<Initializer> kernel_initializer, bias_initializer;
  std::shared_ptr<Regularizer> kernel_regularizer, bias_regularizer, activity_regularizer;
  std::shared_ptr<Constraint> kernel_constraint, bias_constraint;
};
KernelBiasSettings read_kernel_bias_settings(const Config& config);
void write_kernel_bias_settings(const KernelBiasSettings& settings, Config& config);

Config int_list(const std::vector<std::int64_t>& values);
// The double nearest to `value` rounded to float32 (tf-keras casts regularization
// factors to floatx: 0.01 is written 0.009999999776482582).
double round_to_float32(double value);

// ---- shapes -----------------------------------------------------------------------------

// Keras's conv_utils.conv_output_length; kUnknown in, kUnknown out. padding is "valid",
// "same", "causal" or "full".
std::int64_t conv_output_length(std::int64_t length, std::int64_t kernel, const std::string& padding,
                                std::int64_t stride, std::int64_t dilation = 1);
// Keras's conv_utils.deconv_output_length (padding "valid" or "same"): the output length
// of a transposed convolution; output_padding nullopt lets it be inferred. kUnknown in,
// kUnknown out. ValueError naming `what` when the length overflows.
std::int64_t deconv_output_length(std::int64_t length, std::int64_t kernel, const std::string& padding,
                                  std::optional<std::int64_t> output_padding, std::int64_t stride,
                                  std::int64_t dilation, std::string_view what);
// The single input of a one-input layer; ValueError naming the layer otherwise.
const Tensor& single_input(const Layer& layer, const std::vector<Tensor>& inputs);
const Shape& single_shape(const Layer& layer, const std::vector<Shape>& shapes);
// ShapeError naming the layer unless `shape` has rank `rank` (or, with at_least, >= rank).
void require_rank(const Layer& layer, const Shape& shape, std::size_t rank, bool at_least = false);

// ---- op compositions --------------------------------------------------------------------

// Reduces a bool tensor with logical AND over `axes` (Keras backend.all).
Tensor reduce_all(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims = false);
// Uniform [0, 1) noise of `shape` on x's device and dtype; dimensions of `shape` that
// are unknown are taken from x at run time (symbolic calls).
Tensor uniform_noise_like(const Tensor& x, const Shape& shape, std::optional<std::int64_t> seed);
// Standard normal noise, likewise.
Tensor normal_noise_like(const Tensor& x, const Shape& shape, std::optional<std::int64_t> seed);
// tf.image.resize of NHWC `images` to height x width, with half-pixel centres and no
// antialiasing: the ResizeBilinear / ResizeNearestNeighbor ops with half_pixel_centers, so
// the images' height and width may be unknown until the graph runs (integer images give
// float32 with bilinear, as TensorFlow's; floating images keep their dtype; integer images
// resized nearest are gathered and need a known height and width).
Tensor resize_images(const Tensor& images, std::int64_t height, std::int64_t width, bool bilinear);
// 0..n-1 along axis `axis` of `x` (n its length there, known or not until the graph runs) as
// an int64 tensor of shape `at_shape`, whose one -1 is where the positions go: ops from `x`
// itself (a slice, ones, an exclusive cumulative sum), so no [n]-sized constant is made.
Tensor positions_along(const Tensor& x, std::int64_t axis, const Shape& at_shape);
// x[key] for a Python subscript as Keras configs record it: a list (or one item) of
// integers, null (a new axis), the ellipsis ({"class_name": "__ellipsis__"}) and slices —
// tf-keras's {"start", "stop", "step"} objects or Keras 3's {"class_name": "__slice__",
// "config": {...}} — as one strided slice. FormatError naming `subject` for other items
// (tensors in the key are not supported).
Tensor python_subscript(const Tensor& x, const Config& key, const std::string& subject);
// Adds regularizer(output) / batch size to the layer's losses (Keras's activity
// regularization), when `regularizer` is set.
// Conv2DBackpropInput(output_sizes, filter, x): the transposed convolution of x (NHWC)
// with `filter` (HWOI: kh, kw, output channels, x's channels), whose output has
// `output_sizes` (NHWC). An unknown batch is x's when the graph runs; an unknown spatial
// size is `x's size · stride + offset` (offsets: height, width), as Keras's
// deconv_output_length is linear in the input length.
Tensor conv2d_transpose(const Tensor& x, const Tensor& filter, const std::vector<std::int64_t>& output_sizes,
                        std::pair<std::int64_t, std::int64_t> strides, Padding padding,
                        std::pair<std::int64_t, std::int64_t> dilations,
                        std::pair<std::int64_t, std::int64_t> offsets = {0, 0});
void add_activity_regularization(const Layer& layer, const std::shared_ptr<Regularizer>& regularizer,
                                 const Tensor& output);

}  // namespace strata::layers
