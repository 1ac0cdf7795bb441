// tf-keras's IndexLookup, the base of StringLookup and IntegerLookup (and the vocabulary half
// of TextVectorization): maps tokens to indices through a vocabulary, or indices back to
// tokens (invert), with mask and out-of-vocabulary (OOV) indices, then encodes the indices
// (output_mode int, one_hot, multi_hot, count, tf_idf).
//
// Index layout, as tf-keras: [mask (int mode with a mask_token)] [num_oov_indices OOV] [tokens].
// A token not in the vocabulary maps to the one OOV index, to `hash % num_oov_indices` past
// the first OOV index when there are several (integers: floormod; strings: FarmHash
// Fingerprint64, as tf.strings.to_hash_bucket_fast: fingerprint.hpp), or is
// an error with num_oov_indices 0. The lookup itself is the plugin's op
// `strata.LookupTableFind` (host kernel on any device type), so Functional models trace it.
//
// String tensors live on the host: inputs of StringLookup, outputs of an inverted one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "strata/plugin/assets.hpp"

namespace strata::layers {

// Registers strata.LookupTableFind and its kernel.
void register_lookup_ops(Registrar& registrar);
// TextVectorization and its op strata.TextTokenize (text_vectorization.cpp).
void register_text_vectorization(Registrar& registrar);

class IndexLookup : public Layer, public AssetsLayer {
 public:
  // `string_tokens`: StringLookup (vocabulary_dtype string, key `encoding`); otherwise
  // IntegerLookup (vocabulary_dtype int64 or int32, mask/oov tokens integers).
  IndexLookup(std::string class_name, const Config& config, bool string_tokens);

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config get_config() const override;

  AssetFiles save_assets() const override;
  void load_assets(const AssetFiles& files) override;
  // Files: "vocabulary.txt", Keras 3's save_assets layout (the whole vocabulary, special
  // tokens included, '\n'-separated); "tokens.txt", a vocabulary without special tokens in
  // index order (a tf-keras SavedModel's lookup table, read by format-savedmodel).
  bool needs_assets() const override { return vocabulary_config_.is_null() && tokens_.empty(); }
  // tf-keras's adapted layers (no input vocabulary) carry their vocabulary as a weight.
  bool has_tf_keras_table_weight() const override { return !has_input_vocabulary_; }

  // The vocabulary with the special tokens (Keras's get_vocabulary()), as text ("" for a
  // missing mask token in int mode... as tf-keras: the mask token, then OOV tokens).
  std::vector<std::string> vocabulary_text() const;
  std::int64_t vocabulary_size() const;
  // The encoded outputs' width: max_tokens when padded, else the vocabulary's size (before
  // the vocabulary is read, the config's vocabulary_size).
  std::int64_t depth() const;
  // Sets the tokens (Keras's set_vocabulary; the special tokens at the start are recognized
  // and dropped). `idf` only for tf_idf (nullopt: keep the layer's). ValueError naming the
  // layer for repeated tokens, a misplaced mask/OOV token, too many tokens.
  void set_vocabulary(const std::vector<std::string>& tokens, const std::optional<std::vector<double>>& idf);

  // Lookups of `x` (already the key dtype) as int64 indices, before encoding.
  Tensor lookup_indices(const Tensor& x) const;
  // int-mode indices -> the encoded output (one_hot ... tf_idf) of dtype `dtype`.
  Tensor encode(const Tensor& indices) const;
  const std::string& output_mode() const noexcept { return output_mode_; }
  std::int64_t token_start_index() const noexcept { return oov_start_index() + num_oov_indices_; }

 protected:
  std::int64_t oov_start_index() const noexcept { return mask_token_ && output_mode_ == "int" ? 1 : 0; }
  DType key_dtype() const;
  DType output_dtype() const;
  // Parses a token of the vocabulary as the key dtype's text ("12" for integers).
  std::string token_text(const Config& v, const char* key) const;
  void rebuild_tables();
  // Makes the idf weight of `length` values once (ValueError when it exists with another).
  void ensure_idf_weight(std::int64_t length);

  bool string_tokens_;
  bool invert_ = false;
  std::optional<std::int64_t> max_tokens_;
  std::int64_t num_oov_indices_ = 1;
  std::optional<std::string> mask_token_;  // as text
  std::optional<std::string> oov_token_;
  Config mask_token_config_, oov_token_config_;  // as given (written back)
  std::string output_mode_ = "int";
  bool sparse_ = false;
  bool pad_to_max_tokens_ = false;
  std::string vocabulary_dtype_ = "string";
  std::string encoding_ = "utf-8";
  Config vocabulary_config_;  // as given: a list, a file path or null
  Config idf_config_;         // as given
  Config keras3_extra_;       // oov_method, salt (Keras 3), written back when read
  bool has_input_vocabulary_ = false;
  std::optional<std::int64_t> frozen_size_;  // the config's vocabulary_size (tf-keras's _frozen_vocab_size)
  std::vector<std::string> tokens_;  // without special tokens
  std::vector<double> idf_;          // full length (special tokens included), tf_idf only
  // The table: keys and values (mask entry included), as host tensors.
  Tensor keys_, values_, default_;
  Variable idf_weights_;
};

}  // namespace strata::layers
