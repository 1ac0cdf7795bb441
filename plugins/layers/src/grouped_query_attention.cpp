// GroupQueryAttention, Keras 3.15's grouped-query attention (class GroupedQueryAttention:
// written "GroupQueryAttention" by to_json and .keras configs, "GroupedQueryAttention" by its
// legacy H5; Strata reads both and writes the first), as its TensorFlow backend computes it:
// EinsumDense projections "query" (bqm,muh->bquh), "key" and "value" (bkm,mvh->bkvh), with
// use_gate a sigmoid "gate" like the query's, and "attention_output" (bquh,uhm->bqm),
// tracked in Keras 3's order (query, key, gate, value, attention_output, so weights come in
// that order); key and value heads repeated num_query_heads / num_key_value_heads times
// each (ops.repeat on the heads axis); scores (query / sqrt(head_dim)) · key over
// bquh,bkuh->buqk, -1e9 where the mask is false, softmax over the keys, dropout in training,
// weights · value, times the gate, then the output projection.
//
// The mask: the attention_mask (bool, or numbers where nonzero keeps), ANDed with the keras
// masks of query (B, T, 1), value and key (B, 1, S), the causal mask (column <= row) and
// the sliding window (|row - column| < sliding_window), then broadcast over the heads. A
// fully masked row gets uniform weights, except where Keras takes its Softmax layer (dropout
// > 0 or return_attention_scores), which zeroes masked weights after the softmax. Call arguments (per node,
// strata/plugin/call_arguments.hpp): Keras 3's call(query, value, key=None, query_mask=None,
// value_mask=None, key_mask=None, attention_mask=None, return_attention_scores=False,
// training=None, use_causal_mask=False); from C++ without arguments the inputs are [query,
// value(, key(, attention_mask))]. With return_attention_scores a second output holds the
// softmax weights [B, num_query_heads, T, S] (before dropout).
// Flash attention is refused, as on Keras's TensorFlow backend.
#include <cmath>
#include <cstdlib>

#include "attention_call.hpp"
#include "einsum_dense.hpp"
#include "strata/graph.hpp"

namespace strata::layers {
namespace {

class GroupQueryAttention final : public Layer, public CallArgumentsLayer {
 public:
  explicit GroupQueryAttention(const Config& c) : Layer("GroupQueryAttention", c) {
    auto frame = ErrorContext::push("reading the config of GroupQueryAttention layer '", name(), "'");
    const ConfigReader r(c, *this);
    const std::string subject = ConfigReader::subject_of(*this);
    head_dim_ = r.required<std::int64_t>("head_dim", Range::positive());
    num_query_heads_ = r.required<std::int64_t>("num_query_heads", Range::positive());
    num_key_value_heads_ = r.required<std::int64_t>("num_key_value_heads", Range::positive());
    STRATA_CHECK(num_query_heads_ % num_key_value_heads_ == 0, ValueError, subject,
                 ": `num_query_heads` must be divisible by `num_key_value_heads`, got ", num_query_heads_, " and ",
                 num_key_value_heads_);
    r.optional<double>("dropout", 0.0, Range::closed(0.0, 1.0));
    dropout_ = r.number("dropout", 0.0);
    use_bias_ = r.optional("use_bias", true);
    use_gate_ = r.optional("use_gate", false);
    if (const Config* w = r.find("sliding_window"); w != nullptr && !w->is_null()) {
      STRATA_CHECK(w->is_number_integer(), ValueError, subject,
                   ": `sliding_window` must be `None` or a positive integer, got ", w->dump());
      sliding_window_ = r.required<std::int64_t>("sliding_window", Range::positive());
    }
    STRATA_CHECK(!r.optional("flash_attention", false), ValueError, subject,
                 ": flash attention is not supported (as on Keras's TensorFlow backend); set flash_attention to null");
    kernel_bias_ = read_kernel_bias_settings(c);
    const Config* seed = r.find("seed");
    seed_ = seed != nullptr ? *seed : Config(nullptr);
    if (!seed_.is_null()) (void)r.required<std::int64_t>("seed");
    set_supports_masking(true);
  }

  void set_call_arguments(const Config& arguments) override {
    arguments_.set(attention_positional_as_keywords(arguments, ConfigReader::subject_of(*this)));
  }
  Config call_arguments() const override {
    return with_output_structure(arguments_.latest([] { return attention_default_arguments(2); }));
  }

  void build(const std::vector<Shape>& shapes) override {
    const AttentionCall how = parse(arguments_.peek(*this, shapes.size(), attention_default_arguments), shapes.size());
    const Shape& query = shapes[how.query];
    const Shape& value = shapes[how.value];
    const Shape& key = how.key ? shapes[*how.key] : value;
    const std::string subject = ConfigReader::subject_of(*this);
    for (const Shape* s : {&query, &value, &key}) {
      STRATA_CHECK(s->has_known_rank() && s->rank() == 3, ShapeError, subject,
                   ": query, value and key must have rank 3 (batch, steps, features), got ", s->to_string());
    }
    feature_dim_ = query.dims().back();
    STRATA_CHECK(feature_dim_ != Shape::kUnknown, ShapeError, subject,
                 ": the last dimension of the query must be known, got ", query.to_string());
    STRATA_CHECK(value.dims().back() == Shape::kUnknown || value.dims().back() == feature_dim_, ValueError, subject,
                 ": the last dimension of `query_shape` and `value_shape` must be equal, but are ", feature_dim_, ", ",
                 value.dims().back());
    NameScope scope(name());  // the sublayers' weights are "<layer>/query/kernel", as in Keras
    query_dense_ = projection("query", "bqm,muh->bquh", {num_query_heads_, head_dim_}, "uh", "linear");
    query_dense_->ensure_built({query});
    key_dense_ = projection("key", "bkm,mvh->bkvh", {num_key_value_heads_, head_dim_}, "vh", "linear");
    key_dense_->ensure_built({key});
    if (use_gate_) {
      gate_dense_ = projection("gate", "bqm,muh->bquh", {num_query_heads_, head_dim_}, "uh", "sigmoid");
      gate_dense_->ensure_built({query});
    }
    value_dense_ = projection("value", "bkm,mvh->bkvh", {num_key_value_heads_, head_dim_}, "vh", "linear");
    value_dense_->ensure_built({value});
    output_dense_ = projection("attention_output", "bquh,uhm->bqm", {feature_dim_}, "m", "linear");
    output_dense_->ensure_built({Shape{Shape::kUnknown, Shape::kUnknown, num_query_heads_, head_dim_}});
    track("_query_dense", query_dense_);
    track("_key_dense", key_dense_);
    if (use_gate_) track("_gate_dense", gate_dense_);
    track("_value_dense", value_dense_);
    track("_output_dense", output_dense_);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    return call_and_mask(inputs, ctx).tensors;
  }

  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const AttentionCall how = parse(arguments_.for_call(*this, inputs, attention_default_arguments), inputs.size());
    const auto& [query, value, key, own_key] = attention_inputs(how, inputs);
    auto keras_mask = [&](std::size_t i) { return ctx.masks.size() > i ? ctx.masks[i] : Tensor(); };
    // Keras 3 fills query_mask, value_mask, key_mask from the inputs' keras masks unless given.
    const Tensor query_mask = how.query_mask ? inputs[*how.query_mask] : keras_mask(how.query);
    const Tensor value_mask = how.value_mask ? inputs[*how.value_mask] : keras_mask(how.value);
    const Tensor key_mask = how.key_mask ? inputs[*how.key_mask] : own_key ? keras_mask(*how.key) : Tensor();

    Tensor automatic;
    auto add_mask = [&](const Tensor& m) { automatic = automatic.defined() ? logical_and(automatic, m) : m; };
    if (query_mask.defined()) add_mask(expand_dims(cast(query_mask, DType::kBool), -1));
    if (value_mask.defined()) add_mask(expand_dims(cast(value_mask, DType::kBool), -2));
    if (key_mask.defined()) add_mask(expand_dims(cast(key_mask, DType::kBool), -2));
    if (how.causal || sliding_window_ > 0) {
      const Positions at = attention_positions(query, 1, value, 1);
      if (how.causal) add_mask(causal_mask(at));
      // Keras 3: only keys less than sliding_window steps from the query, either side.
      if (sliding_window_ > 0) add_mask(less(abs(at.rows - at.columns), scalar_like(at.rows, static_cast<double>(sliding_window_))));
    }
    Tensor mask = how.mask ? cast(inputs[*how.mask], DType::kBool) : Tensor();
    if (automatic.defined()) mask = mask.defined() ? logical_and(mask, automatic) : automatic;

    Tensor gate = use_gate_ ? (*gate_dense_)(query) : Tensor();
    Tensor q = (*query_dense_)(query);
    Tensor k = repeat_heads((*key_dense_)(key));
    Tensor v = repeat_heads((*value_dense_)(value));
    q = q * (1.0 / std::sqrt(static_cast<double>(head_dim_)));
    Tensor scores = einsum("bquh,bkuh->buqk", {q, k});
    if (mask.defined()) {
      while (mask.rank() < scores.rank()) mask = expand_dims(mask, -3);
      scores = select(mask, scores, scalar_like(scores, scores.dtype() == DType::kFloat16 ? -3e4 : -1e9));
    }
    scores = softmax(scores, -1);
    // Keras's slow path (dropout > 0 or scores returned) is its Softmax layer, which zeroes
    // masked positions after the softmax; the fast path (ops.dot_product_attention) does not,
    // so a fully masked row is uniform there and zero here.
    if (mask.defined() && (dropout_.get<double>() > 0.0 || how.scores))
      scores = select(mask, scores, zeros_like(scores));
    const Tensor dropped = attention_dropout(scores, dropout_.get<double>(), ctx.training);
    Tensor attended = einsum("buqk,bkuh->bquh", {dropped, v});
    if (use_gate_) attended = attended * gate;
    Outputs result;
    result.tensors = {(*output_dense_)(attended)};
    result.masks = {keras_mask(how.query)};
    if (how.scores) {
      result.tensors.push_back(scores);
      result.masks.emplace_back();
    }
    // Keras 3's Layer.__call__ also applies the layer's own activity regularizer to each output
    // (besides the projections', which get it too).
    for (const auto& t : result.tensors) add_activity_regularization(*this, kernel_bias_.activity_regularizer, t);
    return result;
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    // Keras 3's base config holds activity_regularizer, right after the base keys, when it is set.
    if (kernel_bias_.activity_regularizer) {
      c["activity_regularizer"] = serialized_or_null(kernel_bias_.activity_regularizer);
    }
    c["head_dim"] = head_dim_;
    c["num_query_heads"] = num_query_heads_;
    c["num_key_value_heads"] = num_key_value_heads_;
    c["use_bias"] = use_bias_;
    c["use_gate"] = use_gate_;
    c["sliding_window"] = sliding_window_ > 0 ? Config(sliding_window_) : Config(nullptr);
    c["dropout"] = dropout_;
    write_kernel_bias_settings(kernel_bias_, c);
    c["seed"] = seed_;
    return c;
  }

 private:
  // Keras 3's call arguments, query_mask, value_mask and key_mask included (attention_call.hpp).
  AttentionCall parse(const Config& arguments, std::size_t inputs) const {
    return parse_attention_call(arguments, inputs, ConfigReader::subject_of(*this), /*keyword_masks=*/true);
  }

  std::shared_ptr<EinsumDense> projection(const std::string& name, const std::string& equation,
                                          const std::vector<std::int64_t>& known, const char* bias_axes,
                                          const char* activation) const {
    Config c = Config::object();
    c["name"] = name;
    c["trainable"] = trainable();
    c["dtype"] = std::string(dtype_name(dtype()));
    Config shape = Config::array({nullptr});
    for (auto d : known) shape.push_back(d);
    c["output_shape"] = shape;
    c["equation"] = equation;
    c["activation"] = activation;
    c["bias_axes"] = use_bias_ ? Config(bias_axes) : Config(nullptr);
    write_kernel_bias_settings(kernel_bias_, c);
    return std::make_shared<EinsumDense>(c);
  }

  // ops.repeat(x, num_repeats, axis=2): each key/value head num_repeats times in a row (slices
  // and a concat, so that unknown batch and step counts need no reshape).
  Tensor repeat_heads(const Tensor& x) const {
    const std::int64_t repeats = num_query_heads_ / num_key_value_heads_;
    if (repeats == 1) return x;
    std::vector<Tensor> heads;
    for (std::int64_t h = 0; h < num_key_value_heads_; ++h) {
      const Tensor head = num_key_value_heads_ == 1 ? x : slice(x, {0, 0, h, 0}, {-1, -1, 1, -1});
      heads.insert(heads.end(), static_cast<std::size_t>(repeats), head);
    }
    return concat(heads, 2);
  }

  std::int64_t head_dim_ = 0, num_query_heads_ = 0, num_key_value_heads_ = 0, sliding_window_ = 0;
  std::int64_t feature_dim_ = 0;
  Config dropout_, seed_;
  bool use_bias_ = true, use_gate_ = false;
  KernelBiasSettings kernel_bias_;
  std::shared_ptr<EinsumDense> query_dense_, key_dense_, gate_dense_, value_dense_, output_dense_;
  CallArgumentsState arguments_;
};

}  // namespace

void register_grouped_query_attention(Registrar& registrar) {
  register_layer<GroupQueryAttention>(registrar, "GroupQueryAttention");
  // Keras 3's legacy H5 (model.save("m.h5")) names the layer by its Python class.
  register_layer<GroupQueryAttention>(registrar, "GroupedQueryAttention");
}

}  // namespace strata::layers
