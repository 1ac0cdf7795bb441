// The attention layers of tf-keras 2.17: Attention and AdditiveAttention (dot-product and
// additive scores over [query, value(, key)] with the keras masks of query and value), and
// MultiHeadAttention as tf-keras 2.17 computes it: query/key/value projections by EinsumDense
// sublayers named "query", "key", "value" (tracked as _query_dense, ... like tf-keras's
// attributes, so checkpoints match), scaled dot-product scores by the einsum equations
// tf-keras's _build_attention_equation makes for the attention axes, a softmax over those
// axes where masked positions get -1e9 added (tf-keras's Softmax layer), dropout in
// training, and the "attention_output" EinsumDense projection.
//
// The three take their call arguments through strata::CallArgumentsLayer, per node
// (strata/plugin/call_arguments.hpp): MultiHeadAttention's query (first argument) and
// value, key, attention_mask (tensors by keyword), use_causal_mask and
// return_attention_scores; Attention/AdditiveAttention's [query, value(, key)] list and
// use_causal_mask, return_attention_scores. Called from C++ without arguments, their inputs
// are positional: MultiHeadAttention [query, value(, key(, attention_mask))], the others
// [query, value(, key)]. The attention mask is bool or numeric, broadcast to (B, <query
// attention dims>, <key attention dims>); the keras masks of query, value and key are
// combined into it as tf-keras does. With return_attention_scores the layer has a second
// output, the attention weights after masking and softmax ([B, heads, T, S] for
// MultiHeadAttention's default axes, [B, Tq, Tv] for the others), which carries no mask.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "attention_call.hpp"
#include "einsum_dense.hpp"
#include "strata/graph.hpp"

namespace strata::layers {
namespace {

const char kLetters[] = "abcdefghijklmnopqrstuvwxyz";
constexpr std::size_t kMaxInputRank = 12;  // 2 x (12 + 1) letters at most

// tf-keras's _build_proj_equation: (equation, bias axes, output rank).
struct Projection {
  std::string equation, bias_axes;
  std::size_t output_rank;
};

Projection projection_equation(std::size_t free_dims, std::size_t bound_dims, std::size_t output_dims) {
  Projection p;
  std::string in, kernel, out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < free_dims; ++i, ++next) {
    in += kLetters[next];
    out += kLetters[next];
  }
  for (std::size_t i = 0; i < bound_dims; ++i, ++next) {
    in += kLetters[next];
    kernel += kLetters[next];
  }
  for (std::size_t i = 0; i < output_dims; ++i, ++next) {
    kernel += kLetters[next];
    out += kLetters[next];
    p.bias_axes += kLetters[next];
  }
  p.equation = in + "," + kernel + "->" + out;
  p.output_rank = out.size();
  return p;
}

// tf-keras's BaseDenseAttention: scores from query and key, -1e9 (float16: -65504) where the
// value mask is false, softmax over the value steps, dropout in training, weights @ value,
// rows of masked query steps zeroed. Inputs [query, value] or [query, value, key]; the
// masks are the keras masks of query and value.
class DenseAttention : public Layer, public CallArgumentsLayer {
 public:
  DenseAttention(const std::string& class_name, const Config& c) : Layer(class_name, c) {
    const ConfigReader r(c, *this);
    r.optional<double>("dropout", 0.0, Range::closed(0.0, 1.0));
    dropout_ = r.number("dropout", 0.0);
    // tf-keras pops the deprecated `causal` argument, applies it to every call and does not
    // write it back.
    causal_ = r.optional("causal", false);
    set_supports_masking(true);
  }

  void set_call_arguments(const Config& arguments) override {
    // Keras 3's call(inputs, mask=None, training=False, return_attention_scores=False,
    // use_causal_mask=False) with arguments after the first given by position.
    arguments_.set(positional_as_keywords(
        arguments, {"mask", "training", "return_attention_scores", "use_causal_mask"}, ConfigReader::subject_of(*this)));
  }
  Config call_arguments() const override {
    return with_output_structure(arguments_.latest([] { return default_arguments(2); }));
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    return call_and_mask(inputs, ctx).tensors;
  }

  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    STRATA_CHECK(
        inputs.size() == 2 || inputs.size() == 3, ValueError, ConfigReader::subject_of(*this),
        ": accepts inputs list of length 2 or 3, namely [query, value] or [query, value, key]. Received length: ",
        inputs.size());
    const Call how = parse(arguments_.for_call(*this, inputs, default_arguments), inputs.size());
    const Tensor& q = inputs[0];
    const Tensor& v = inputs[1];
    const Tensor& k = inputs.size() > 2 ? inputs[2] : v;
    Tensor scores = scores_of(q, k);
    Tensor scores_mask = ctx.masks.size() > 1 && ctx.masks[1].defined()
                             ? expand_dims(cast(ctx.masks[1], DType::kBool), -2)
                             : Tensor();
    if (how.causal || causal_) {
      const auto rank = static_cast<std::int64_t>(scores.rank());
      const Tensor causal = causal_mask(attention_positions(scores, rank - 2, scores, rank - 1));
      scores_mask = scores_mask.defined() ? logical_and(scores_mask, causal) : causal;
    }
    if (scores_mask.defined()) {
      const double large = scores.dtype() == DType::kFloat16 ? 65504.0 : 1.0e9;
      scores = scores - cast(logical_not(scores_mask), scores.dtype()) * large;
    }
    const Tensor weights = attention_dropout(softmax(scores, -1), dropout_.get<double>(), ctx.training);
    Tensor result = matmul(weights, v);
    const Tensor q_mask = ctx.masks.empty() ? Tensor() : ctx.masks[0];
    if (q_mask.defined()) result = result * cast(expand_dims(q_mask, -1), result.dtype());
    Outputs out;
    out.tensors = {result};
    out.masks = compute_mask(inputs, ctx.masks);
    out.masks.resize(1);
    if (how.scores) {  // tf-keras returns the weights after dropout
      out.tensors.push_back(weights);
      out.masks.emplace_back();
    }
    return out;
  }

  // The query's mask, as tf-keras.
  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const override {
    if (masks.empty() || !masks[0].defined()) return {};
    return {masks[0]};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["dropout"] = dropout_;
    return c;
  }

 protected:
  virtual Tensor scores_of(const Tensor& query, const Tensor& key) const = 0;

  // BaseDenseAttention.call(inputs, mask=None, training=None, return_attention_scores=False,
  // use_causal_mask=False): the first argument is the [query, value(, key)] list.
  struct Call {
    bool causal = false, scores = false;
  };
  static Config default_arguments(std::size_t inputs) {
    Config first = Config::array();
    for (std::size_t i = 0; i < inputs; ++i) first.push_back(Config{{"strata.tensor", i}});
    return Config{{"args", Config::array({first})}, {"kwargs", Config::object()}};
  }
  Call parse(const Config& arguments, std::size_t inputs) const {
    const std::string subject = ConfigReader::subject_of(*this);
    STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                     arguments["args"].size() == 1 && arguments["args"][0].is_array(),
                 FormatError, subject, ": is called on ", arguments.contains("args") ? arguments["args"].dump() : "nothing",
                 "; it takes a list [query, value] or [query, value, key]");
    const Config& first = arguments["args"][0];
    for (std::size_t i = 0; i < first.size(); ++i) {
      STRATA_CHECK(call_tensor_index(first[i], inputs, subject, "each element of the inputs list") == i, FormatError,
                   subject, ": the inputs list must hold the call's tensors in order, got ", first.dump());
    }
    const Config kwargs = arguments.value("kwargs", Config::object());
    Call how;
    for (const auto& [key, v] : kwargs.items()) {
      if (read_attention_flag(key, kwargs, how, subject)) continue;
      STRATA_CHECK(key == "mask" && v.is_null(), FormatError, subject, ": the call argument '", key, "' (", v.dump(),
                   ") is not supported; masks come from the inputs' keras masks");
    }
    return how;
  }

  void require_inputs(const std::vector<Shape>& shapes) const {
    STRATA_CHECK(
        shapes.size() == 2 || shapes.size() == 3, ValueError, ConfigReader::subject_of(*this),
        ": accepts inputs list of length 2 or 3, namely [query, value] or [query, value, key]. Received length: ",
        shapes.size());
  }

 private:
  Config dropout_;
  bool causal_ = false;
  CallArgumentsState arguments_;
};

class Attention final : public DenseAttention {
 public:
  explicit Attention(const Config& c) : DenseAttention("Attention", c) {
    auto frame = ErrorContext::push("reading the config of Attention layer '", name(), "'");
    const ConfigReader r(c, *this);
    use_scale_ = r.optional("use_scale", false);
    score_mode_ = r.optional("score_mode", "dot");
    STRATA_CHECK(score_mode_ == "dot" || score_mode_ == "concat", ValueError, ConfigReader::subject_of(*this),
                 ": received score_mode=", score_mode_, ". Acceptable values are: [\"dot\", \"concat\"]");
  }

  void build(const std::vector<Shape>& shapes) override {
    require_inputs(shapes);
    auto ones = get_initializer(Config("ones"));
    if (use_scale_) scale_ = add_weight("scale", Shape{}, ones);
    if (score_mode_ == "concat") concat_score_weight_ = add_weight("concat_score_weight", Shape{}, ones);
  }

  Config get_config() const override {
    Config c = DenseAttention::get_config();
    c["use_scale"] = use_scale_;
    c["score_mode"] = score_mode_;
    return c;
  }

 protected:
  Tensor scores_of(const Tensor& query, const Tensor& key) const override {
    if (score_mode_ == "dot") {
      Tensor scores = matmul(query, key, false, true);
      return use_scale_ ? scores * read(scale_) : scores;
    }
    Tensor sum_qk = expand_dims(query, -2) + expand_dims(key, -3);
    if (use_scale_) sum_qk = read(scale_) * sum_qk;
    return read(concat_score_weight_) * sum(tanh(sum_qk), {-1});
  }

 private:
  bool use_scale_ = false;
  std::string score_mode_ = "dot";
  Variable scale_, concat_score_weight_;
};

class AdditiveAttention final : public DenseAttention {
 public:
  explicit AdditiveAttention(const Config& c) : DenseAttention("AdditiveAttention", c) {
    auto frame = ErrorContext::push("reading the config of AdditiveAttention layer '", name(), "'");
    const ConfigReader r(c, *this);
    use_scale_ = r.optional("use_scale", true);
  }

  void build(const std::vector<Shape>& shapes) override {
    require_inputs(shapes);
    const std::int64_t dim =
        shapes[1].has_known_rank() && shapes[1].rank() > 0 ? shapes[1].dims().back() : Shape::kUnknown;
    STRATA_CHECK(!use_scale_ || dim != Shape::kUnknown, ShapeError, ConfigReader::subject_of(*this),
                 ": the last dimension of the value must be known, got ", shapes[1].to_string());
    if (use_scale_) scale_ = add_weight("scale", Shape{dim}, get_initializer(Config("glorot_uniform")));
  }

  Config get_config() const override {
    Config c = DenseAttention::get_config();
    c["use_scale"] = use_scale_;
    return c;
  }

 protected:
  Tensor scores_of(const Tensor& query, const Tensor& key) const override {
    Tensor t = tanh(expand_dims(query, -2) + expand_dims(key, -3));
    if (use_scale_) t = read(scale_) * t;
    return sum(t, {-1});
  }

 private:
  bool use_scale_ = true;
  Variable scale_;
};

class MultiHeadAttention final : public Layer, public CallArgumentsLayer {
 public:
  explicit MultiHeadAttention(const Config& c) : Layer("MultiHeadAttention", c) {
    auto frame = ErrorContext::push("reading the config of MultiHeadAttention layer '", name(), "'");
    const ConfigReader r(c, *this);
    num_heads_ = r.required<std::int64_t>("num_heads", Range::positive());
    key_dim_ = r.required<std::int64_t>("key_dim", Range::positive());
    value_dim_ = r.optional<std::int64_t>("value_dim", 0, Range::positive());
    if (value_dim_ == 0) value_dim_ = key_dim_;
    r.optional<double>("dropout", 0.0, Range::closed(0.0, 1.0));
    dropout_ = r.number("dropout", 0.0);
    use_bias_ = r.optional("use_bias", true);
    if (const Config* o = r.find("output_shape"); o != nullptr && !o->is_null()) {
      output_shape_config_ = *o;
      output_shape_ = read_output_shape(*o, *this, /*allow_unknown=*/false);
    }
    // tf-keras 2.21's "softmax_robust_masking"; 2.17 has no such key and refuses it, so it is
    // written back only when it was read.
    if (r.find("softmax_robust_masking") != nullptr) softmax_robust_masking_ = r.optional("softmax_robust_masking", false);
    // Keras 3's gated attention (use_gate: a sigmoid gate Dense on the query) and sliding-window
    // attention (each query sees the `sliding_window` keys around it) are not written here.
    STRATA_CHECK(!r.optional("use_gate", false), ValueError, ConfigReader::subject_of(*this),
                 ": use_gate=true (Keras 3's gated attention) is not supported");
    if (const Config* w = r.find("sliding_window"); w != nullptr && !w->is_null()) {
      STRATA_THROW(ValueError, ConfigReader::subject_of(*this), ": sliding_window=", w->dump(),
                   " (Keras 3's sliding-window attention) is not supported");
    }
    if (const Config* a = r.find("attention_axes"); a != nullptr && !a->is_null()) {
      attention_axes_ = a->is_array() ? r.int_list("attention_axes", {})
                                      : std::vector<std::int64_t>{r.required<std::int64_t>("attention_axes")};
      axes_given_ = true;
    }
    kernel_bias_ = read_kernel_bias_settings(c);
    set_supports_masking(true);
    // tf-keras's from_config builds the sublayers when the config has the shapes.
    const auto q = r.shape("query_shape"), k = r.shape("key_shape"), v = r.shape("value_shape");
    if (q && k && v) {
      build_from_signature(*q, *v, *k);
      set_built({*q, *v, *k});
    }
  }

  void set_call_arguments(const Config& arguments) override {
    // A Keras 3 node gives the query bare (tf-keras 2 writes a list of one) and the value,
    // often the key, by position: Keras 3's call(query, value, key=None, query_mask=None,
    // value_mask=None, key_mask=None, attention_mask=None, ...). tf-keras writes them by name.
    arguments_.set(attention_positional_as_keywords(arguments, ConfigReader::subject_of(*this)));
  }
  Config call_arguments() const override {
    return with_output_structure(arguments_.latest([] { return attention_default_arguments(2); }));
  }

  void build(const std::vector<Shape>& shapes) override {
    if (query_dense_) return;
    const AttentionCall how = parse(arguments_.peek(*this, shapes.size(), attention_default_arguments), shapes.size());
    build_from_signature(shapes[how.query], shapes[how.value], shapes[how.key.value_or(how.value)]);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    return call_and_mask(inputs, ctx).tensors;
  }

  Outputs call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const AttentionCall how = parse(arguments_.for_call(*this, inputs, attention_default_arguments), inputs.size());
    const auto& [query, value, key, own_key] = attention_inputs(how, inputs);
    Tensor mask = how.mask ? inputs[*how.mask] : Tensor();
    if (mask.defined() && mask.dtype() != DType::kBool) mask = cast(mask, DType::kBool);
    // tf-keras's _compute_attention_mask: the keras masks of query (B, T, 1), value and key
    // (B, 1, S) and the causal mask (1, T, S), ANDed with the attention mask.
    auto mask_of = [&](std::size_t i) { return ctx.masks.size() > i ? ctx.masks[i] : Tensor(); };
    Tensor automatic;
    auto add_mask = [&](const Tensor& m) { automatic = automatic.defined() ? logical_and(automatic, m) : m; };
    if (const Tensor m = mask_of(how.query); m.defined()) add_mask(expand_dims(cast(m, DType::kBool), 2));
    if (const Tensor m = mask_of(how.value); m.defined()) add_mask(expand_dims(cast(m, DType::kBool), 1));
    if (own_key) {
      if (const Tensor m = mask_of(*how.key); m.defined()) add_mask(expand_dims(cast(m, DType::kBool), 1));
    }
    if (how.causal) add_mask(causal_mask(attention_positions(query, 1, value, 1)));
    if (automatic.defined()) mask = mask.defined() ? logical_and(mask, automatic) : automatic;

    Tensor q = (*query_dense_)(query);
    const Tensor k = (*key_dense_)(key);
    const Tensor v = (*value_dense_)(value);
    q = q * (1.0 / std::sqrt(static_cast<double>(key_dim_)));
    Tensor scores = einsum(dot_product_equation_, {k, q});
    scores = masked_softmax(scores, mask);
    const Tensor dropped = attention_dropout(scores, dropout_.get<double>(), ctx.training);
    const Tensor out = einsum(combine_equation_, {dropped, v});
    Outputs result;
    result.tensors = {(*output_dense_)(out)};
    result.masks = {mask_of(how.query)};  // tf-keras: the query's mask, on the first output only
    if (how.scores) {  // before dropout, as tf-keras returns them
      result.tensors.push_back(scores);
      result.masks.emplace_back();
    }
    return result;
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["num_heads"] = num_heads_;
    c["key_dim"] = key_dim_;
    c["value_dim"] = value_dim_;
    c["dropout"] = dropout_;
    c["use_bias"] = use_bias_;
    c["output_shape"] = output_shape_config_;
    c["attention_axes"] = axes_given_ || query_dense_ ? int_list(attention_axes_) : Config(nullptr);
    write_kernel_bias_settings(kernel_bias_, c);
    if (softmax_robust_masking_) c["softmax_robust_masking"] = *softmax_robust_masking_;
    auto shape = [](const std::optional<Shape>& s) {
      if (!s) return Config(nullptr);
      Config dims = Config::array();
      for (auto d : s->dims()) dims.push_back(d == Shape::kUnknown ? Config(nullptr) : Config(d));
      return dims;
    };
    c["query_shape"] = shape(query_shape_);
    c["key_shape"] = shape(key_shape_);
    c["value_shape"] = shape(value_shape_);
    return c;
  }

 private:
  // MultiHeadAttention.call(query, value, key=None, attention_mask=None,
  // return_attention_scores=False, training=None, use_causal_mask=False): which input is
  // which, and the flags (attention_call.hpp; Keras 3's query_mask, value_mask and key_mask
  // are unknown arguments here), for at most four inputs.
  AttentionCall parse(const Config& arguments, std::size_t inputs) const {
    const std::string subject = ConfigReader::subject_of(*this);
    const AttentionCall how = parse_attention_call(arguments, inputs, subject, /*keyword_masks=*/false);
    STRATA_CHECK(inputs <= 4, ValueError, subject,
                 ": expects inputs [query, value], [query, value, key] or [query, value, key, attention_mask], got ",
                 inputs, " inputs");
    return how;
  }

  std::shared_ptr<EinsumDense> projection(const std::string& name, const Projection& p,
                                          const std::vector<std::int64_t>& known) const {
    Config c = Config::object();
    c["name"] = name;
    c["trainable"] = trainable();
    c["dtype"] = std::string(dtype_name(dtype()));
    Config shape = Config::array();
    for (std::size_t i = known.size(); i + 1 < p.output_rank; ++i) shape.push_back(nullptr);
    for (auto d : known) shape.push_back(d);
    c["output_shape"] = shape;
    c["equation"] = p.equation;
    c["bias_axes"] = use_bias_ ? Config(p.bias_axes) : Config(nullptr);
    write_kernel_bias_settings(kernel_bias_, c);
    return std::make_shared<EinsumDense>(c);
  }

  // tf-keras's _build_from_signature: the four projections and the attention equations.
  void build_from_signature(const Shape& query, const Shape& value, const Shape& key) {
    const std::string subject = ConfigReader::subject_of(*this);
    for (const Shape* s : {&query, &value, &key}) {
      STRATA_CHECK(s->has_known_rank() && s->rank() >= 3, ShapeError, subject,
                   ": query, value and key need rank 3 or more, got ", s->to_string());
      // The einsum equations name every dimension with a letter a-z, as tf-keras's do: the
      // attention equation of a rank-r query uses up to 2r + 1 of them.
      STRATA_CHECK(s->rank() <= kMaxInputRank, ShapeError, subject, ": query, value and key of rank more than ",
                   kMaxInputRank, " need more einsum letters than a-z, got ", s->to_string());
    }
    query_shape_ = query;
    value_shape_ = value;
    key_shape_ = key;
    const std::size_t free_dims = query.rank() - 1;
    const Projection pq = projection_equation(free_dims, 1, 2);
    query_dense_ = projection("query", pq, {num_heads_, key_dim_});
    key_dense_ = projection("key", projection_equation(key.rank() - 1, 1, 2), {num_heads_, key_dim_});
    value_dense_ = projection("value", projection_equation(value.rank() - 1, 1, 2), {num_heads_, value_dim_});
    const std::size_t rank = pq.output_rank;
    if (!axes_given_) {
      attention_axes_.clear();
      for (std::size_t i = 1; i + 2 < rank; ++i) attention_axes_.push_back(static_cast<std::int64_t>(i));
    }
    for (auto& a : attention_axes_) {
      // tf-keras uses the axes as given (np.delete and `i in attn_axes`): negative ones
      // count from the end of the projected rank.
      STRATA_CHECK(a >= -static_cast<std::int64_t>(rank) && a < static_cast<std::int64_t>(rank) - 1, ValueError,
                   subject, ": attention_axes ", int_list(attention_axes_).dump(), " do not fit projected rank ", rank);
    }
    build_attention_equations(rank);
    std::vector<std::int64_t> out = output_shape_;
    if (out.empty()) {
      STRATA_CHECK(query.dims().back() != Shape::kUnknown, ShapeError, subject,
                   ": the last dimension of the query must be known, got ", query.to_string());
      out = {query.dims().back()};
    }
    STRATA_CHECK(free_dims + 2 + out.size() <= sizeof kLetters - 1, ValueError, subject, ": output_shape ",
                 int_list(out).dump(), " has more dimensions than the einsum letters a-z can name with a query of ",
                 "rank ", query.rank());
    output_dense_ = projection("attention_output", projection_equation(free_dims, 2, out.size()), out);
    NameScope scope(name());  // the sublayers' weights are "<layer>/query/kernel", as in tf-keras
    query_dense_->ensure_built({query});
    key_dense_->ensure_built({key});
    value_dense_->ensure_built({value});
    std::vector<std::int64_t> attended = query.dims();
    attended.back() = num_heads_;
    attended.push_back(value_dim_);
    output_dense_->ensure_built({Shape(attended)});
    track("_query_dense", query_dense_);
    track("_key_dense", key_dense_);
    track("_value_dense", value_dense_);
    track("_output_dense", output_dense_);
  }

  // tf-keras's _build_attention_equation.
  void build_attention_equations(std::size_t rank) {
    std::vector<std::size_t> attn;
    for (auto a : attention_axes_)
      attn.push_back(static_cast<std::size_t>(a < 0 ? a + static_cast<std::int64_t>(rank) : a));
    auto is_attn = [&](std::size_t i) { return std::find(attn.begin(), attn.end(), i) != attn.end(); };
    std::vector<std::size_t> batch;
    for (std::size_t i = 0; i < rank; ++i) {
      if (!is_attn(i) && i != rank - 1) batch.push_back(i);
    }
    const std::string target(kLetters, rank);
    std::string source;
    std::size_t next = rank;
    for (std::size_t i = 0; i < rank; ++i) {
      const bool keep = std::find(batch.begin(), batch.end(), i) != batch.end() || i == rank - 1;
      source += keep ? target[i] : kLetters[next++];
    }
    std::string product;
    for (auto i : batch) product += target[i];
    for (auto i : attn) product += target[i];
    for (auto i : attn) product += source[i];
    dot_product_equation_ = source + "," + target + "->" + product;
    combine_equation_ = product + "," + source + "->" + target;
    scores_rank_ = product.size();
  }

  // tf-keras's _masked_softmax: the mask gets size-1 axes before the attention axes until
  // it has the scores' rank; masked positions get -1e9 (the lowest float16 for float16) added,
  // or, with softmax_robust_masking (tf-keras 2.21), are replaced by it.
  Tensor masked_softmax(Tensor scores, Tensor mask) const {
    const auto n = static_cast<std::int64_t>(attention_axes_.size());
    if (mask.defined()) {
      while (mask.rank() < scores.rank()) mask = expand_dims(mask, -n * 2 - 1);
      const double large = scores.dtype() == DType::kFloat16 ? -65504.0 : -1e9;
      if (softmax_robust_masking_.value_or(false)) {
        scores = select(cast(mask, DType::kBool), scores, scalar_like(scores, large));
      } else {
        scores = scores + (1.0 - cast(mask, scores.dtype())) * large;
      }
    }
    if (n == 1) return softmax(scores, -1);
    std::vector<std::int64_t> axes;
    for (std::int64_t i = static_cast<std::int64_t>(scores_rank_) - n; i < static_cast<std::int64_t>(scores_rank_);
         ++i) {
      axes.push_back(i);
    }
    const Tensor m = stop_gradient(max(scores, axes, true));
    const Tensor lse = log(sum(exp(scores - m), axes, true)) + m;
    return exp(scores - lse);
  }

  std::int64_t num_heads_ = 0, key_dim_ = 0, value_dim_ = 0;
  Config dropout_;
  bool use_bias_ = true;
  Config output_shape_config_;
  std::vector<std::int64_t> output_shape_;
  std::vector<std::int64_t> attention_axes_;
  bool axes_given_ = false;
  std::optional<bool> softmax_robust_masking_;  // when the config had the key (tf-keras 2.21)
  KernelBiasSettings kernel_bias_;
  std::optional<Shape> query_shape_, key_shape_, value_shape_;
  std::shared_ptr<EinsumDense> query_dense_, key_dense_, value_dense_, output_dense_;
  std::string dot_product_equation_, combine_equation_;
  std::size_t scores_rank_ = 0;
  CallArgumentsState arguments_;
};

}  // namespace

void register_attention_layers(Registrar& registrar) {
  register_layer<Attention>(registrar, "Attention");
  register_layer<AdditiveAttention>(registrar, "AdditiveAttention");
  register_layer<MultiHeadAttention>(registrar, "MultiHeadAttention");
}

}  // namespace strata::layers
