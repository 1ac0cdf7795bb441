// Categorical preprocessing layers: CategoryEncoding, Discretization, Hashing and
// HashedCrossing, as tf-keras 2.21 computes them (dense outputs only: Strata has no sparse
// tensors, so sparse=True is refused).
//
// What TensorFlow computes in kernels of its own is computed here by ops this file registers,
// with TensorFlow's names, attributes and outputs (so a SavedModel Strata writes loads in
// TensorFlow): StringToHashBucketFast (FarmHash Fingerprint64 mod num_buckets),
// StringToHashBucketStrong (SipHash-2-4 keyed with two words, mod num_buckets), AsString
// (integers in decimal) and SparseCross (tf.sparse.cross_hashed, dense [batch, 1] inputs only);
// a fallback kernel of the runtime's Equal for strings (Hashing's string mask_value); and one
// Strata-only op, strata.CheckCategoryRange (CategoryEncoding's run-time check that values lie
// in [0, num_tokens), a ValueError naming the layer). String tensors live on the host, so the
// string ops take their inputs there and put numeric outputs on the default device.
// Bucketize and the one-hot/multi-hot/count encodings are compositions of existing ops.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "call_arguments_state.hpp"
#include "common.hpp"
#include "fingerprint.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/plugin/file_shaped_weights.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::layers {
namespace {

// The device a kernel runs for (its outputs' device), without the backend tier's headers,
// which a plugin that is no backend does not include: output 0's device once allocated.
Device kernel_device(KernelContext& ctx) { return ctx.allocate_output(0).device(); }

constexpr std::uint64_t kCrossHashKey = 0xDECAFCAFFEULL;  // tf.sparse.cross_hashed's default hash_key
constexpr int kMaxCrossInputs = 64;

// ---- ops ----------------------------------------------------------------------------------------

// The values of an integer tensor (any device) as int64.
std::vector<std::int64_t> integer_values(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kInt64:
      return t.to_vector<std::int64_t>();
    case DType::kInt32: {
      const auto v = t.to_vector<std::int32_t>();
      return {v.begin(), v.end()};
    }
    case DType::kInt8: {
      const auto v = t.to_vector<std::int8_t>();
      return {v.begin(), v.end()};
    }
    case DType::kUInt8: {
      const auto v = t.to_vector<std::uint8_t>();
      return {v.begin(), v.end()};
    }
    default:
      STRATA_THROW(ValueError, "expected an integer tensor, got ", dtype_name(t.dtype()));
  }
}

// The values of a numeric (integer or floating) tensor as doubles, for range checks; int64
// values beyond 2^53 round, which cannot move them across 0 or a realistic num_tokens.
std::vector<double> numeric_values(const Tensor& t) {
  if (is_integer(t.dtype())) {
    const auto v = integer_values(t);
    return {v.begin(), v.end()};
  }
  const Tensor f = t.dtype() == DType::kFloat64 ? t : cast(t, DType::kFloat64);
  return f.to_vector<double>();
}

std::vector<TensorMeta> string_to_bucket_infer(const InferContext& c) {
  STRATA_CHECK(c.dtype(0) == DType::kString, ValueError, "op ", c.op_name(), " takes a string tensor, got ",
               dtype_name(c.dtype(0)));
  STRATA_CHECK(c.attrs().get<std::int64_t>("num_buckets") >= 1, ValueError, "op ", c.op_name(),
               ": num_buckets must be at least 1, got ", c.attrs().get<std::int64_t>("num_buckets"));
  if (c.op_name() == "StringToHashBucketStrong") {
    STRATA_CHECK(c.attrs().get<std::vector<std::int64_t>>("key").size() == 2, ValueError, "op ", c.op_name(),
                 ": key must hold 2 integers, got ", c.attrs().get<std::vector<std::int64_t>>("key").size());
  }
  return {{DType::kInt64, c.shape(0)}};
}

void string_to_bucket(KernelContext& ctx, bool strong) {
  const Tensor& in = ctx.input(0);
  const auto buckets = static_cast<std::uint64_t>(ctx.attrs().get<std::int64_t>("num_buckets"));
  std::uint64_t key0 = 0, key1 = 0;
  if (strong) {
    const auto key = ctx.attrs().get<std::vector<std::int64_t>>("key");
    key0 = static_cast<std::uint64_t>(key[0]);
    key1 = static_cast<std::uint64_t>(key[1]);
  }
  const auto strings = in.strings();
  std::vector<std::int64_t> out(strings.size());
  for (std::size_t i = 0; i < strings.size(); ++i) {
    const std::uint64_t h = strong ? siphash24(key0, key1, strings[i]) : fingerprint64(strings[i]);
    out[i] = static_cast<std::int64_t>(h % buckets);
  }
  ctx.set_output(0, Tensor::from_vector(out, in.shape(), kernel_device(ctx)));
}

std::vector<TensorMeta> as_string_infer(const InferContext& c) {
  STRATA_CHECK(is_integer(c.dtype(0)), ValueError, "op AsString is implemented for integer tensors only, got ",
               dtype_name(c.dtype(0)));
  return {{DType::kString, c.shape(0)}};
}

void as_string(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  std::vector<std::string> out;
  for (const auto v : integer_values(in)) out.push_back(std::to_string(v));
  ctx.set_output(0, Tensor::from_strings(out, in.shape()));
}

// TensorFlow's SparseCross (what tf.sparse.cross_hashed runs), for dense inputs only (N = 0
// sparse inputs), each of shape [batch, 1] and dtype int64 or string, hashed_output true: one
// cross per row. Outputs: output_indices [batch, 2] (row, 0), output_values [batch] and
// output_shape [batch, 1], as TensorFlow's.
std::vector<TensorMeta> sparse_cross_infer(const InferContext& c) {
  const Attrs& a = c.attrs();
  STRATA_CHECK(a.get_or<std::int64_t>("N", 0) == 0, ValueError,
               "op SparseCross is implemented for dense inputs only (N = 0), got N = ", a.get<std::int64_t>("N"));
  STRATA_CHECK(a.get_or<bool>("hashed_output", false), ValueError,
               "op SparseCross is implemented with hashed_output=true only");
  STRATA_CHECK(a.get<std::int64_t>("num_buckets") >= 0, ValueError, "op SparseCross: num_buckets must not be negative");
  STRATA_CHECK(c.num_inputs() <= static_cast<std::size_t>(kMaxCrossInputs), ValueError, "op SparseCross takes at most ",
               kMaxCrossInputs, " inputs, got ", c.num_inputs());
  std::int64_t batch = Shape::kUnknown;
  for (std::size_t i = 0; i < c.num_inputs(); ++i) {
    STRATA_CHECK(c.dtype(i) == DType::kInt64 || c.dtype(i) == DType::kString, ValueError,
                 "op SparseCross takes int64 or string tensors, got ", dtype_name(c.dtype(i)), " as input ", i);
    const Shape& s = c.shape(i);
    STRATA_CHECK(s.rank() == 2 && s.dims()[1] == 1, ShapeError,
                 "op SparseCross is implemented for inputs of shape [batch, 1], got ", s.to_string(), " as input ", i);
    const std::int64_t b = s.dims()[0];
    STRATA_CHECK(batch == Shape::kUnknown || b == Shape::kUnknown || b == batch, ShapeError,
                 "op SparseCross needs inputs of one batch size, got ", batch, " and ", b);
    if (b != Shape::kUnknown) batch = b;
  }
  return {{DType::kInt64, Shape{batch, 2}}, {DType::kInt64, Shape{batch}}, {DType::kInt64, Shape{2}}};
}

// The hash key folded with each feature's hash in input order (FingerprintCat64); a string's
// hash is its Fingerprint64, an integer's the integer itself; then modulo num_buckets (0: the
// largest int64).
void sparse_cross(KernelContext& ctx) {
  const auto buckets = static_cast<std::uint64_t>(ctx.attrs().get<std::int64_t>("num_buckets"));
  const std::uint64_t modulus =
      buckets > 0 ? buckets : static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const auto key = static_cast<std::uint64_t>(ctx.attrs().get<std::int64_t>("hash_key"));
  const std::int64_t batch = ctx.output_meta(1).shape.dims()[0];
  const auto n = static_cast<std::size_t>(batch);
  std::vector<std::uint64_t> hash(n, key);
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    STRATA_CHECK(in.num_elements() == batch, ShapeError, "op SparseCross needs inputs of one batch size, got ",
                 in.shape().to_string(), " and ", ctx.input(0).shape().to_string());
    if (in.dtype() == DType::kString) {
      const auto strings = in.strings();
      for (std::size_t k = 0; k < n; ++k) hash[k] = fingerprint_cat64(hash[k], fingerprint64(strings[k]));
    } else {
      const auto values = in.to_vector<std::int64_t>();
      for (std::size_t k = 0; k < n; ++k) hash[k] = fingerprint_cat64(hash[k], static_cast<std::uint64_t>(values[k]));
    }
  }
  std::vector<std::int64_t> indices(2 * n, 0), values(n);
  for (std::size_t k = 0; k < n; ++k) {
    indices[2 * k] = static_cast<std::int64_t>(k);
    values[k] = static_cast<std::int64_t>(hash[k] % modulus);
  }
  const Device device = kernel_device(ctx);
  ctx.set_output(0, Tensor::from_vector(indices, Shape{batch, 2}, device));
  ctx.set_output(1, Tensor::from_vector(values, Shape{batch}, device));
  ctx.set_output(2, Tensor::from_vector(std::vector<std::int64_t>{batch, 1}, Shape{2}, device));
}

std::vector<TensorMeta> check_range_infer(const InferContext& c) {
  STRATA_CHECK(is_integer(c.dtype(0)) || is_floating(c.dtype(0)), ValueError,
               "op strata.CheckCategoryRange takes a numeric tensor, got ", dtype_name(c.dtype(0)));
  return {{c.dtype(0), c.shape(0)}};
}

// Passes its input through after checking 0 <= value < depth everywhere (tf-keras asserts the
// same in CategoryEncoding.call); ValueError naming attribute "subject" otherwise.
void check_range(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const auto depth = ctx.attrs().get<std::int64_t>("depth");
  const auto values = numeric_values(in);
  for (const double v : values) {
    STRATA_CHECK(v >= 0.0 && v < static_cast<double>(depth), ValueError, ctx.attrs().get<std::string>("subject"),
                 ": input values must be in the range 0 <= values < num_tokens with num_tokens=", depth, "; got ", v);
  }
  ctx.set_output(0, in);
}

// Equal on strings (the runtime's Equal op, whose inference takes any one dtype): byte-for-byte
// equality, with NumPy broadcasting of a scalar against a tensor. Registered for any device and
// dtype, the kernel lookup's last resort, because string tensors live on the cpu whatever the
// device a model runs on (no backend registers Equal for strings); any other dtype is the
// BackendError a missing kernel is. The bool output goes to the default device, where the
// numeric outputs of the string ops go.
void string_equal(KernelContext& ctx) {
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  STRATA_CHECK(a.dtype() == DType::kString, BackendError, "no kernel for op Equal on device type '",
               kernel_device(ctx).type(), "' for dtype ", dtype_name(a.dtype()),
               " (the layers plugin's fallback kernel of Equal compares strings only)");
  const auto sa = a.strings(), sb = b.strings();
  const std::size_t n = static_cast<std::size_t>(ctx.output_meta(0).shape.num_elements());
  STRATA_CHECK((sa.size() == n || sa.size() == 1) && (sb.size() == n || sb.size() == 1), ShapeError,
               "Equal on strings broadcasts only a scalar against a tensor, got ", a.shape().to_string(), " and ",
               b.shape().to_string());
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = sa[sa.size() == 1 ? 0 : i] == sb[sb.size() == 1 ? 0 : i] ? 1 : 0;
  ctx.set_output(0, Tensor::from_bools(out, ctx.output_meta(0).shape, default_device()));
}

void register_encoding_ops(Registrar& r) {
  const auto op = [&r](const char* name, int inputs, std::vector<int> host,
                       std::function<std::vector<TensorMeta>(const InferContext&)> infer) {
    OpDef d;
    d.name = name;
    d.num_inputs = inputs;
    d.min_inputs = inputs < 0 ? 1 : 0;
    d.host_inputs = std::move(host);
    d.not_differentiable = true;
    d.infer = std::move(infer);
    r.add<ObjectKind::kOp>(name, std::move(d));
  };
  op("StringToHashBucketFast", 1, {0}, string_to_bucket_infer);
  op("StringToHashBucketStrong", 1, {0}, string_to_bucket_infer);
  op("AsString", 1, {0}, as_string_infer);
  std::vector<int> all;
  for (int i = 0; i < kMaxCrossInputs; ++i) all.push_back(i);
  op("SparseCross", -1, all, sparse_cross_infer);
  op("strata.CheckCategoryRange", 1, {}, check_range_infer);
  // Every device type and dtype (the kernel lookup's last resort, so a backend may still
  // register its own): the string ops read their inputs on the host (host_inputs; inference
  // checks the dtypes), and the range check copies its input there.
  add_kernel(r, "StringToHashBucketFast", "*", DType::kInvalid, [](KernelContext& c) { string_to_bucket(c, false); });
  add_kernel(r, "StringToHashBucketStrong", "*", DType::kInvalid, [](KernelContext& c) { string_to_bucket(c, true); });
  add_kernel(r, "AsString", "*", DType::kInvalid, as_string);
  add_kernel(r, "SparseCross", "*", DType::kInvalid, sparse_cross);
  add_kernel(r, "strata.CheckCategoryRange", "*", DType::kInvalid, check_range);
  add_kernel(r, "Equal", "*", DType::kInvalid, string_equal);
}

// ---- shared pieces ------------------------------------------------------------------------------

std::string subject(const Layer& layer) {
  return ConfigReader::subject_of(layer);
}

// `config` with tf-keras's default dtype for these layers: int64 when output_mode is "int",
// float32 otherwise; with output_mode "int", a non-integer dtype becomes int64 unless
// `refuse_float_int` (HashedCrossing refuses it instead, in its constructor).
Config with_output_dtype(const Config& config, bool refuse_float_int) {
  Config out = config.is_object() ? config : Config::object();
  const Config* mode = find_key(out, "output_mode");
  const bool int_mode = mode == nullptr || mode->is_null() || (mode->is_string() && mode->get<std::string>() == "int");
  const Config* dtype = find_key(out, "dtype");
  if (dtype == nullptr || dtype->is_null()) {
    out["dtype"] = int_mode ? "int64" : "float32";
  } else if (int_mode && !refuse_float_int && dtype->is_string()) {
    DType d = DType::kInvalid;
    try {
      d = dtype_from_name(dtype->get<std::string>());
    } catch (const Error&) {
      return out;  // the Layer constructor reports it
    }
    if (!is_integer(d)) out["dtype"] = "int64";
  }
  return out;
}

// sparse=True asks for a SparseTensor, which Strata does not have.
bool read_sparse(const ConfigReader& r, const Layer& layer) {
  const bool sparse = r.optional<bool>("sparse", false);
  STRATA_CHECK(
      !sparse, ValueError, subject(layer),
      ": sparse=True (a SparseTensor output) is not supported: Strata has no sparse tensors; use sparse=False");
  return sparse;
}

void require_integer_dtype_for_int(const Layer& layer, const std::string& mode) {
  STRATA_CHECK(mode != "int" || is_integer(layer.dtype()), ValueError, subject(layer),
               ": when output_mode='int', dtype should be an integer type; got dtype=", dtype_name(layer.dtype()));
}

// tf-keras's encode_categorical_inputs for dense outputs: "int" casts the indices to `dtype`;
// "one_hot" encodes each value (a last axis of size 1 is replaced by the encoding, any other
// last axis gets one appended); "multi_hot" and "count" encode each sample (the last axis)
// into one vector, 1 for present indices or their counts (weighted by `count_weights`, of the
// indices' shape, when given). Indices outside [0, depth) count nowhere. The encoded tensor
// may have rank 2 at most (ValueError naming the layer).
Tensor encode_categorical(const Layer& layer, const Tensor& indices, const std::string& mode, std::int64_t depth,
                          DType dtype, const Tensor& count_weights = {}) {
  if (mode == "int") return indices.dtype() == dtype ? identity(indices) : cast(indices, dtype);
  Tensor x = indices;
  Tensor weights = count_weights;
  if (x.rank() == 0) {
    x = expand_dims(x, -1);
    if (weights.defined() && weights.rank() == 0) weights = expand_dims(weights, -1);
  }
  if (mode == "one_hot" && x.shape().dims().back() != 1) x = expand_dims(x, -1);
  STRATA_CHECK(x.rank() <= 2, ValueError, subject(layer),
               ": when output_mode is not 'int', the maximum supported output rank is 2; output_mode '", mode,
               "' and input shape ", indices.shape().to_string(), " would give output rank ", x.rank());
  const DType work = dtype == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  Tensor hot = one_hot(x, depth, 1.0, 0.0, work);
  if (weights.defined()) {
    STRATA_CHECK(weights.rank() == x.rank(), ShapeError, subject(layer), ": count_weights of shape ",
                 weights.shape().to_string(), " do not match the input of shape ", indices.shape().to_string());
    hot = hot * expand_dims(weights.dtype() == work ? weights : cast(weights, work), -1);
  }
  Tensor counts = sum(hot, {static_cast<std::int64_t>(x.rank()) - 1});
  if (mode != "count") counts = minimum(counts, scalar_like(counts, 1.0));
  return counts.dtype() == dtype ? counts : cast(counts, dtype);
}

// ---- CategoryEncoding ---------------------------------------------------------------------------

class CategoryEncoding final : public Layer, public CallArgumentsLayer {
 public:
  explicit CategoryEncoding(const Config& c) : Layer("CategoryEncoding", c) {
    auto frame = ErrorContext::push("reading the config of CategoryEncoding layer '", name(), "'");
    const ConfigReader r(c, *this);
    // max_tokens: the spelling before num_tokens (tf-keras still reads it).
    const char* key = r.has("num_tokens") || !r.has("max_tokens") ? "num_tokens" : "max_tokens";
    const auto tokens = r.if_present<std::int64_t>(key);
    STRATA_CHECK(tokens.has_value(), ValueError, subject(*this),
                 ": num_tokens must be set to use this layer. If the number of tokens is not known beforehand, use "
                 "the IntegerLookup layer instead");
    STRATA_CHECK(*tokens >= 1, ValueError, subject(*this), ": num_tokens must be >= 1, got ", *tokens);
    num_tokens_ = *tokens;
    output_mode_ = r.optional("output_mode", "multi_hot");
    if (output_mode_ == "binary") output_mode_ = "multi_hot";
    output_mode_ = ConfigReader(Config{{"output_mode", output_mode_}}, *this)
                       .one_of("output_mode", {"count", "one_hot", "multi_hot"}, "multi_hot");
    read_sparse(r, *this);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Config arguments = state_.for_call(*this, inputs, default_arguments);
    const auto [x_index, weights_index] = parse(arguments, inputs.size());
    Tensor x = inputs.at(x_index);
    STRATA_CHECK(is_integer(x.dtype()) || is_floating(x.dtype()), ValueError, subject(*this),
                 ": takes integer (or floating) category indices, got ", dtype_name(x.dtype()));
    Tensor weights;
    if (weights_index) {
      weights = inputs.at(*weights_index);
      STRATA_CHECK(output_mode_ == "count", ValueError, subject(*this),
                   ": count_weights is not used when output_mode is not 'count'; got output_mode='", output_mode_, "'");
    }
    // Checked when the layer runs on values (Strata runs models layer by layer); a traced
    // graph (a SavedModel's functions) goes without the check, as TensorFlow would not know
    // the op (tf-keras's tf.Assert has no Strata counterpart).
    if (!x.is_symbolic()) {
      x = execute1("strata.CheckCategoryRange", {x}, Attrs{{"depth", num_tokens_}, {"subject", subject(*this)}});
    }
    if (!is_integer(x.dtype())) x = cast(x, DType::kInt64);  // tf.math.bincount truncates floats
    return {encode_categorical(*this, x, output_mode_, num_tokens_, dtype(), weights)};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["num_tokens"] = num_tokens_;
    c["output_mode"] = output_mode_;
    c["sparse"] = false;
    return c;
  }

  void set_call_arguments(const Config& arguments) override {
    state_.set(positional_as_keywords(arguments, {"count_weights"}, subject(*this)));
  }
  Config call_arguments() const override {
    return state_.latest([] { return default_arguments(1); });
  }

 private:
  static Config default_arguments(std::size_t inputs) {
    auto tensor = [](std::size_t i) { return Config{{"strata.tensor", i}}; };
    Config kwargs = Config::object();
    if (inputs > 1) kwargs["count_weights"] = tensor(1);
    return Config{{"args", Config::array({Config::array({tensor(0)})})}, {"kwargs", kwargs}};
  }

  // Which input is the indices and which (if any) the count weights.
  std::pair<std::size_t, std::optional<std::size_t>> parse(const Config& arguments, std::size_t inputs) const {
    const std::string who = subject(*this);
    STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                     arguments["args"].size() == 1,
                 FormatError, who, ": call arguments must be {\"args\": [inputs], \"kwargs\": {...}}, got ",
                 arguments.dump());
    Config first = arguments["args"][0];
    if (first.is_array()) {
      STRATA_CHECK(first.size() == 1, FormatError, who, ": is called on one tensor, got ", first.dump());
      first = first[0];
    }
    const std::size_t x = call_tensor_index(first, inputs, who, "the input");
    std::optional<std::size_t> weights;
    const Config kwargs = arguments.value("kwargs", Config::object());
    for (const auto& [key, v] : kwargs.items()) {
      if (key == "count_weights") {
        if (!v.is_null()) weights = call_tensor_index(v, inputs, who, "count_weights");
      } else {
        STRATA_THROW(FormatError, who, ": unknown call argument '", key, "' (", v.dump(), ")");
      }
    }
    STRATA_CHECK(inputs == 1 + (weights ? 1u : 0u), ValueError, who, ": is called with ", inputs,
                 " inputs; it takes the indices and optionally count_weights");
    return {x, weights};
  }

  std::int64_t num_tokens_ = 0;
  std::string output_mode_;
  CallArgumentsState state_;
};

// ---- Discretization -----------------------------------------------------------------------------

// TensorFlow's Bucketize: the index of the first boundary greater than the value (std::upper_bound;
// a value equal to a boundary goes to the bucket above it, NaN to the last bucket). Boundaries
// are float32 (the op's attribute type); integer inputs compare as float32, float64 as float64.
Tensor bucketize(const Tensor& x, const std::vector<float>& boundaries) {
  const DType work = x.dtype() == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  const Tensor values = x.dtype() == work ? x : cast(x, work);
  if (boundaries.empty()) return cast(zeros_like(values), DType::kInt64);
  Tensor b = Tensor::from_vector<float>(boundaries, Shape{static_cast<std::int64_t>(boundaries.size())});
  if (work != DType::kFloat32) b = cast(b, work);
  // not(value < boundary) counts the boundaries at or below the value, and every one for NaN.
  const Tensor at_or_below = logical_not(less(expand_dims(values, -1), b));
  return sum(cast(at_or_below, DType::kInt64), {static_cast<std::int64_t>(values.rank())});
}

// An adapted tf-keras Discretization's boundaries from its `summary` (2, n) (the values, then
// their weights), as tf-keras's finalize_state derives them: get_bin_boundaries(summary,
// num_bins) = compress(summary, 1 / num_bins)[0, :-1], with compress's numpy arithmetic
// (float32 cumulative weights and percentages, np.interp in float64, the result float32).
std::vector<float> boundaries_from_summary(const std::vector<float>& values, const std::vector<float>& weights,
                                           std::int64_t num_bins) {
  const std::size_t n = values.size();
  if (n == 0) return {};
  const double epsilon = 1.0 / static_cast<double>(num_bins);
  std::vector<float> bins;
  if (static_cast<double>(n) * epsilon < 1.0) {
    bins = values;  // small enough: compress returns the summary as it is
  } else {
    std::vector<float> cum(n);
    float total = 0.0f;
    for (std::size_t i = 0; i < n; ++i) cum[i] = total = total + weights[i];
    std::vector<double> xp(n), fp(n);
    for (std::size_t i = 0; i < n; ++i) {
      xp[i] = static_cast<double>(cum[i] / cum[n - 1]);
      fp[i] = static_cast<double>(values[i]);
    }
    // percents = epsilon + np.arange(0.0, 1.0, epsilon): ceil(1 / epsilon) elements i * epsilon.
    const auto count = static_cast<std::size_t>(std::ceil(1.0 / epsilon));
    bins.reserve(count);
    for (std::size_t k = 0; k < count; ++k) {
      const double x = epsilon + static_cast<double>(k) * epsilon;
      // np.interp: fp[0] left of xp, fp[-1] at or right of its end, else the segment's line.
      const auto j = static_cast<std::ptrdiff_t>(std::upper_bound(xp.begin(), xp.end(), x) - xp.begin()) - 1;
      double y;
      if (j < 0) {
        y = fp[0];
      } else if (static_cast<std::size_t>(j) >= n - 1) {
        y = fp[n - 1];
      } else if (xp[static_cast<std::size_t>(j)] == x) {
        y = fp[static_cast<std::size_t>(j)];
      } else {
        const auto a = static_cast<std::size_t>(j);
        const double slope = (fp[a + 1] - fp[a]) / (xp[a + 1] - xp[a]);
        y = slope * (x - xp[a]) + fp[a];
        if (std::isnan(y)) {
          y = slope * (x - xp[a + 1]) + fp[a + 1];
          if (std::isnan(y) && fp[a] == fp[a + 1]) y = fp[a];
        }
      }
      bins.push_back(static_cast<float>(y));
    }
  }
  bins.pop_back();  // [0, :-1]
  return bins;
}

class Discretization final : public Layer {
 public:
  explicit Discretization(const Config& c) : Layer("Discretization", with_output_dtype(c, false)) {
    auto frame = ErrorContext::push("reading the config of Discretization layer '", name(), "'");
    const ConfigReader r(c, *this);
    output_mode_ = r.one_of("output_mode", {"int", "one_hot", "multi_hot", "count"}, "int");
    require_integer_dtype_for_int(*this, output_mode_);
    STRATA_CHECK(!(r.optional<bool>("sparse", false) && output_mode_ == "int"), ValueError, subject(*this),
                 ": sparse may only be true if output_mode is 'one_hot', 'multi_hot' or 'count'");
    read_sparse(r, *this);
    // "bins": the deprecated spelling of num_bins (an int) or bin_boundaries (a list).
    Config boundaries = r.optional<Config>("bin_boundaries", Config(nullptr));
    Config bins = r.optional<Config>("num_bins", Config(nullptr));
    if (const Config* old = r.find("bins"); old != nullptr && !old->is_null()) {
      if (old->is_number_integer() && bins.is_null()) {
        bins = *old;
      } else if (boundaries.is_null()) {
        boundaries = *old;
      }
    }
    if (!bins.is_null()) {
      num_bins_ = ConfigReader(Config{{"num_bins", bins}}, *this).required<std::int64_t>("num_bins");
      STRATA_CHECK(*num_bins_ >= 0, ValueError, subject(*this), ": num_bins must be greater than or equal to 0, got ",
                   *num_bins_);
    }
    // Keras 3 writes both once adapted (its from_config applies the boundaries after
    // construction); tf-keras refuses both.
    STRATA_CHECK(!(num_bins_ && !boundaries.is_null()) || written_by_keras3(c), ValueError, subject(*this),
                 ": both num_bins and bin_boundaries should not be set; got num_bins=", *num_bins_,
                 " and bin_boundaries=", boundaries.dump());
    if (!boundaries.is_null()) {
      const auto values = ConfigReader(Config{{"bin_boundaries", boundaries}}, *this).number_list("bin_boundaries");
      STRATA_CHECK(boundaries.is_array() && values, FormatError, subject(*this),
                   ": bin_boundaries must be a list of numbers, got ", boundaries.dump());
      for (const double v : *values) boundaries_.push_back(static_cast<float>(v));
      STRATA_CHECK(std::is_sorted(boundaries_.begin(), boundaries_.end()), ValueError, subject(*this),
                   ": bin_boundaries must be sorted in increasing order, got ", boundaries.dump());
      input_boundaries_ = boundaries;
    }
    epsilon_ = r.number("epsilon", Config(0.01));
    keras3_ = written_by_keras3(c);
  }

  void build(const std::vector<Shape>& shapes) override {
    single_shape(*this, shapes);
    if (!input_boundaries_.is_null()) return;
    // Keras 3 keeps no summary weight (its adapted layers write bin_boundaries).
    STRATA_CHECK(!keras3_, ValueError, subject(*this),
                 ": has no bin_boundaries in its Keras 3 config (the layer was never adapted)");
    // tf-keras keeps an adapted layer's state in a float32 weight "summary" of shape (2, None)
    // (the values, then their weights), whose length depends on the adapted data (up to
    // 1/epsilon columns); the boundaries come from it (finalize_state). Made empty here, it
    // takes the file's shape when a model is loaded (strata/plugin/file_shaped_weights.hpp).
    summary_ = add_weight("summary", Shape({2, 0}), get_initializer(Config("zeros")), /*trainable=*/false, nullptr,
                          nullptr, DType::kFloat32);
    set_file_shaped(summary_, Shape({2, Shape::kUnknown}));
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    STRATA_CHECK(is_integer(x.dtype()) || is_floating(x.dtype()), ValueError, subject(*this),
                 ": takes numeric inputs, got ", dtype_name(x.dtype()));
    // An adapted layer's boundaries are derived from its summary as it is now (the value a
    // load assigned), and are constants of a trace, as in tf-keras.
    const std::vector<float> adapted = input_boundaries_.is_null() ? summary_boundaries() : std::vector<float>();
    const std::vector<float>& boundaries = input_boundaries_.is_null() ? adapted : boundaries_;
    const auto depth = static_cast<std::int64_t>(boundaries.size()) + 1;
    return {encode_categorical(*this, bucketize(x, boundaries), output_mode_, depth, dtype())};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["bin_boundaries"] = input_boundaries_;
    c["num_bins"] = num_bins_ ? Config(*num_bins_) : Config(nullptr);
    c["epsilon"] = epsilon_;
    c["output_mode"] = output_mode_;
    c["sparse"] = false;
    return c;
  }

 private:
  std::vector<float> summary_boundaries() const {
    if (!summary_.defined()) return {};
    const Tensor summary = summary_.value().to(Device::cpu());
    const std::int64_t n = summary.shape()[1];
    if (n == 0) return {};
    STRATA_CHECK(num_bins_ && *num_bins_ > 0, ValueError, subject(*this),
                 ": an adapted layer (a non-empty 'summary') needs num_bins greater than 0");
    const auto all = summary.to_vector<float>();
    const std::vector<float> values(all.begin(), all.begin() + n), weights(all.begin() + n, all.end());
    return boundaries_from_summary(values, weights, *num_bins_);
  }

  Config input_boundaries_;  // as the config gave them; null when none
  std::vector<float> boundaries_;
  Variable summary_;  // an adapted layer's state (no bin_boundaries in the config)
  bool keras3_ = false;
  std::optional<std::int64_t> num_bins_;
  Config epsilon_;
  std::string output_mode_;
};

// ---- Hashing ------------------------------------------------------------------------------------

class Hashing final : public Layer {
 public:
  explicit Hashing(const Config& c) : Layer("Hashing", with_output_dtype(c, false)) {
    auto frame = ErrorContext::push("reading the config of Hashing layer '", name(), "'");
    const ConfigReader r(c, *this);
    const auto bins = r.if_present<std::int64_t>("num_bins");
    STRATA_CHECK(bins && *bins > 0, ValueError, subject(*this),
                 ": num_bins cannot be None or non-positive; got num_bins=", bins ? std::to_string(*bins) : "None");
    num_bins_ = *bins;
    output_mode_ = r.one_of("output_mode", {"int", "one_hot", "multi_hot", "count"}, "int");
    require_integer_dtype_for_int(*this, output_mode_);
    STRATA_CHECK(!(r.optional<bool>("sparse", false) && output_mode_ == "int"), ValueError, subject(*this),
                 ": sparse may only be true if output_mode is 'one_hot', 'multi_hot' or 'count'");
    read_sparse(r, *this);
    mask_value_ = r.optional<Config>("mask_value", Config(nullptr));
    STRATA_CHECK(mask_value_.is_null() || mask_value_.is_string() || mask_value_.is_number_integer(), ValueError,
                 subject(*this), ": mask_value must be a string or an integer, got ", mask_value_.dump());
    const Config salt = r.optional<Config>("salt", Config(nullptr));
    if (!salt.is_null()) {
      if (salt.is_number_integer()) {
        salt_ = {salt.get<std::int64_t>(), salt.get<std::int64_t>()};
      } else {
        STRATA_CHECK(
            salt.is_array() && salt.size() == 2 && salt[0].is_number_integer() && salt[1].is_number_integer(),
            ValueError, subject(*this),
            ": the salt argument can only be a tuple of size 2 integers, or a single integer; got salt=", salt.dump());
        salt_ = {salt[0].get<std::int64_t>(), salt[1].get<std::int64_t>()};
      }
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    const bool strings = x.dtype() == DType::kString;
    STRATA_CHECK(strings || is_integer(x.dtype()), ValueError, subject(*this),
                 ": hashes string or integer inputs, got ", dtype_name(x.dtype()));
    std::int64_t bins = num_bins_;
    Tensor mask;
    if (!mask_value_.is_null() && bins > 1) {
      --bins;
      mask = mask_of(x);
    }
    const Tensor text = strings ? x : execute1("AsString", {x});
    Tensor hashed = salt_.empty()
                        ? execute1("StringToHashBucketFast", {text}, Attrs{{"num_buckets", bins}})
                        : execute1("StringToHashBucketStrong", {text}, Attrs{{"num_buckets", bins}, {"key", salt_}});
    if (mask.defined()) {
      const Tensor shifted = hashed + scalar_like(hashed, 1.0);
      hashed = select(mask, zeros_like(shifted), shifted);
    }
    return {encode_categorical(*this, hashed, output_mode_, num_bins_, dtype())};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["num_bins"] = num_bins_;
    c["salt"] = salt_.empty() ? Config(nullptr) : int_list(salt_);
    c["mask_value"] = mask_value_;
    c["output_mode"] = output_mode_;
    c["sparse"] = false;
    return c;
  }

 private:
  // Where x equals mask_value (tf.equal): integers compare as numbers, strings as bytes.
  Tensor mask_of(const Tensor& x) const {
    if (x.dtype() == DType::kString) {
      STRATA_CHECK(mask_value_.is_string(), ValueError, subject(*this), ": mask_value ", mask_value_.dump(),
                   " cannot be compared with string inputs; give a string mask_value");
      return equal(x, Tensor::from_strings({mask_value_.get<std::string>()}, Shape{}));
    }
    STRATA_CHECK(mask_value_.is_number_integer(), ValueError, subject(*this), ": mask_value ", mask_value_.dump(),
                 " cannot be compared with integer inputs; give an integer mask_value");
    const Tensor value = Tensor::scalar<std::int64_t>(mask_value_.get<std::int64_t>());
    return equal(x, x.dtype() == DType::kInt64 ? value : cast(value, x.dtype()));
  }

  std::int64_t num_bins_ = 0;
  std::string output_mode_;
  Config mask_value_;
  std::vector<std::int64_t> salt_;  // empty: no salt (the fast hash)
};

// ---- HashedCrossing -----------------------------------------------------------------------------

class HashedCrossing final : public Layer {
 public:
  explicit HashedCrossing(const Config& c) : Layer("HashedCrossing", with_output_dtype(c, true)) {
    auto frame = ErrorContext::push("reading the config of HashedCrossing layer '", name(), "'");
    const ConfigReader r(c, *this);
    num_bins_ = r.required<std::int64_t>("num_bins", Range::positive());
    output_mode_ = r.one_of("output_mode", {"int", "one_hot"}, "int");
    require_integer_dtype_for_int(*this, output_mode_);
    read_sparse(r, *this);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(inputs.size() >= 2, ValueError, subject(*this), ": should be called on at least two inputs, got ",
                 inputs.size());
    STRATA_CHECK(inputs.size() <= static_cast<std::size_t>(kMaxCrossInputs), ValueError, subject(*this),
                 ": crosses at most ", kMaxCrossInputs, " inputs, got ", inputs.size());
    const Shape& first = inputs[0].shape();
    STRATA_CHECK(first.rank() <= 2 && (first.rank() < 2 || first.dims()[1] == 1), ValueError, subject(*this),
                 ": all inputs should have shape [], [batch_size] or [batch_size, 1]; got ", first.to_string());
    for (const auto& in : inputs) {
      STRATA_CHECK(in.shape().dims() == first.dims(), ValueError, subject(*this),
                   ": all inputs should have equal shape; got ", first.to_string(), " and ", in.shape().to_string());
      STRATA_CHECK(is_integer(in.dtype()) || in.dtype() == DType::kString, ValueError, subject(*this),
                   ": all inputs should have an integer or string dtype; got ", dtype_name(in.dtype()));
    }
    // tf.sparse.cross_hashed on [batch, 1] columns (int64 or string), its values back in the
    // inputs' shape.
    std::vector<Tensor> columns;
    for (const auto& in : inputs) {
      const Tensor column = in.dtype() == DType::kString || in.dtype() == DType::kInt64 ? in : cast(in, DType::kInt64);
      columns.push_back(reshape(column, Shape{-1, 1}));
    }
    const Attrs attrs{{"N", std::int64_t{0}},
                      {"hashed_output", true},
                      {"num_buckets", num_bins_},
                      {"hash_key", static_cast<std::int64_t>(kCrossHashKey)},
                      {"sparse_types", std::vector<std::int64_t>{}},
                      {"out_type", DType::kInt64},
                      {"internal_type", std::any_of(inputs.begin(), inputs.end(),
                                                    [](const Tensor& t) { return t.dtype() == DType::kString; })
                                            ? DType::kString
                                            : DType::kInt64}};
    const Tensor values = execute("SparseCross", columns, attrs)[1];
    const Tensor crossed = first.rank() == 1 ? values : reshape(values, first.rank() == 2 ? Shape{-1, 1} : Shape{});
    return {encode_categorical(*this, crossed, output_mode_, num_bins_, dtype())};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["num_bins"] = num_bins_;
    c["output_mode"] = output_mode_;
    c["sparse"] = false;
    return c;
  }

 private:
  std::int64_t num_bins_ = 0;
  std::string output_mode_;
};

}  // namespace

void register_encoding_layers(Registrar& registrar) {
  register_encoding_ops(registrar);
  register_layer<CategoryEncoding>(registrar, "CategoryEncoding");
  register_layer<Discretization>(registrar, "Discretization");
  register_layer<Hashing>(registrar, "Hashing");
  register_layer<HashedCrossing>(registrar, "HashedCrossing");
}

}  // namespace strata::layers
