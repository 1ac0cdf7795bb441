// TextVectorization (tf-keras's text_vectorization.py): standardize, split and ngrams on the
// host (the op strata.TextTokenize), then a StringLookup with mask token "" (IndexLookup,
// index_lookup.hpp) and its encoding.
#include <algorithm>
#include <memory>

#include "index_lookup.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::layers {
namespace {

constexpr const char* kTokenizeOp = "strata.TextTokenize";

// ---- strata.TextTokenize -----------------------------------------------------------------------
//
// Input: strings of shape [B] or [B, 1] (with a split) or any shape (without). Attributes:
// standardize ("lower_and_strip_punctuation", "lower", "strip_punctuation" or ""), split
// ("whitespace", "character" or ""), ngrams (list(int), empty for none), sequence_length (-1:
// the longest row). Output with a split: [B, L] strings, each row's tokens then "" (the mask
// token) up to L, truncated to L; without a split: the input standardized.

// tf.strings.lower with its default encoding "": ASCII letters only.
void lower_ascii(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// tf-keras's DEFAULT_STRIP_REGEX, [!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\'], is exactly
// Python's string.punctuation: ASCII bytes, so removing them byte by byte is what RE2 does on
// UTF-8 text.
bool is_punctuation(char c) {
  static constexpr std::string_view kPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  return kPunctuation.find(c) != std::string_view::npos;
}

// tf.strings.split without a separator: runs of ASCII whitespace (space, \t, \n, \v, \f, \r).
std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  std::string token;
  for (const char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
      if (!token.empty()) out.push_back(std::move(token));
      token.clear();
    } else {
      token.push_back(c);
    }
  }
  if (!token.empty()) out.push_back(std::move(token));
  return out;
}

// tf.strings.unicode_split(s, "UTF-8") with errors="replace": one string per code point, an
// invalid byte sequence becomes U+FFFD.
std::vector<std::string> split_characters(const std::string& s) {
  std::vector<std::string> out;
  const auto n = s.size();
  for (std::size_t i = 0; i < n;) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = b0 < 0x80 ? 1 : (b0 & 0xe0) == 0xc0 ? 2 : (b0 & 0xf0) == 0xe0 ? 3 : (b0 & 0xf8) == 0xf0 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    std::uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1fu) : len == 3 ? (b0 & 0x0fu) : (b0 & 0x07u);
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xc0) == 0x80;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (ok) {
      static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (ok) {
      out.push_back(s.substr(i, len));
      i += len;
    } else {
      out.emplace_back("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

// tf.strings.ngrams(tokens, ngram_width=widths, separator=" "): for each width in order, every
// run of that many tokens joined by a space (none when the row is shorter).
std::vector<std::string> ngrams_of(const std::vector<std::string>& tokens, const std::vector<std::int64_t>& widths) {
  std::vector<std::string> out;
  for (const auto w : widths) {
    const auto width = static_cast<std::size_t>(w);
    for (std::size_t i = 0; width > 0 && i + width <= tokens.size(); ++i) {
      std::string g = tokens[i];
      for (std::size_t k = 1; k < width; ++k) g += " " + tokens[i + k];
      out.push_back(std::move(g));
    }
  }
  return out;
}

// The standardized texts, and with a split each one's tokens (ngrams applied).
struct Tokenized {
  std::vector<std::string> texts;
  std::vector<std::vector<std::string>> rows;
  std::size_t longest = 0;
};

Tokenized tokenize(const Tensor& x, const Attrs& attrs) {
  const auto standardize = attrs.get_or<std::string>("standardize", "");
  const auto split = attrs.get_or<std::string>("split", "");
  const auto widths = attrs.get_or<std::vector<std::int64_t>>("ngrams", {});
  const auto in = x.strings();
  Tokenized out;
  out.texts.assign(in.begin(), in.end());
  for (auto& t : out.texts) {
    if (standardize == "lower" || standardize == "lower_and_strip_punctuation") lower_ascii(t);
    if (standardize == "strip_punctuation" || standardize == "lower_and_strip_punctuation") {
      t.erase(std::remove_if(t.begin(), t.end(), is_punctuation), t.end());
    }
  }
  if (split.empty()) return out;
  for (const auto& t : out.texts) {
    auto tokens = split == "character" ? split_characters(t) : split_whitespace(t);
    if (!widths.empty()) tokens = ngrams_of(tokens, widths);
    out.longest = std::max(out.longest, tokens.size());
    out.rows.push_back(std::move(tokens));
  }
  return out;
}

OpDef tokenize_def() {
  OpDef d;
  d.name = kTokenizeOp;
  d.num_inputs = 1;
  d.host_inputs = {0};
  d.kernel_dtype_input = 0;
  d.not_differentiable = true;
  d.infer = [](const InferContext& c) -> std::vector<TensorMeta> {
    STRATA_CHECK(c.dtype(0) == DType::kString, ValueError, kTokenizeOp, " takes strings, got ", dtype_name(c.dtype(0)));
    if (c.attrs().get_or<std::string>("split", "").empty()) return {{DType::kString, c.shape(0)}};
    const Shape& in = c.shape(0);
    const std::int64_t batch = in.has_known_rank() && in.rank() >= 1 ? in.dims()[0] : Shape::kUnknown;
    std::int64_t length = c.attrs().get_or<std::int64_t>("sequence_length", -1);
    // Without a fixed length, concrete inputs give the longest row's (the kernel pads to it).
    if (length < 0)
      length = c.input(0).is_symbolic() ? Shape::kUnknown
                                        : static_cast<std::int64_t>(tokenize(c.input(0), c.attrs()).longest);
    return {{DType::kString, Shape{batch, length}}};
  };
  return d;
}

void tokenize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tokenized t = tokenize(x, ctx.attrs());
  if (ctx.attrs().get_or<std::string>("split", "").empty()) {
    ctx.set_output(0, Tensor::from_strings(t.texts, x.shape()));
    return;
  }
  const auto length = ctx.attrs().get_or<std::int64_t>("sequence_length", -1);
  const std::size_t l = length < 0 ? t.longest : static_cast<std::size_t>(length);
  std::vector<std::string> out;
  out.reserve(t.rows.size() * l);
  for (auto& r : t.rows) {
    r.resize(l);  // truncates, or pads with "" (the mask token: index 0, or dropped)
    for (auto& token : r) out.push_back(std::move(token));
  }
  ctx.set_output(
      0, Tensor::from_strings(out, Shape{static_cast<std::int64_t>(t.rows.size()), static_cast<std::int64_t>(l)}));
}

// ---- the layer ------------------------------------------------------------------------------------

class TextVectorization final : public Layer, public AssetsLayer {
 public:
  explicit TextVectorization(const Config& c) : Layer("TextVectorization", base_config(c)) {
    auto frame = ErrorContext::push("reading the config of ", ConfigReader::subject_of(*this));
    const ConfigReader r(c, *this);
    standardize_ = c.value("standardize", Config("lower_and_strip_punctuation"));
    split_ = c.value("split", Config("whitespace"));
    const auto string_or_null = [&](const Config& v, const char* key, const std::vector<std::string>& allowed) {
      STRATA_CHECK(v.is_null() || (v.is_string() &&
                                   std::find(allowed.begin(), allowed.end(), v.get<std::string>()) != allowed.end()),
                   ValueError,
                   r.describe(detail::concat(key,
                                             " must be null or one of the names Keras has (a callable is Python "
                                             "code, which a file cannot carry), got ",
                                             v.dump())));
      return v.is_null() ? std::string() : v.get<std::string>();
    };
    standardize_name_ =
        string_or_null(standardize_, "standardize", {"lower_and_strip_punctuation", "lower", "strip_punctuation"});
    split_name_ = string_or_null(split_, "split", {"whitespace", "character"});
    ngrams_config_ = c.value("ngrams", Config());
    if (ngrams_config_.is_number_integer()) {
      const auto n = ngrams_config_.get<std::int64_t>();
      STRATA_CHECK(n >= 1 && n <= 64, ValueError, r.describe(detail::concat("ngrams must be in [1, 64], got ", n)));
      for (std::int64_t i = 1; i <= n; ++i) ngrams_.push_back(i);
    } else if (!ngrams_config_.is_null()) {
      ngrams_ = r.int_list("ngrams", {}, Range::closed(1, 64));
    }
    STRATA_CHECK(ngrams_.empty() || !split_name_.empty(), ValueError,
                 r.describe("ngrams need a split (tf.strings.ngrams works on split tokens)"));
    output_mode_ = c.value("output_mode", Config("int"));
    std::string mode = output_mode_.is_null() ? std::string("int") : r.optional("output_mode", "int");
    if (mode == "binary") mode = "multi_hot";
    if (mode == "tf-idf") mode = "tf_idf";
    STRATA_CHECK(mode == "int" || mode == "multi_hot" || mode == "count" || mode == "tf_idf", ValueError,
                 r.describe("output_mode must be one of int, multi_hot, count, tf_idf, got '" + mode + "'"));
    STRATA_CHECK(!output_mode_.is_null(), ValueError,
                 r.describe("output_mode null (returning the tokens) is not supported: its output is ragged"));
    output_sequence_length_ = r.if_present<std::int64_t>("output_sequence_length", Range::non_negative());
    STRATA_CHECK(!output_sequence_length_ || mode == "int", ValueError,
                 r.describe("output_sequence_length must not be set if output_mode is not 'int'"));
    ragged_ = r.optional<bool>("ragged", false);
    STRATA_CHECK(!ragged_, ValueError, r.describe("ragged outputs are not supported (Strata has no RaggedTensor)"));
    STRATA_CHECK(mode != "int" || !split_name_.empty() || !output_sequence_length_, ValueError,
                 r.describe("output_sequence_length needs a split"));

    Config inner = Config::object();
    inner["name"] = name() + "_string_lookup";
    inner["max_tokens"] = c.value("max_tokens", Config());
    inner["vocabulary"] = c.value("vocabulary", Config());
    inner["idf_weights"] = c.value("idf_weights", Config());
    inner["pad_to_max_tokens"] = c.value("pad_to_max_tokens", Config(false));
    inner["mask_token"] = "";
    inner["output_mode"] = mode;
    inner["sparse"] = c.value("sparse", Config(false));
    inner["encoding"] = c.value("encoding", Config("utf-8"));
    inner["vocabulary_size"] = c.value("vocabulary_size", Config());
    if (c.contains("has_input_vocabulary")) inner["has_input_vocabulary"] = c["has_input_vocabulary"];
    try {
      lookup_ = std::make_shared<IndexLookup>("StringLookup", inner, true);
    } catch (const Error& e) {
      // The inner layer's messages name it; say whose config it was.
      STRATA_THROW(ValueError, ConfigReader::subject_of(*this), ": ", e.what());
    }
    // Tracked as tf-keras and Keras 3 do (`_lookup_layer`): its tf_idf weights are this
    // layer's weights, and checkpoints and Keras 3's weights file reach them through it.
    track("_lookup_layer", lookup_);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    STRATA_CHECK(x.dtype() == DType::kString, ValueError, ConfigReader::subject_of(*this), ": expects strings, got ",
                 dtype_name(x.dtype()));
    const Shape& shape = x.shape();
    if (!split_name_.empty()) {
      STRATA_CHECK(shape.has_known_rank() && (shape.rank() == 1 || (shape.rank() == 2 && shape.dims()[1] == 1)),
                   ShapeError, ConfigReader::subject_of(*this),
                   ": to split strings the input must have rank 1 or a last dimension of 1, got ", shape.to_string());
    }
    Attrs attrs{
        {"standardize", standardize_name_},
        {"split", split_name_},
        {"ngrams", ngrams_},
        {"sequence_length",
         lookup_->output_mode() == "int" && output_sequence_length_ ? *output_sequence_length_ : std::int64_t{-1}}};
    const Tensor tokens = execute1(kTokenizeOp, {x}, attrs);
    return {lookup_->encode(lookup_->lookup_indices(tokens))};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    const Config inner = lookup_->get_config();
    c["max_tokens"] = inner["max_tokens"];
    c["standardize"] = standardize_;
    c["split"] = split_;
    c["ngrams"] = ngrams_config_;
    c["output_mode"] = output_mode_;
    c["output_sequence_length"] = output_sequence_length_ ? Config(*output_sequence_length_) : Config();
    c["pad_to_max_tokens"] = inner["pad_to_max_tokens"];
    c["sparse"] = inner["sparse"];
    c["ragged"] = ragged_;
    c["vocabulary"] = inner["vocabulary"];
    c["idf_weights"] = inner["idf_weights"];
    c["encoding"] = inner["encoding"];
    c["vocabulary_size"] = inner["vocabulary_size"];
    return c;
  }

  // Keras 3 writes the vocabulary twice: the layer's save_assets (its lookup layer's, into the
  // layer's directory) and, visiting the child `_lookup_layer`, that layer's own; its loader
  // reads both, so both are written (the child's by the child, a tracked AssetsLayer).
  AssetFiles save_assets() const override { return lookup_->save_assets(); }
  void load_assets(const AssetFiles& files) override {
    auto frame = ErrorContext::push("reading the assets of ", ConfigReader::subject_of(*this));
    lookup_->load_assets(files);
  }
  bool needs_assets() const override { return lookup_->needs_assets(); }
  bool has_tf_keras_table_weight() const override { return lookup_->has_tf_keras_table_weight(); }

 private:
  // The layer's dtype is "string" (tf-keras refuses any other).
  static Config base_config(const Config& c) {
    Config base = c.is_object() ? c : Config::object();
    const Config* dtype = find_key(base, "dtype");
    STRATA_CHECK(dtype == nullptr || !dtype->is_string() || dtype->get<std::string>() == "string", ValueError,
                 "TextVectorization may only have a dtype of string, got ", dtype->dump());
    base["dtype"] = "string";
    return base;
  }

  Config standardize_, split_, ngrams_config_, output_mode_;
  std::string standardize_name_, split_name_;
  std::vector<std::int64_t> ngrams_;
  std::optional<std::int64_t> output_sequence_length_;
  bool ragged_ = false;
  std::shared_ptr<IndexLookup> lookup_;
};

}  // namespace

void register_text_vectorization(Registrar& registrar) {
  registrar.add<ObjectKind::kOp>(kTokenizeOp, tokenize_def());
  add_kernel(registrar, kTokenizeOp, "*", DType::kInvalid, tokenize_kernel);
  register_layer<TextVectorization>(registrar, "TextVectorization");
}

}  // namespace strata::layers
