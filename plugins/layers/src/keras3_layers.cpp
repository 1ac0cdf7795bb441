// Layers of Keras 3 that tf-keras lacks, as Keras 3.15 (TensorFlow backend) computes them:
//  - RMSNormalization(axis=-1, epsilon=1e-6): x * rsqrt(mean(x², axis) + epsilon) * scale,
//    one trainable "scale" (ones) shaped like the normalised dimensions.
//  - AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D(output_size,
//    data_format): output bin i of a spatial axis of length `in` pools the input from
//    start = floor(i·in/out) to end = ceil((i+1)·in/out), computed in float32 as Keras's
//    TensorFlow backend does (its "two-pool gather": a window of ceil(in/out) or one more
//    starting at `start`). The axes are pooled one after the other (height, then width), as
//    Keras does; the spatial dimensions must be known.
//  - ReversibleEmbedding(input_dim, output_dim, tie_weights=True, ...): an Embedding that,
//    called with reverse=True (a call argument Keras 3 writes in the node's kwargs), projects
//    hidden states back to the vocabulary with the transposed embeddings (tie_weights) or its
//    own trainable "reverse_embeddings" [output_dim, input_dim], then logit_soft_cap's
//    tanh(logits / cap) · cap. With mask_zero the forward call's output mask is ids != 0; the
//    reverse call's output has none.
// Each applies an activity_regularizer given in its config (Keras 3's base Layer takes one
// from any layer), and is written with Strata's ops, so gradients flow through autodiff.
// GroupQueryAttention is in grouped_query_attention.cpp.
#include <algorithm>
#include <cmath>

#include "call_arguments_state.hpp"
#include "common.hpp"

namespace strata::layers {
namespace {

// Sorted axes in [-rank, rank), as given (Keras 3 keeps negative ones negative).
std::vector<std::int64_t> checked_axes(const Layer& layer, std::vector<std::int64_t> axes, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  for (auto a : axes) {
    STRATA_CHECK(a >= -r && a < r, ValueError, ConfigReader::subject_of(layer), ": axis ", a,
                 " is out of bounds for an input of rank ", rank);
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

// Keras 3's base Layer takes activity_regularizer from any layer's config and writes it after
// the base keys when set.
Config with_activity_regularizer(Config c, const std::shared_ptr<Regularizer>& regularizer) {
  if (regularizer) c["activity_regularizer"] = serialized_or_null(regularizer);
  return c;
}

class RMSNormalization final : public Layer {
 public:
  explicit RMSNormalization(const Config& c) : Layer("RMSNormalization", c) {
    auto frame = ErrorContext::push("reading the config of RMSNormalization layer '", name(), "'");
    const ConfigReader r(c, *this);
    const Config* axis = r.find("axis");
    axis_list_ = axis != nullptr && axis->is_array();
    axes_ = axis_list_ ? r.int_list("axis", {-1}) : std::vector<std::int64_t>{r.optional<std::int64_t>("axis", -1)};
    STRATA_CHECK(!axes_.empty(), ValueError, ConfigReader::subject_of(*this), ": axis must not be empty");
    epsilon_ = r.number("epsilon", 1e-6, Range::non_negative());
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 1, /*at_least=*/true);
    axes_ = checked_axes(*this, axes_, s.rank());
    std::vector<std::int64_t> param;
    for (auto a : axes_) {
      const std::int64_t d = s.dims()[static_cast<std::size_t>(a < 0 ? a + static_cast<std::int64_t>(s.rank()) : a)];
      STRATA_CHECK(d != Shape::kUnknown, ShapeError, ConfigReader::subject_of(*this), ": the input dimension at axis ",
                   a, " must be known, got ", s.to_string());
      param.push_back(d);
    }
    scale_ = add_weight("scale", Shape(param), get_initializer(Config("ones")));
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    const Tensor rrms = rsqrt(mean(square(x), axes_, true) + epsilon_.get<double>());
    // As Keras: the scale broadcasts against the input from the right.
    Tensor y = (x * rrms) * read(scale_);
    add_activity_regularization(*this, activity_regularizer_, y);
    return {y};
  }

  Config get_config() const override {
    Config c = with_activity_regularizer(Layer::get_config(), activity_regularizer_);
    // Keras 3's build makes axis a sorted list.
    c["axis"] = built() || axis_list_ ? int_list(axes_) : Config(axes_[0]);
    c["epsilon"] = epsilon_;
    return c;
  }

 private:
  bool axis_list_ = false;
  std::vector<std::int64_t> axes_;
  Config epsilon_;
  std::shared_ptr<Regularizer> activity_regularizer_;
  Variable scale_;
};

enum class AdaptiveKind { kAverage, kMax };

class AdaptivePooling final : public Layer {
 public:
  AdaptivePooling(std::string class_name, const Config& c, std::size_t rank, AdaptiveKind kind)
      : Layer(std::move(class_name), c), rank_(rank), kind_(kind) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    STRATA_CHECK(r.has("output_size"), ValueError, ConfigReader::subject_of(*this),
                 ": 'output_size' is required (an integer or a list of ", rank_, ")");
    output_size_ = r.int_tuple("output_size", rank_, Range::positive());
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
  }

  std::vector<Shape> compute_output_shape(const std::vector<Shape>& shapes) const override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, rank_ + 2);
    std::vector<std::int64_t> dims = s.dims();
    const std::size_t first = data_format_ == "channels_last" ? 1 : 2;
    for (std::size_t i = 0; i < rank_; ++i) dims[first + i] = output_size_[i];
    return {Shape(dims)};
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), rank_ + 2);
    const std::size_t first = data_format_ == "channels_last" ? 1 : 2;
    for (std::size_t i = 0; i < rank_; ++i) {
      const auto axis = static_cast<std::int64_t>(first + i);
      const std::int64_t in = x.shape().dims()[first + i];
      STRATA_CHECK(in != Shape::kUnknown, ShapeError, ConfigReader::subject_of(*this),
                   ": input spatial dimensions must be statically known for adaptive pooling, got ",
                   x.shape().to_string());
      STRATA_CHECK(in > 0, ShapeError, ConfigReader::subject_of(*this), ": cannot pool an empty spatial axis, got ",
                   x.shape().to_string());
      x = pool_axis(x, axis, in, output_size_[i]);
    }
    add_activity_regularization(*this, activity_regularizer_, x);
    return {x};
  }

  Config get_config() const override {
    Config c = with_activity_regularizer(Layer::get_config(), activity_regularizer_);
    c["output_size"] = int_list(output_size_);
    c["data_format"] = data_format_;
    return c;
  }

 private:
  // Pools `axis` (length `in`) down to `out` bins.
  Tensor pool_axis(const Tensor& x, std::int64_t axis, std::int64_t in, std::int64_t out) const {
    // Keras's compute_adaptive_pooling_window_sizes and _compute_static_gather_indices.
    const std::int64_t small = (in + out - 1) / out, big = small + 1;
    const auto fin = static_cast<float>(in), fout = static_cast<float>(out);
    std::vector<Tensor> bins;
    bins.reserve(static_cast<std::size_t>(out));
    for (std::int64_t i = 0; i < out; ++i) {
      auto start = static_cast<std::int64_t>(std::floor(static_cast<float>(i) * fin / fout));
      auto end = static_cast<std::int64_t>(std::ceil(static_cast<float>(i + 1) * fin / fout));
      end = std::min(end, in);
      start = std::min(start, in - 1);
      const std::int64_t length = std::min(end - start == big ? big : small, in - start);
      std::vector<std::int64_t> begin(x.rank(), 0), size(x.rank(), -1);
      begin[static_cast<std::size_t>(axis)] = start;
      size[static_cast<std::size_t>(axis)] = length;
      const Tensor window = slice(x, begin, size);
      bins.push_back(kind_ == AdaptiveKind::kMax ? max(window, {axis}, true) : mean(window, {axis}, true));
    }
    return bins.size() == 1 ? bins[0] : concat(bins, axis);
  }

  std::size_t rank_;
  AdaptiveKind kind_;
  std::vector<std::int64_t> output_size_;
  std::string data_format_;
  std::shared_ptr<Regularizer> activity_regularizer_;
};

class ReversibleEmbedding final : public Layer, public CallArgumentsLayer {
 public:
  explicit ReversibleEmbedding(const Config& c) : Layer("ReversibleEmbedding", c) {
    auto frame = ErrorContext::push("reading the config of ReversibleEmbedding layer '", name(), "'");
    const ConfigReader r(c, *this);
    const std::string subject = ConfigReader::subject_of(*this);
    input_dim_ = r.required<std::int64_t>("input_dim", Range::positive());
    output_dim_ = r.required<std::int64_t>("output_dim", Range::positive());
    checked_element_count({input_dim_, output_dim_}, subject + ": the embeddings");
    tie_weights_ = r.optional("tie_weights", true);
    embeddings_initializer_ = initializer_at(c, "embeddings_initializer", "uniform");
    embeddings_regularizer_ = regularizer_at(c, "embeddings_regularizer");
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
    embeddings_constraint_ = constraint_at(c, "embeddings_constraint");
    mask_zero_ = r.optional("mask_zero", false);
    if (const Config* d = r.find("reverse_dtype"); d != nullptr && !d->is_null()) {
      reverse_dtype_name_ = r.optional("reverse_dtype", "float32");
      reverse_dtype_ = dtype_from_name(reverse_dtype_name_);
      STRATA_CHECK(reverse_dtype_ == DType::kFloat32 || reverse_dtype_ == DType::kFloat64 ||
                       reverse_dtype_ == DType::kFloat16 || reverse_dtype_ == DType::kBFloat16,
                   ValueError, subject, ": reverse_dtype must be a floating dtype, got ", reverse_dtype_name_);
    }
    if (const Config* cap = r.find("logit_soft_cap"); cap != nullptr && !cap->is_null()) {
      r.optional<double>("logit_soft_cap", 1.0, Range::greater_than(0.0));
      logit_soft_cap_ = *cap;
    }
    const Config* quantization = r.find("quantization_config");
    STRATA_CHECK(quantization == nullptr || quantization->is_null(), ValueError, subject,
                 ": quantized embeddings (quantization_config ", quantization ? quantization->dump() : "",
                 ") are not supported; save the model before quantizing it");
    const Config* lora = r.find("lora_rank");
    STRATA_CHECK(lora == nullptr || lora->is_null(), ValueError, subject, ": LoRA embeddings (lora_rank ",
                 lora ? lora->dump() : "", ") are not supported; merge the LoRA weights before saving");
    set_supports_masking(mask_zero_);
  }

  void set_call_arguments(const Config& arguments) override {
    // Keras 3's call(inputs, reverse=False).
    arguments_.set(positional_as_keywords(arguments, {"reverse"}, ConfigReader::subject_of(*this)));
  }
  Config call_arguments() const override {
    return arguments_.latest([] { return default_arguments(1); });
  }

  void build(const std::vector<Shape>&) override {
    WeightSpec spec;
    spec.name = "embeddings";
    spec.shape = Shape{input_dim_, output_dim_};
    spec.initializer = embeddings_initializer_;
    spec.regularizer = embeddings_regularizer_;
    spec.constraint = embeddings_constraint_;
    embeddings_ = add_weight(spec);
    if (!tie_weights_)
      reverse_embeddings_ = add_weight("reverse_embeddings", Shape{output_dim_, input_dim_}, embeddings_initializer_);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    return call_and_mask(inputs, ctx).tensors;
  }

  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    const bool reverse = parse(arguments_.for_call(*this, inputs, default_arguments));
    Outputs out;
    if (!reverse) {
      Tensor ids = x;
      if (ids.dtype() != DType::kInt32 && ids.dtype() != DType::kInt64) ids = cast(ids, DType::kInt32);
      out.tensors = {gather(read(embeddings_), ids, 0)};
      out.masks = {mask_zero_ ? not_equal(x, scalar_like(x, 0.0)) : Tensor()};
    } else {
      STRATA_CHECK(x.shape().has_known_rank() && x.rank() >= 1 &&
                       (x.shape().dims().back() == Shape::kUnknown || x.shape().dims().back() == output_dim_),
                   ShapeError, ConfigReader::subject_of(*this),
                   ": a reverse call takes inputs whose last dimension is ", "output_dim (", output_dim_, "), got ",
                   x.shape().to_string());
      Tensor kernel = tie_weights_ ? transpose(read(embeddings_), {1, 0}) : read(reverse_embeddings_);
      Tensor h = x;
      if (reverse_dtype_ != DType::kInvalid) {
        h = h.dtype() == reverse_dtype_ ? h : cast(h, reverse_dtype_);
        kernel = kernel.dtype() == reverse_dtype_ ? kernel : cast(kernel, reverse_dtype_);
      }
      Tensor logits = project(h, kernel);
      if (!logit_soft_cap_.is_null()) {
        const double cap = logit_soft_cap_.get<double>();
        logits = tanh(logits / cap) * cap;
      }
      out.tensors = {logits};
      out.masks = {Tensor()};
    }
    add_activity_regularization(*this, activity_regularizer_, out.tensors[0]);
    return out;
  }

  Config get_config() const override {
    // Keras 3's base config holds activity_regularizer, right after the base keys, when it is set.
    Config c = with_activity_regularizer(Layer::get_config(), activity_regularizer_);
    c["input_dim"] = input_dim_;
    c["output_dim"] = output_dim_;
    c["embeddings_initializer"] = serialized_or_null(embeddings_initializer_);
    c["embeddings_regularizer"] = serialized_or_null(embeddings_regularizer_);
    c["activity_regularizer"] = serialized_or_null(activity_regularizer_);
    c["embeddings_constraint"] = serialized_or_null(embeddings_constraint_);
    c["mask_zero"] = mask_zero_;
    c["quantization_config"] = nullptr;
    c["tie_weights"] = tie_weights_;
    c["reverse_dtype"] = reverse_dtype_ == DType::kInvalid ? Config(nullptr) : Config(reverse_dtype_name_);
    c["logit_soft_cap"] = logit_soft_cap_;
    return c;
  }

 private:
  static Config default_arguments(std::size_t) {
    return Config{{"args", Config::array({Config::array({Config{{"strata.tensor", 0}}})})},
                  {"kwargs", Config::object()}};
  }

  // Whether the call is a reverse one.
  bool parse(const Config& arguments) const {
    const std::string subject = ConfigReader::subject_of(*this);
    const Config kwargs = arguments.is_object() ? arguments.value("kwargs", Config::object()) : Config::object();
    STRATA_CHECK(kwargs.is_object(), FormatError, subject, ": the call's kwargs must be an object, got ",
                 kwargs.dump());
    bool reverse = false;
    for (const auto& [key, v] : kwargs.items()) {
      if (key == "reverse") {
        reverse = call_flag(kwargs, "reverse", subject);
      } else if (key == "training") {
        call_flag(kwargs, "training", subject);
      } else {
        STRATA_THROW(FormatError, subject, ": unknown call argument '", key, "' (", v.dump(),
                     "); ReversibleEmbedding takes reverse");
      }
    }
    return reverse;
  }

  // inputs [..., output_dim] @ kernel [output_dim, input_dim] (ops.matmul of Keras).
  static Tensor project(const Tensor& h, const Tensor& kernel) { return matmul(h, kernel); }

  std::int64_t input_dim_ = 0, output_dim_ = 0;
  bool tie_weights_ = true, mask_zero_ = false;
  std::string reverse_dtype_name_;
  DType reverse_dtype_ = DType::kInvalid;
  Config logit_soft_cap_;
  std::shared_ptr<Initializer> embeddings_initializer_;
  std::shared_ptr<Regularizer> embeddings_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> embeddings_constraint_;
  Variable embeddings_, reverse_embeddings_;
  CallArgumentsState arguments_;
};

}  // namespace

void register_keras3_layers(Registrar& registrar) {
  register_layer<RMSNormalization>(registrar, "RMSNormalization");
  register_layer<ReversibleEmbedding>(registrar, "ReversibleEmbedding");
  auto adaptive = [&registrar](const char* name, std::size_t rank, AdaptiveKind kind) {
    registrar.add<ObjectKind::kLayer>(name, [name, rank, kind](const Config& c) -> std::shared_ptr<Layer> {
      return std::make_shared<AdaptivePooling>(name, c, rank, kind);
    });
  };
  adaptive("AdaptiveAveragePooling1D", 1, AdaptiveKind::kAverage);
  adaptive("AdaptiveAveragePooling2D", 2, AdaptiveKind::kAverage);
  adaptive("AdaptiveAveragePooling3D", 3, AdaptiveKind::kAverage);
  adaptive("AdaptiveMaxPooling1D", 1, AdaptiveKind::kMax);
  adaptive("AdaptiveMaxPooling2D", 2, AdaptiveKind::kMax);
  adaptive("AdaptiveMaxPooling3D", 3, AdaptiveKind::kMax);
}

}  // namespace strata::layers
