// Embedding and Masking: the layers that start masked sequences (tf-keras 2.17).
//  - Embedding: a lookup into `embeddings` [input_dim, output_dim]; inputs other than
//    int32/int64 are cast to int32 first (truncating, as tf.cast). With mask_zero the
//    output mask is inputs != 0. It always has an input shape (batch, input_length), the
//    length unknown unless given, as Keras's constructor sets one.
//  - Masking: a step whose features all equal mask_value is zeroed and masked out.
#include <algorithm>

#include "recurrent_internal.hpp"
#include "strata/ops.hpp"

namespace strata::recurrent {
namespace {

// Keras's Embedding.__init__ gives the layer input_shape (input_length,) when none is set.
Config with_embedding_input_shape(const Config& config) {
  if (!config.is_object() || config.contains("input_shape")) return config;
  Config c = config;
  const Config length = config.value("input_length", Config(nullptr));
  if (length.is_array()) {
    c["input_shape"] = length;
  } else if (length.is_number() && length.get<double>() != 0.0) {
    c["input_shape"] = Config::array({length});
  } else {
    c["input_shape"] = Config::array({nullptr});
  }
  return c;
}

}  // namespace

Embedding::Embedding(const Config& config) : Layer("Embedding", with_embedding_input_shape(config)) {
  auto frame = ErrorContext::push("reading the config of Embedding layer '", name(), "'");
  const ConfigReader r(config, *this);
  input_dim_ = r.required<std::int64_t>("input_dim", Range::positive());
  output_dim_ = r.required<std::int64_t>("output_dim", Range::positive());
  embeddings_initializer_ = config_initializer(config, "embeddings_initializer", "uniform");
  embeddings_regularizer_ = config_regularizer(config, "embeddings_regularizer");
  activity_regularizer_ = config_regularizer(config, "activity_regularizer");
  embeddings_constraint_ = config_constraint(config, "embeddings_constraint");
  mask_zero_ = config_bool(config, "Embedding", "mask_zero", false);
  input_length_ = config.value("input_length", Config(nullptr));
  // Keras: None, a positive integer, or a list of those (one per input dimension after the
  // batch). Checked here: compute_output_shape reads it as integers.
  const auto length_ok = [](const Config& v) {
    return v.is_null() || (v.is_number_integer() && v.get<std::int64_t>() >= 1);
  };
  STRATA_CHECK(length_ok(input_length_) ||
                   (input_length_.is_array() && std::all_of(input_length_.begin(), input_length_.end(), length_ok)),
               ValueError, "Embedding layer '", name(),
               "': \"input_length\" must be null, a positive integer or a list of them, not a value of type ",
               input_length_.type_name(), input_length_.is_number() ? " (" + input_length_.dump() + ")" : "",
               ": check the layer's config");
  STRATA_CHECK(!config_bool(config, "Embedding", "sparse", false), ValueError,
               "Embedding layer '", name(), "': sparse=True (SparseTensor outputs) is not supported by Strata");
  set_supports_masking(mask_zero_);
}

void Embedding::build(const std::vector<Shape>&) {
  WeightSpec spec;
  spec.name = "embeddings";
  checked_element_count({input_dim_, output_dim_}, ConfigReader::subject_of(*this) + ": the embeddings");
  spec.shape = Shape{input_dim_, output_dim_};
  spec.initializer = embeddings_initializer_;
  spec.regularizer = embeddings_regularizer_;
  spec.constraint = embeddings_constraint_;
  embeddings_ = add_weight(spec);
}

std::vector<Tensor> Embedding::call(const std::vector<Tensor>& inputs, const CallContext&) const {
  STRATA_CHECK(inputs.size() == 1, ValueError, "Embedding layer '", name(), "' takes one input, got ", inputs.size());
  Tensor ids = inputs[0];
  if (ids.dtype() != DType::kInt32 && ids.dtype() != DType::kInt64) ids = cast(ids, DType::kInt32);
  Tensor out = gather(read(embeddings_), ids, 0);
  if (activity_regularizer_ && !out.is_symbolic()) add_activity_losses(*this, *activity_regularizer_, {out});
  return {out};
}

std::vector<Tensor> Embedding::compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>&) const {
  if (!mask_zero_ || inputs.empty()) return {Tensor()};
  return {not_equal(inputs[0], scalar_like(inputs[0], 0.0))};
}

std::vector<Shape> Embedding::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  STRATA_CHECK(input_shapes.size() == 1 && input_shapes[0].has_known_rank(), ShapeError, "Embedding layer '", name(),
               "' takes one input of known rank");
  const Shape& in = input_shapes[0];
  std::vector<std::int64_t> dims = in.dims();
  if (!input_length_.is_null() && in.rank() >= 1) {
    std::vector<Config> lengths;
    if (input_length_.is_array()) {
      for (const auto& v : input_length_) lengths.push_back(v);
    } else {
      lengths.push_back(input_length_);
    }
    STRATA_CHECK(lengths.size() == in.rank() - 1, ValueError, "\"input_length\" is ", input_length_.dump(),
                 ", but received input has shape ", in.to_string());
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      if (lengths[i].is_null()) continue;
      const auto given = lengths[i].get<std::int64_t>();
      STRATA_CHECK(dims[i + 1] < 0 || dims[i + 1] == given, ValueError, "\"input_length\" is ", input_length_.dump(),
                   ", but received input has shape ", in.to_string());
      dims[i + 1] = given;
    }
  }
  dims.push_back(output_dim_);
  return {Shape(dims)};
}

Config Embedding::get_config() const {
  Config c = Layer::get_config();
  c["input_dim"] = input_dim_;
  c["output_dim"] = output_dim_;
  c["embeddings_initializer"] = serialized_or_null(embeddings_initializer_.get(), ObjectKind::kInitializer);
  c["embeddings_regularizer"] = serialized_or_null(embeddings_regularizer_.get(), ObjectKind::kRegularizer);
  c["activity_regularizer"] = serialized_or_null(activity_regularizer_.get(), ObjectKind::kRegularizer);
  c["embeddings_constraint"] = serialized_or_null(embeddings_constraint_.get(), ObjectKind::kConstraint);
  c["mask_zero"] = mask_zero_;
  c["input_length"] = input_length_;
  return c;
}

// ---- Masking -----------------------------------------------------------------------------------

Masking::Masking(const Config& config) : Layer("Masking", config) {
  mask_value_ = config_double(config, "Masking", "mask_value", 0.0);
  set_supports_masking(true);
}

namespace {

// any(x != value) over the last axis, as 0/1 in x's dtype, keeping that axis.
Tensor any_differs(const Tensor& x, double value) {
  return max(cast(not_equal(x, scalar_like(x, value)), x.dtype()), {-1}, true);
}

}  // namespace

Layer::Outputs Masking::call_and_mask(const std::vector<Tensor>& inputs, const CallContext&) const {
  STRATA_CHECK(inputs.size() == 1, ValueError, "Masking layer '", name(), "' takes one input, got ", inputs.size());
  const Tensor& x = inputs[0];
  const Tensor keep = any_differs(x, mask_value_);
  Outputs out;
  out.tensors = {x * keep};
  out.masks = {cast(squeeze(keep, {-1}), DType::kBool)};
  return out;
}

std::vector<Tensor> Masking::call(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_and_mask(inputs, ctx).tensors;
}

std::vector<Tensor> Masking::compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const {
  CallContext ctx;
  ctx.masks = masks;
  return call_and_mask(inputs, ctx).masks;
}

std::vector<Shape> Masking::compute_output_shape(const std::vector<Shape>& input_shapes) const { return input_shapes; }

Config Masking::get_config() const {
  Config c = Layer::get_config();
  c["mask_value"] = mask_value_;
  return c;
}

}  // namespace strata::recurrent
