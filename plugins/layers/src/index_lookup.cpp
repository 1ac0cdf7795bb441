// StringLookup and IntegerLookup (tf-keras's index_lookup.py, string_lookup.py,
// integer_lookup.py), and the op strata.LookupTableFind they look tokens up with.
#include "index_lookup.hpp"

#include "fingerprint.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <unordered_map>

#include "strata/log.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::layers {
namespace {

constexpr const char* kFindOp = "strata.LookupTableFind";
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
// Most bytes a vocabulary file named by a config may have (untrusted input).
constexpr std::size_t kMaxVocabularyFileBytes = std::size_t{1} << 30;

// ---- strata.LookupTableFind -----------------------------------------------------------------
//
// Inputs: keys [n] (string, int64 or int32), values [n] (int64 or string), x (keys' dtype, any
// shape), default (scalar, values' dtype). Output: x's shape, values' dtype: the value of each
// element's key, else (num_oov_buckets > 1, integer keys) oov_start + floormod(x,
// num_oov_buckets), else the default; with oov_error a missing key is a ValueError naming
// `layer`. Every input is a host input; the output goes to the device the op runs on.

OpDef find_def() {
  OpDef d;
  d.name = kFindOp;
  d.num_inputs = 4;
  d.host_inputs = {0, 1, 2, 3};
  d.kernel_dtype_input = 2;
  d.not_differentiable = true;
  d.infer = [](const InferContext& c) -> std::vector<TensorMeta> {
    STRATA_CHECK(c.dtype(0) == c.dtype(2), ValueError, kFindOp, ": keys are ", dtype_name(c.dtype(0)),
                 " but the looked-up tensor is ", dtype_name(c.dtype(2)));
    STRATA_CHECK(c.dtype(1) == c.dtype(3), ValueError, kFindOp, ": values and default need one dtype");
    return {{c.dtype(1), c.shape(2)}};
  };
  return d;
}

// One hash table per (keys, values) pair of buffers, built on first use and kept while the
// buffers live (a layer's table tensors live as long as the layer).
struct TableKey {
  const void* keys;
  const void* values;
  bool operator==(const TableKey&) const = default;
};
struct TableKeyHash {
  std::size_t operator()(const TableKey& k) const noexcept {
    return std::hash<const void*>()(k.keys) * 31 ^ std::hash<const void*>()(k.values);
  }
};
struct CachedTable {
  std::weak_ptr<Buffer> keys, values;
  std::shared_ptr<const void> table;
};

template <class K>
using Table = std::unordered_map<K, std::size_t>;

template <class K>
std::vector<K> key_values(const Tensor& t) {
  if constexpr (std::is_same_v<K, std::string>) {
    const auto s = t.strings();
    return {s.begin(), s.end()};
  } else {
    return t.to_vector<K>();
  }
}

template <class K>
std::shared_ptr<const Table<K>> table_for(const Tensor& keys, const Tensor& values) {
  static std::mutex mutex;
  static std::unordered_map<TableKey, CachedTable, TableKeyHash> cache;
  const TableKey key{keys.buffer().get(), values.buffer().get()};
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) {
    if (!it->second.keys.expired() && !it->second.values.expired()) {
      return std::static_pointer_cast<const Table<K>>(it->second.table);
    }
  }
  for (auto it = cache.begin(); it != cache.end();) {
    it = it->second.keys.expired() || it->second.values.expired() ? cache.erase(it) : std::next(it);
  }
  auto table = std::make_shared<Table<K>>();
  const auto k = key_values<K>(keys);
  table->reserve(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) table->emplace(k[i], i);
  cache[key] = {keys.buffer(), values.buffer(), table};
  return table;
}

template <class K>
std::string describe_key(const K& k) {
  if constexpr (std::is_same_v<K, std::string>) {
    return "'" + k + "'";
  } else {
    return std::to_string(k);
  }
}

template <class K>
void find_kernel(KernelContext& ctx) {
  const Tensor& keys = ctx.input(0);
  const Tensor& values = ctx.input(1);
  const Tensor& x = ctx.input(2);
  STRATA_CHECK(keys.rank() == 1 && values.rank() == 1 && keys.num_elements() == values.num_elements(), ValueError,
               kFindOp, ": keys and values must be vectors of one length");
  const auto table = table_for<K>(keys, values);
  const auto num_buckets = ctx.attrs().get_or<std::int64_t>("num_oov_buckets", 0);
  const auto oov_start = ctx.attrs().get_or<std::int64_t>("oov_start", 0);
  const bool oov_error = ctx.attrs().get_or<bool>("oov_error", false);
  const auto xs = key_values<K>(x);
  const auto n = xs.size();
  // Index into values, or -1 for a miss.
  std::vector<std::int64_t> found(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto it = table->find(xs[i]);
    found[i] = it == table->end() ? -1 : static_cast<std::int64_t>(it->second);
    STRATA_CHECK(found[i] >= 0 || !oov_error, ValueError, ctx.attrs().get_or<std::string>("layer", "lookup"),
                 ": when num_oov_indices=0 all inputs should be in the vocabulary, found the OOV value ",
                 describe_key(xs[i]), "; consider setting num_oov_indices=1");
  }
  if (values.dtype() == DType::kString) {
    const auto v = values.strings();
    const std::string fallback = ctx.input(3).strings()[0];
    std::vector<std::string> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = found[i] < 0 ? fallback : v[static_cast<std::size_t>(found[i])];
    ctx.set_output(0, Tensor::from_strings(out, x.shape()));
    return;
  }
  STRATA_CHECK(values.dtype() == DType::kInt64, ValueError, kFindOp, ": values must be int64 or string, got ",
               dtype_name(values.dtype()));
  const auto v = values.to_vector<std::int64_t>();
  const auto fallback = ctx.input(3).item<std::int64_t>();
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (found[i] >= 0) {
      out[i] = v[static_cast<std::size_t>(found[i])];
    } else if constexpr (!std::is_same_v<K, std::string>) {
      if (num_buckets > 1) {
        const auto value = static_cast<std::int64_t>(xs[i]);
        out[i] = oov_start + ((value % num_buckets) + num_buckets) % num_buckets;  // Python's floormod
      } else {
        out[i] = fallback;
      }
    } else if (num_buckets > 1) {
      // tf.strings.to_hash_bucket_fast: FarmHash Fingerprint64 modulo the bucket count.
      out[i] = oov_start + static_cast<std::int64_t>(fingerprint64(xs[i]) % static_cast<std::uint64_t>(num_buckets));
    } else {
      out[i] = fallback;
    }
  }
  Tensor& result = ctx.allocate_output(0);
  if (result.host_accessible()) {
    std::copy(out.begin(), out.end(), result.mutable_host_data<std::int64_t>());
  } else {
    ctx.set_output(0, Tensor::from_vector<std::int64_t>(out, x.shape(), Device::cpu()).to(result.device()));
  }
}

// ---- config values ----------------------------------------------------------------------------

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// tf-keras's listify_tensors: a list stays a list; Keras 3 and H5 may wrap it.
const Config* as_list(const Config& v) {
  if (v.is_array()) return &v;
  if (v.is_object() && v.contains("class_name") && v["class_name"] == "__tuple__" && v.contains("items") &&
      v["items"].is_array()) {
    return &v["items"];
  }
  return nullptr;
}

std::vector<std::string> split_lines(std::string_view text) {
  // TextFileInitializer's lines: '\n'-separated, a final '\n' ends the last line, '\r' before it
  // is dropped.
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    start = end + 1;
  }
  return out;
}

}  // namespace

void register_lookup_ops(Registrar& registrar) {
  registrar.add<ObjectKind::kOp>(kFindOp, find_def());
  // One kernel for every device type (the dispatcher matches "*" only with any dtype).
  add_kernel(registrar, kFindOp, "*", DType::kInvalid, [](KernelContext& ctx) {
    switch (ctx.input(2).dtype()) {
      case DType::kString:
        return find_kernel<std::string>(ctx);
      case DType::kInt64:
        return find_kernel<std::int64_t>(ctx);
      case DType::kInt32:
        return find_kernel<std::int32_t>(ctx);
      default:
        STRATA_THROW(ValueError, kFindOp, ": keys must be string, int64 or int32, got ",
                     dtype_name(ctx.input(2).dtype()));
    }
  });
}

// ---- IndexLookup --------------------------------------------------------------------------------

IndexLookup::IndexLookup(std::string class_name, const Config& c, bool string_tokens)
    : Layer(std::move(class_name),
            [&] {
              // tf-keras: the output dtype defaults to int64 in int mode and floatx otherwise; a
              // legacy StringLookup dtype "string" is dropped.
              Config base = c.is_object() ? c : Config::object();
              const std::string mode = base.value("output_mode", Config("int")).is_string()
                                           ? lower(base.value("output_mode", Config("int")).get<std::string>())
                                           : std::string("int");
              const Config* dtype = find_key(base, "dtype");
              const bool drop = dtype == nullptr || (dtype->is_string() && dtype->get<std::string>() == "string");
              if (drop) base["dtype"] = mode == "int" ? "int64" : "float32";
              return base;
            }()),
      string_tokens_(string_tokens) {
  auto frame = ErrorContext::push("reading the config of ", ConfigReader::subject_of(*this));
  const ConfigReader r(c, *this);
  invert_ = r.optional<bool>("invert", false);
  max_tokens_ = r.if_present<std::int64_t>("max_tokens");
  STRATA_CHECK(!max_tokens_ || *max_tokens_ > 1, ValueError,
               r.describe(detail::concat("if set, max_tokens must be greater than 1, got ", *max_tokens_)));
  num_oov_indices_ = r.optional<std::int64_t>("num_oov_indices", 1, Range::non_negative());
  if (string_tokens_) {
    vocabulary_dtype_ = "string";
    encoding_ = r.optional("encoding", "utf-8");
    STRATA_CHECK(lower(encoding_) == "utf-8" || lower(encoding_) == "utf8", ValueError,
                 r.describe("only the utf-8 encoding is supported, got '" + encoding_ + "'"));
  } else {
    vocabulary_dtype_ = r.optional("vocabulary_dtype", "int64");
    STRATA_CHECK(vocabulary_dtype_ == "int64" || vocabulary_dtype_ == "int32", ValueError,
                 r.describe("vocabulary_dtype must be int64 or int32, got '" + vocabulary_dtype_ + "'"));
  }
  mask_token_config_ = c.value("mask_token", Config());
  oov_token_config_ = c.contains("oov_token") ? c["oov_token"] : (string_tokens_ ? Config("[UNK]") : Config(-1));
  if (!mask_token_config_.is_null()) mask_token_ = token_text(mask_token_config_, "mask_token");
  if (!oov_token_config_.is_null()) oov_token_ = token_text(oov_token_config_, "oov_token");
  output_mode_ = lower(r.optional("output_mode", "int"));
  if (output_mode_ == "binary") output_mode_ = "multi_hot";
  if (output_mode_ == "tf-idf") output_mode_ = "tf_idf";
  STRATA_CHECK(
      output_mode_ == "int" || output_mode_ == "one_hot" || output_mode_ == "multi_hot" || output_mode_ == "count" ||
          output_mode_ == "tf_idf",
      ValueError,
      r.describe("output_mode must be one of int, one_hot, multi_hot, count, tf_idf, got '" + output_mode_ + "'"));
  STRATA_CHECK(!invert_ || output_mode_ == "int", ValueError,
               r.describe("output_mode must be 'int' when invert is true, got '" + output_mode_ + "'"));
  sparse_ = r.optional<bool>("sparse", false);
  STRATA_CHECK(!sparse_, ValueError, r.describe("sparse outputs are not supported (Strata has no SparseTensor)"));
  pad_to_max_tokens_ = r.optional<bool>("pad_to_max_tokens", false);
  STRATA_CHECK(!pad_to_max_tokens_ || max_tokens_, ValueError,
               r.describe("if pad_to_max_tokens is true, max_tokens must be set"));
  for (const char* key : {"oov_method", "salt"}) {
    if (c.is_object() && c.contains(key)) keras3_extra_[key] = c[key];
  }
  if (c.is_object() && c.contains("oov_method") && c["oov_method"].is_string() && c["oov_method"] != "floormod") {
    STRATA_THROW(ValueError, r.describe("oov_method '" + c["oov_method"].get<std::string>() +
                                        "' is not supported (only 'floormod')"));
  }
  idf_config_ = c.value("idf_weights", Config());
  STRATA_CHECK(idf_config_.is_null() || output_mode_ == "tf_idf", ValueError,
               r.describe("idf_weights should only be set if output_mode is 'tf_idf'"));
  vocabulary_config_ = c.value("vocabulary", Config());
  has_input_vocabulary_ = c.is_object() && c.contains("has_input_vocabulary") && c["has_input_vocabulary"].is_boolean()
                              ? c["has_input_vocabulary"].get<bool>()
                              : !vocabulary_config_.is_null();
  // vocabulary_size: written back from the vocabulary; read only as the output width of a layer
  // whose vocabulary comes later (assets, a SavedModel's lookup table), as tf-keras does.
  if (vocabulary_config_.is_null()) {
    frozen_size_ = r.if_present<std::int64_t>("vocabulary_size", Range::closed(0, static_cast<double>(std::int64_t{1} << 40)));
  }

  if (vocabulary_config_.is_string()) {
    // A file with one token per line (tf-keras's TextFileInitializer): the tokens as they are,
    // without special-token detection or checks.
    STRATA_CHECK(output_mode_ != "tf_idf", ValueError,
                 r.describe("output_mode 'tf_idf' does not support loading a vocabulary from file"));
    const std::string path = vocabulary_config_.get<std::string>();
    std::error_code ec;
    STRATA_CHECK(std::filesystem::is_regular_file(path, ec), ValueError,
                 r.describe("vocabulary file '" + path + "' does not exist"));
    tokens_ = split_lines(read_file(path, kMaxVocabularyFileBytes));
    if (!string_tokens_) {
      for (auto& t : tokens_) t = token_text(Config(t), "vocabulary");
    }
    rebuild_tables();
  } else if (!vocabulary_config_.is_null()) {
    const Config* list = as_list(vocabulary_config_);
    STRATA_CHECK(list != nullptr, ValueError,
                 r.describe("vocabulary must be a list of tokens or a file path, got " + vocabulary_config_.dump()));
    std::vector<std::string> tokens;
    for (const auto& t : *list) tokens.push_back(token_text(t, "vocabulary"));
    std::optional<std::vector<double>> idf;
    if (output_mode_ == "tf_idf") {
      STRATA_CHECK(!idf_config_.is_null(), ValueError,
                   r.describe("idf_weights must be set if output_mode is 'tf_idf' and a vocabulary is given"));
      const Config* w = as_list(idf_config_);
      STRATA_CHECK(w != nullptr, ValueError, r.describe("idf_weights must be a list of numbers"));
      idf.emplace();
      for (const auto& x : *w) {
        STRATA_CHECK(x.is_number(), ValueError, r.describe("idf_weights must be a list of numbers"));
        idf->push_back(x.get<double>());
      }
    }
    set_vocabulary(tokens, idf);
  } else {
    rebuild_tables();
  }
  // tf_idf: the idf weights are the layer's one (non-trainable) weight, as in tf-keras. Without
  // a vocabulary their length is known once the assets are read (or is max_tokens).
  if (output_mode_ == "tf_idf" && (pad_to_max_tokens_ || frozen_size_)) ensure_idf_weight(depth());
}

std::int64_t IndexLookup::depth() const {
  if (pad_to_max_tokens_) return *max_tokens_;
  if (tokens_.empty() && frozen_size_) return *frozen_size_;
  return vocabulary_size();
}

void IndexLookup::ensure_idf_weight(std::int64_t length) {
  if (idf_weights_.defined()) {
    STRATA_CHECK(idf_weights_.shape() == Shape{length}, ValueError, ConfigReader::subject_of(*this), ": has ",
                 idf_weights_.shape().to_string(), " idf weights, but its vocabulary needs ", length);
    return;
  }
  WeightSpec spec;
  spec.name = "idf_weights";
  spec.shape = Shape{length};
  spec.initializer = initializer_at(Config::object(), "idf", "zeros");
  spec.trainable = false;
  spec.dtype = is_floating(dtype()) ? dtype() : DType::kFloat32;
  // tf-keras's idf weights are an unnamed tf.Variable ("Variable"), tracked as `idf_weights`.
  idf_weights_ = add_weight(spec, "Variable");
}

std::string IndexLookup::token_text(const Config& v, const char* key) const {
  if (string_tokens_) {
    STRATA_CHECK(v.is_string(), ValueError, ConfigReader::subject_of(*this), ": ", key, " must hold strings, got ",
                 v.dump());
    return v.get<std::string>();
  }
  std::int64_t value = 0;
  if (v.is_number_integer()) {
    value = v.get<std::int64_t>();
  } else if (v.is_number_float() &&
             v.get<double>() == static_cast<double>(static_cast<std::int64_t>(v.get<double>()))) {
    value = static_cast<std::int64_t>(v.get<double>());
  } else if (v.is_string()) {
    const std::string s = v.get<std::string>();
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    STRATA_CHECK(ec == std::errc() && p == s.data() + s.size(), ValueError, ConfigReader::subject_of(*this), ": ", key,
                 " holds '", s, "', which is no integer");
  } else {
    STRATA_THROW(ValueError, ConfigReader::subject_of(*this), ": ", key, " must hold integers, got ", v.dump());
  }
  if (vocabulary_dtype_ == "int32") {
    STRATA_CHECK(value >= std::numeric_limits<std::int32_t>::min() && value <= std::numeric_limits<std::int32_t>::max(),
                 ValueError, ConfigReader::subject_of(*this), ": ", key, " value ", value, " does not fit int32");
  }
  return std::to_string(value);
}

DType IndexLookup::key_dtype() const {
  if (invert_) return DType::kInt64;
  if (string_tokens_) return DType::kString;
  return vocabulary_dtype_ == "int32" ? DType::kInt32 : DType::kInt64;
}

DType IndexLookup::output_dtype() const {
  if (invert_) return string_tokens_ ? DType::kString : (vocabulary_dtype_ == "int32" ? DType::kInt32 : DType::kInt64);
  if (output_mode_ == "int") return is_integer(dtype()) ? dtype() : DType::kInt64;
  return is_floating(dtype()) ? dtype() : DType::kFloat32;
}

void IndexLookup::set_vocabulary(const std::vector<std::string>& vocabulary,
                                 const std::optional<std::vector<double>>& idf) {
  const std::string subject = ConfigReader::subject_of(*this);
  STRATA_CHECK(!vocabulary.empty(), ValueError, subject, ": cannot set an empty vocabulary");
  const auto oov_start = static_cast<std::size_t>(oov_start_index());
  const auto token_start = static_cast<std::size_t>(token_start_index());
  // The special tokens at the start, as get_vocabulary() returns them, are dropped.
  std::vector<std::optional<std::string>> special(oov_start, mask_token_);
  special.insert(special.end(), static_cast<std::size_t>(num_oov_indices_), oov_token_);
  bool found_special = vocabulary.size() >= token_start;
  for (std::size_t i = 0; found_special && i < token_start; ++i)
    found_special = special[i] && *special[i] == vocabulary[i];
  std::vector<std::string> tokens(vocabulary.begin() + (found_special ? static_cast<std::ptrdiff_t>(token_start) : 0),
                                  vocabulary.end());
  std::set<std::string> seen, repeated;
  for (const auto& t : tokens) {
    if (!seen.insert(t).second) repeated.insert(t);
  }
  if (!repeated.empty()) {
    std::string list;
    for (const auto& t : repeated) list += (list.empty() ? "'" : ", '") + t + "'";
    STRATA_THROW(ValueError, subject, ": the vocabulary has repeated terms (", list, "); uniquify it");
  }
  STRATA_CHECK(!mask_token_ || !seen.count(*mask_token_), ValueError, subject, ": found the reserved mask token '",
               *mask_token_,
               "' at an unexpected location in the vocabulary; the vocabulary need not include the mask and OOV "
               "tokens, or must include them only at its start, in this order");
  STRATA_CHECK(!invert_ || !oov_token_ || !seen.count(*oov_token_), ValueError, subject,
               ": found the reserved OOV token '", *oov_token_,
               "' at an unexpected location in the vocabulary; the vocabulary need not include the mask and OOV "
               "tokens, or must include them only at its start, in this order");
  const auto size = static_cast<std::int64_t>(token_start + tokens.size());
  STRATA_CHECK(!max_tokens_ || size <= *max_tokens_, ValueError, subject, ": the vocabulary (", size,
               " entries with the special tokens) is larger than max_tokens ", *max_tokens_);
  tokens_ = std::move(tokens);
  if (output_mode_ == "tf_idf" && idf) {
    STRATA_CHECK(idf->size() == vocabulary.size(), ValueError, subject,
                 ": idf_weights must be the same length as the vocabulary; got ", idf->size(), " and ",
                 vocabulary.size());
    std::vector<double> w;
    if (!found_special) {
      // Special tokens get the average idf weight, as tf-keras pads the front.
      const double average =
          idf->empty() ? 0.0 : std::accumulate(idf->begin(), idf->end(), 0.0) / static_cast<double>(idf->size());
      w.assign(token_start, average);
    }
    w.insert(w.end(), idf->begin(), idf->end());
    if (pad_to_max_tokens_ && static_cast<std::int64_t>(w.size()) < *max_tokens_) {
      w.resize(static_cast<std::size_t>(*max_tokens_), 0.0);
    }
    idf_ = std::move(w);
  }
  rebuild_tables();
}

void IndexLookup::rebuild_tables() {
  const auto token_start = token_start_index();
  const auto n = tokens_.size();
  if (invert_) {
    std::vector<std::int64_t> keys;
    std::vector<std::string> values;
    for (std::size_t i = 0; i < n; ++i) {
      keys.push_back(token_start + static_cast<std::int64_t>(i));
      values.push_back(tokens_[i]);
    }
    if (mask_token_) {
      keys.push_back(0);
      values.push_back(*mask_token_);
    }
    const auto len = static_cast<std::int64_t>(keys.size());
    keys_ = Tensor::from_vector<std::int64_t>(keys, Shape{len}, Device::cpu());
    const std::string fallback = oov_token_ ? *oov_token_ : std::string();
    if (string_tokens_) {
      values_ = Tensor::from_strings(values, Shape{len});
      default_ = Tensor::from_strings({fallback}, Shape{});
    } else {
      std::vector<std::int64_t> ints;
      for (const auto& v : values) ints.push_back(std::stoll(v));
      values_ = Tensor::from_vector<std::int64_t>(ints, Shape{len}, Device::cpu());
      default_ = Tensor::scalar<std::int64_t>(oov_token_ ? std::stoll(fallback) : -1, Device::cpu());
    }
  } else {
    std::vector<std::string> keys(tokens_.begin(), tokens_.end());
    std::vector<std::int64_t> values(n);
    std::iota(values.begin(), values.end(), token_start);
    if (mask_token_) {
      keys.push_back(*mask_token_);
      values.push_back(output_mode_ == "int" ? 0 : kInt64Max);  // dropped by the encoding otherwise
    }
    const auto len = static_cast<std::int64_t>(keys.size());
    if (string_tokens_) {
      keys_ = Tensor::from_strings(keys, Shape{len});
    } else {
      std::vector<std::int64_t> ints;
      for (const auto& k : keys) ints.push_back(std::stoll(k));
      keys_ = vocabulary_dtype_ == "int32"
                  ? cast(Tensor::from_vector<std::int64_t>(ints, Shape{len}, Device::cpu()), DType::kInt32)
                  : Tensor::from_vector<std::int64_t>(ints, Shape{len}, Device::cpu());
    }
    values_ = Tensor::from_vector<std::int64_t>(values, Shape{len}, Device::cpu());
    const std::int64_t fallback = num_oov_indices_ == 1 ? oov_start_index() : -1;
    default_ = Tensor::scalar<std::int64_t>(fallback, Device::cpu());
  }
  if (output_mode_ != "int" && !pad_to_max_tokens_ && frozen_size_ && !tokens_.empty()) {
    STRATA_CHECK(vocabulary_size() == *frozen_size_, ValueError, ConfigReader::subject_of(*this),
                 ": its config's vocabulary_size is ", *frozen_size_, " but its vocabulary has ", vocabulary_size(),
                 " entries (the output width of output_mode '", output_mode_, "' cannot change)");
  }
  if (output_mode_ == "tf_idf" && (pad_to_max_tokens_ || !tokens_.empty())) {
    ensure_idf_weight(depth());
    if (!idf_.empty()) {
      const auto len = static_cast<std::int64_t>(idf_.size());
      std::vector<float> f(idf_.begin(), idf_.end());
      Tensor value = Tensor::from_vector<float>(f, Shape{len}, idf_weights_.device());
      if (idf_weights_.dtype() != DType::kFloat32) value = cast(value, idf_weights_.dtype());
      idf_weights_.assign(value);
    }
  }
}

std::int64_t IndexLookup::vocabulary_size() const {
  return token_start_index() + static_cast<std::int64_t>(tokens_.size());
}

std::vector<std::string> IndexLookup::vocabulary_text() const {
  std::vector<std::string> out;
  if (oov_start_index() == 1) out.push_back(mask_token_ ? *mask_token_ : std::string());
  for (std::int64_t i = 0; i < num_oov_indices_; ++i) out.push_back(oov_token_ ? *oov_token_ : std::string());
  out.insert(out.end(), tokens_.begin(), tokens_.end());
  return out;
}

Tensor IndexLookup::lookup_indices(const Tensor& x) const {
  Attrs attrs{{"num_oov_buckets", num_oov_indices_ > 1 && !invert_ ? num_oov_indices_ : std::int64_t{0}},
              {"oov_start", oov_start_index()},
              {"oov_error", num_oov_indices_ == 0 && !invert_},
              {"layer", ConfigReader::subject_of(*this)}};
  return execute1(kFindOp, {keys_, values_, x, default_}, attrs);
}

Tensor IndexLookup::encode(const Tensor& indices) const {
  if (output_mode_ == "int") {
    const DType out = output_dtype();
    return indices.dtype() == out ? indices : cast(indices, out);
  }
  STRATA_CHECK(pad_to_max_tokens_ || !tokens_.empty() || frozen_size_ || has_input_vocabulary_, ValueError,
               ConfigReader::subject_of(*this), ": output_mode '", output_mode_,
               "' without pad_to_max_tokens needs the vocabulary set before the layer is called (a vocabulary "
               "in the config, or the model's assets)");
  const std::int64_t depth = this->depth();
  Tensor x = indices;
  if (x.rank() == 0) x = expand_dims(x, -1);
  if (output_mode_ == "one_hot" && x.shape().dims().back() != 1) x = expand_dims(x, -1);
  STRATA_CHECK(x.rank() <= 2, ShapeError, ConfigReader::subject_of(*this),
               ": when output_mode is not 'int', the "
               "output rank is at most 2; got input shape ",
               indices.shape().to_string());
  const DType out = output_dtype();
  // bincount over the last axis: one_hot of each index (out of range: none), summed.
  Tensor counts = sum(one_hot(x, depth, 1.0, 0.0, out), {-2});
  if (output_mode_ == "one_hot" || output_mode_ == "multi_hot") return minimum(counts, scalar_like(counts, 1.0));
  if (output_mode_ == "count") return counts;
  Tensor idf = idf_weights_.value();
  STRATA_CHECK(idf.shape().dims().size() == 1 && idf.shape()[0] == depth, ValueError, ConfigReader::subject_of(*this),
               ": has ", idf.shape()[0], " idf weights for ", depth, " output columns");
  if (idf.device() != counts.device()) idf = idf.to(counts.device());
  if (idf.dtype() != out) idf = cast(idf, out);
  return counts * idf;
}

std::vector<Tensor> IndexLookup::call(const std::vector<Tensor>& inputs, const CallContext&) const {
  Tensor x = single_input(*this, inputs);
  const DType key = key_dtype();
  if (x.dtype() != key) {
    STRATA_CHECK(key != DType::kString && (is_integer(x.dtype()) || is_floating(x.dtype())), ValueError,
                 ConfigReader::subject_of(*this), ": expects ", dtype_name(key), " inputs, got ",
                 dtype_name(x.dtype()));
    x = cast(x, key);
  }
  return {encode(lookup_indices(x))};
}

std::vector<Shape> IndexLookup::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  const Shape& in = single_shape(*this, input_shapes);
  if (output_mode_ == "int") return {in};
  const std::int64_t depth = this->depth();
  auto dims = in.has_known_rank() ? in.dims() : std::vector<std::int64_t>{};
  if (dims.empty()) return {Shape{depth}};
  if (output_mode_ == "one_hot" && dims.back() != 1) {
    dims.push_back(depth);
  } else {
    dims.back() = depth;
  }
  return {Shape(dims)};
}

Config IndexLookup::get_config() const {
  Config c = Layer::get_config();
  c["invert"] = invert_;
  c["max_tokens"] = max_tokens_ ? Config(*max_tokens_) : Config();
  c["num_oov_indices"] = num_oov_indices_;
  c["oov_token"] = oov_token_config_;
  c["mask_token"] = mask_token_config_;
  c["output_mode"] = output_mode_;
  c["sparse"] = sparse_;
  c["pad_to_max_tokens"] = pad_to_max_tokens_;
  if (!string_tokens_) c["vocabulary_dtype"] = vocabulary_dtype_;
  c["idf_weights"] = idf_config_;
  c["vocabulary"] = vocabulary_config_;
  c["vocabulary_size"] = tokens_.empty() && frozen_size_ ? *frozen_size_ : vocabulary_size();
  for (auto it = keras3_extra_.begin(); keras3_extra_.is_object() && it != keras3_extra_.end(); ++it) c[it.key()] = *it;
  if (string_tokens_) c["encoding"] = encoding_;
  return c;
}

AssetFiles IndexLookup::save_assets() const {
  // Keras 3: a vocabulary given in the config is written there, not as an asset.
  if (!vocabulary_config_.is_null()) return {};
  std::string text;
  const auto vocab = vocabulary_text();
  for (std::size_t i = 0; i < vocab.size(); ++i) text += (i ? "\n" : "") + vocab[i];
  return {{"vocabulary.txt", text}};
}

void IndexLookup::load_assets(const AssetFiles& files) {
  if (!vocabulary_config_.is_null()) return;
  auto frame = ErrorContext::push("reading the assets of ", ConfigReader::subject_of(*this));
  if (const auto t = files.find("tokens.txt"); t != files.end() && !files.count("vocabulary.txt")) {
    std::vector<std::string> tokens;
    std::size_t begin = 0;
    while (true) {
      const std::size_t end = t->second.find('\n', begin);
      tokens.push_back(t->second.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
      if (end == std::string::npos) break;
      begin = end + 1;
    }
    if (!string_tokens_) {
      for (auto& token : tokens) token = token_text(Config(token), "tokens.txt");
    }
    std::set<std::string> seen;
    for (const auto& token : tokens) {
      STRATA_CHECK(seen.insert(token).second, ValueError, ConfigReader::subject_of(*this),
                   ": its lookup table repeats the token '", token, "'");
    }
    tokens_ = std::move(tokens);
    rebuild_tables();
    return;
  }
  const auto it = files.find("vocabulary.txt");
  STRATA_CHECK(it != files.end(), FormatError, ConfigReader::subject_of(*this), ": its assets have no vocabulary.txt");
  // Keras 3's load_assets: the text split at every '\n' (no special meaning for a last one).
  std::vector<std::string> lines;
  std::size_t start = 0;
  const std::string& text = it->second;
  while (true) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!string_tokens_) {
    for (auto& l : lines) l = token_text(Config(l), "vocabulary.txt");
  }
  set_vocabulary(lines, std::nullopt);
}

namespace {

class StringLookup final : public IndexLookup {
 public:
  explicit StringLookup(const Config& c) : IndexLookup("StringLookup", c, true) {}
};

class IntegerLookup final : public IndexLookup {
 public:
  explicit IntegerLookup(const Config& c) : IndexLookup("IntegerLookup", c, false) {}
};

}  // namespace

void register_lookup_layers(Registrar& registrar) {
  register_lookup_ops(registrar);
  register_layer<StringLookup>(registrar, "StringLookup");
  register_layer<IntegerLookup>(registrar, "IntegerLookup");
  register_text_vectorization(registrar);
}

}  // namespace strata::layers
