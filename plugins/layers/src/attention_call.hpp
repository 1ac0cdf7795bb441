// The call arguments the attention layers share (strata/plugin/call_arguments.hpp, per node):
// MultiHeadAttention (attention.cpp) and GroupQueryAttention (grouped_query_attention.cpp) take
// Keras's call(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
// attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False);
// every attention layer (Attention and AdditiveAttention too) reads the flags
// use_causal_mask, return_attention_scores and training alike, and returns (output, scores)
// as a tuple when asked for the scores; and the three drop out their attention weights alike in
// training. Used only by the sources of the layers plugin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "call_arguments_state.hpp"
#include "common.hpp"

namespace strata::layers {

// Which input is which in a call of MultiHeadAttention or GroupQueryAttention (indices into
// the layer's inputs), and the flags.
struct AttentionCall {
  std::size_t query = 0, value = 1;
  std::optional<std::size_t> key, mask, query_mask, value_mask, key_mask;
  bool causal = false, scores = false;
};

// `arguments` with a Keras 3 node's positional arguments after the query named by Keras 3's
// parameters (value, key, query_mask, value_mask, key_mask, attention_mask,
// return_attention_scores, training, use_causal_mask): positional_as_keywords with those names.
// FormatError naming `subject` as positional_as_keywords gives it.
Config attention_positional_as_keywords(const Config& arguments, const std::string& subject);

// The arguments of a call from C++ without any: the inputs [query, value(, key(,
// attention_mask))] by position, the query as args[0] and the others by keyword.
Config attention_default_arguments(std::size_t inputs);

// `arguments` with "outputs": "tuple" when they ask for the scores (return_attention_scores
// true): the attention layers return (output, scores) as a tuple.
Config with_output_structure(Config arguments);

// The call flags every attention layer takes: use_causal_mask (how.causal),
// return_attention_scores (how.scores) and training (checked, not used), read with call_flag
// (FormatError naming `subject` for a value that is not a boolean). False for any other key.
template <class How>
bool read_attention_flag(const std::string& key, const Config& kwargs, How& how, const std::string& subject) {
  if (key == "use_causal_mask") {
    how.causal = call_flag(kwargs, "use_causal_mask", subject);
  } else if (key == "return_attention_scores") {
    how.scores = call_flag(kwargs, "return_attention_scores", subject);
  } else if (key == "training") {
    call_flag(kwargs, "training", subject);
  } else {
    return false;
  }
  return true;
}

// The call `arguments` ({"args": [query], "kwargs": {...}}) of a layer with `inputs` inputs:
// the query (one tensor, or a list of one), value, key and attention_mask tensors and, when
// `keyword_masks`, query_mask, value_mask and key_mask (otherwise these are unknown
// arguments), plus the flags; a null tensor argument is absent. FormatError naming `subject`
// for arguments of another form, a tensor argument that is not one of the inputs, or an
// unknown argument; ValueError when no value is given.
AttentionCall parse_attention_call(const Config& arguments, std::size_t inputs, const std::string& subject,
                                   bool keyword_masks);

// The query, value and key tensors of a call on `inputs` that `how` describes: the key is the
// value when the call gives none or gives an undefined tensor; own_key says whether it has its own.
struct AttentionInputs {
  Tensor query, value, key;
  bool own_key = false;
};
AttentionInputs attention_inputs(const AttentionCall& how, const std::vector<Tensor>& inputs);

// Dropout of attention weights: in training with rate > 0, each weight kept with probability
// 1 - rate (uniform noise, unseeded) and scaled by 1 / (1 - rate), all zero at rate 1;
// otherwise `weights` as they are.
Tensor attention_dropout(const Tensor& weights, double rate, bool training);

// Query and key positions for masks over (T, S), computed by ops from the tensors themselves
// (so a traced model holds no [T, S] constant and a symbolic length costs nothing until the
// graph runs): rows [1, T, 1] and columns [1, 1, S], int64, holding 0..T-1 and 0..S-1, where T
// is axis `row_axis` of `rows_of` and S axis `column_axis` of `columns_of`.
struct Positions {
  Tensor rows, columns;
};
Positions attention_positions(const Tensor& rows_of, std::int64_t row_axis, const Tensor& columns_of,
                              std::int64_t column_axis);

// [1, T, S] bools, true where the column is not after the row: tf.linalg.band_part(ones, -1, 0),
// Keras's causal mask.
Tensor causal_mask(const Positions& p);

}  // namespace strata::layers
