// Structure-aware mutation for the libFuzzer targets whose input is JSON (Keras configs, the
// H5 fuzzers' file descriptions, layer configs). Byte mutations of JSON mostly break the
// syntax, and libFuzzer never grows an input past -max_len or by more than a few bytes at a
// time, so they never reach the shapes that broke Strata: configs nested 100k levels deep,
// sizes of 2^62, lists of a million entries, layers naming layers that do not exist. This
// mutator parses the input and changes it at the value level:
//   number   a value of interest (0, -1, 2^31, 2^62, 2^63-1, 1e308, NaN, ...) or a nearby one
//   word     a string from the dictionary (class names, keys) or from the input itself (so
//            references to other layers and nodes are explored)
//   type     null, a boolean, "", [] or {} in place of a value
//   delete   an object member or array element removed
//   add      a member with a dictionary key and a copy of another value
//   copy     a value replaced by a copy of another
//   repeat   an array element repeated up to the size limit (counts)
//   nest     a value wrapped in up to max_size/2 levels of [...], {"config": ...} or a
//            Sequential's layer list (depth)
//   bytes    libFuzzer's own byte mutation of the text (syntax)
// NaN, Infinity and -Infinity (Python's json) survive a round trip. Every walk here is
// iterative: the mutator's own inputs are deeper than any recursion could take, and
// nlohmann's dump and copy recurse, so it dumps with its own loop and copies only values
// at most kMaxCopyDepth deep.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mutator_dice.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace strata::fuzz {

// std::map objects: an ordered_json object reallocating its member vector copies its members
// (a pair with a const key cannot be moved), recursively, so parsing a deep value followed by
// more keys recurses as deep as the value.
using Json = nlohmann::json;

inline constexpr std::size_t kMaxCopyDepth = 64;
inline constexpr std::size_t kMaxNodes = 1 << 16;  // values considered per mutation
inline constexpr std::size_t kLargeInput = 64 << 10;

// Python's bare tokens as the strings the mutator holds them as (never valid JSON text).
inline constexpr std::string_view kPythonTokens[][2] = {
    {"-Infinity", "\x01-Infinity"}, {"Infinity", "\x01Infinity"}, {"NaN", "\x01NaN"}};
inline constexpr std::string_view kMarker = "\x02strata-fuzz-marker";

// The deepest nesting of [ and { in `text`, outside strings.
inline std::size_t text_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// The JSON value of Python-flavoured JSON text (bare NaN/Infinity as kPythonTokens strings);
// discarded when it does not parse. nlohmann's parser and destructor are iterative.
inline Json parse_text(std::string_view text) {
  std::string rewritten;
  rewritten.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      rewritten += c;
      if (c == '\\' && i + 1 < text.size())
        rewritten += text[++i];
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const auto& [token, held] : kPythonTokens) {
      if (text.substr(i, token.size()) == token) {
        rewritten += Json(std::string(held)).dump();
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) rewritten += c;
  }
  return Json::parse(rewritten, nullptr, false);
}

// `value` (a nlohmann json or ordered_json) as text, iteratively; kPythonTokens strings as
// the bare tokens.
template <class J>
std::string dump_text(const J& value) {
  std::string out;
  struct Frame {
    const J* j;
    typename J::const_iterator it;
  };
  std::vector<Frame> stack;
  auto scalar = [&](const J& j) {
    if (j.is_string()) {
      for (const auto& [token, held] : kPythonTokens) {
        if (j.template get_ref<const std::string&>() == held) {
          out += token;
          return;
        }
      }
    }
    out += j.dump(-1, ' ', false, J::error_handler_t::replace);
  };
  auto open = [&](const J& j) {
    if (!j.is_structured()) return scalar(j);
    out += j.is_object() ? '{' : '[';
    stack.push_back({&j, j.cbegin()});
  };
  open(value);
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.it == f.j->cend()) {
      out += f.j->is_object() ? '}' : ']';
      stack.pop_back();
      continue;
    }
    if (f.it != f.j->cbegin()) out += ", ";
    const J& child = *f.it;
    if (f.j->is_object()) out += J(f.it.key()).dump(-1, ' ', false, J::error_handler_t::replace) + ": ";
    ++f.it;
    open(child);  // may invalidate `f`
  }
  return out;
}

// The depth of `value`, or `cap + 1` when it is deeper than `cap`.
template <class J>
std::size_t value_depth(const J& value, std::size_t cap) {
  std::vector<std::pair<const J*, std::size_t>> stack{{&value, 1}};
  std::size_t deepest = 0;
  while (!stack.empty()) {
    auto [j, d] = stack.back();
    stack.pop_back();
    deepest = std::max(deepest, d);
    if (deepest > cap) return cap + 1;
    if (j->is_structured()) {
      for (const auto& child : *j) stack.emplace_back(&child, d + 1);
    }
  }
  return deepest;
}

// Keys and class names of Keras configs (more come from each target: its registry's names).
inline std::vector<std::string> keras_words() {
  return {"class_name",
          "config",
          "name",
          "layers",
          "inbound_nodes",
          "input_layers",
          "output_layers",
          "batch_input_shape",
          "batch_shape",
          "input_shape",
          "build_config",
          "dtype",
          "units",
          "filters",
          "kernel_size",
          "strides",
          "padding",
          "pool_size",
          "size",
          "cropping",
          "target_shape",
          "dims",
          "n",
          "input_dim",
          "output_dim",
          "num_heads",
          "key_dim",
          "axis",
          "activation",
          "use_bias",
          "return_sequences",
          "return_state",
          "stateful",
          "go_backwards",
          "layer",
          "backward_layer",
          "merge_mode",
          "rate",
          "dilation_rate",
          "depth_multiplier",
          "groups",
          "height",
          "width",
          "data_format",
          "module",
          "registered_name",
          "shared_object_id",
          "node_index",
          "tensor_index",
          "args",
          "kwargs",
          "keras_history",
          "__keras_tensor__",
          "__tuple__",
          "training_config",
          "optimizer_config",
          "loss",
          "metrics",
          "weighted_metrics",
          "loss_weights",
          "learning_rate",
          "keras_version",
          "backend",
          "float32",
          "float64",
          "int32",
          "int64",
          "mixed_float16",
          "same",
          "valid",
          "causal",
          "channels_last",
          "channels_first",
          "relu",
          "softmax",
          "linear",
          "Sequential",
          "Functional",
          "Model",
          "InputLayer",
          "Dense",
          "Conv2D",
          "LSTM",
          "GRU",
          "Bidirectional",
          "TimeDistributed",
          "Embedding",
          "Reshape",
          "Concatenate",
          "Add",
          "MultiHeadAttention",
          "BatchNormalization",
          "LayerNormalization",
          "Lambda",
          "Orthogonal",
          "GlorotUniform",
          "Zeros",
          "Adam",
          "SGD"};
}

class JsonMutator {
 public:
  explicit JsonMutator(std::vector<std::string> words = keras_words()) : words_(std::move(words)) {}
  void add_words(const std::vector<std::string>& words) { words_.insert(words_.end(), words.begin(), words.end()); }

  // libFuzzer's LLVMFuzzerCustomMutator contract: mutates data[0, size) in place, returns the
  // new size (at most max_size).
  std::size_t mutate(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned seed) {
    dice_.seed(seed);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Parsing and writing a large input costs more than running most targets on it: large
    // inputs get byte mutations three times in four.
    if (pick(8) != 0 && (size <= kLargeInput || pick(4) == 0)) {
      Json doc = parse_text(text);
      if (!doc.is_discarded()) {
        std::string out;
        for (std::size_t tries = 0; tries < 4 && out.empty(); ++tries) out = mutate_value(doc, max_size);
        if (!out.empty() && out.size() <= max_size) return put_input(data, out);
      }
    }
    return LLVMFuzzerMutate(data, size, max_size);
  }

 private:
  std::size_t pick(std::size_t n) { return dice_.pick(n); }
  std::size_t count(std::size_t max) { return dice_.count(max); }

  // The values of `doc`, breadth first (at most kMaxNodes), each with its depth and parent.
  struct Node {
    Json* value;
    Json* parent;
    std::size_t depth;
  };
  std::vector<Node> nodes(Json& doc) {
    std::vector<Node> out{{&doc, nullptr, 1}};
    for (std::size_t i = 0; i < out.size() && out.size() < kMaxNodes; ++i) {
      Node n = out[i];
      if (n.value->is_structured()) {
        for (auto& child : *n.value) {
          if (out.size() >= kMaxNodes) break;
          out.push_back({&child, n.value, n.depth + 1});
        }
      }
    }
    return out;
  }

  std::string word(const std::vector<Node>& all) {
    // Half the time a string of the input itself (a layer or node name: references).
    if (pick(2) == 0) {
      for (int tries = 0; tries < 8; ++tries) {
        const Node& n = all[pick(all.size())];
        if (n.value->is_string()) return n.value->get<std::string>();
        if (n.value->is_object() && !n.value->empty()) return n.value->begin().key();
      }
    }
    return words_[pick(words_.size())];
  }

  Json number(const Json& old) {
    static constexpr std::int64_t kInts[] = {0,
                                             1,
                                             -1,
                                             2,
                                             3,
                                             7,
                                             255,
                                             256,
                                             65535,
                                             65536,
                                             std::int64_t{1} << 31,
                                             (std::int64_t{1} << 31) - 1,
                                             std::int64_t{1} << 32,
                                             std::int64_t{1} << 53,
                                             std::int64_t{1} << 62,
                                             std::numeric_limits<std::int64_t>::max(),
                                             std::numeric_limits<std::int64_t>::min(),
                                             -(std::int64_t{1} << 31)};
    static constexpr double kDoubles[] = {0.5, -0.0, 1e308, -1e308, 4.9e-324, 1e19, 2.5};
    switch (pick(5)) {
      case 0:
      case 1:
        return kInts[pick(std::size(kInts))];
      case 2:
        return kDoubles[pick(std::size(kDoubles))];
      case 3:
        return std::string(kPythonTokens[pick(3)][1]);
      default: {
        const std::int64_t v = old.is_number_integer() ? old.get<std::int64_t>() : 0;
        const std::int64_t deltas[] = {-1, 1, -2, 2, 16};
        if (v > std::numeric_limits<std::int64_t>::max() / 2 || v < std::numeric_limits<std::int64_t>::min() / 2)
          return 0;
        return pick(3) == 0 ? v * 2 : v + deltas[pick(5)];
      }
    }
  }

  // One structural change to `doc`; its text, or "" when the change did not apply or the
  // text would exceed max_size.
  std::string mutate_value(Json& doc, std::size_t max_size) {
    std::vector<Node> all = nodes(doc);
    Node& n = all[pick(all.size())];
    Json& v = *n.value;
    switch (pick(9)) {
      case 0:
        v = number(v);
        break;
      case 1:
        v = word(all);
        break;
      case 2: {
        const Json kinds[] = {nullptr, true, false, "", Json::array(), Json::object()};
        v = kinds[pick(std::size(kinds))];
        break;
      }
      case 3: {
        if (!n.parent) return {};
        if (n.parent->is_object()) {
          for (auto it = n.parent->begin(); it != n.parent->end(); ++it) {
            if (&*it == &v) {
              n.parent->erase(it);
              break;
            }
          }
        } else {
          for (std::size_t i = 0; i < n.parent->size(); ++i) {
            if (&(*n.parent)[i] == &v) {
              n.parent->erase(i);
              break;
            }
          }
        }
        break;
      }
      case 4: {
        if (!v.is_object()) return {};
        const Json& source = *all[pick(all.size())].value;
        if (value_depth(source, kMaxCopyDepth) > kMaxCopyDepth) return {};
        v[words_[pick(words_.size())]] = source;
        break;
      }
      case 5: {
        const Json& source = *all[pick(all.size())].value;
        if (&source == &v || value_depth(source, kMaxCopyDepth) > kMaxCopyDepth) return {};
        Json copy = source;
        v = std::move(copy);
        break;
      }
      case 6: {
        // Repeat an element of an array, or the value as an array of itself, by text.
        Json element = Json::array();
        if (v.is_array() && !v.empty()) {
          const Json& e = v[pick(v.size())];
          if (value_depth(e, kMaxCopyDepth) > kMaxCopyDepth) return {};
          element = e;
        } else if (value_depth(v, kMaxCopyDepth) <= kMaxCopyDepth) {
          element = v;
        } else {
          return {};
        }
        const std::string one = dump_text(element);
        const std::string before = replace_with_marker(doc, v);
        if (before.size() >= max_size) return {};
        const std::size_t times = count((max_size - before.size()) / (one.size() + 2) + 1);
        std::string list = "[";
        list.reserve(times * (one.size() + 2) + 2);
        for (std::size_t i = 0; i < times; ++i) list.append(i ? ", " : "").append(one);
        list += "]";
        return splice(before, list, max_size);
      }
      case 7: {
        // Nest the value `levels` deep in one of a few wrappers.
        static constexpr std::string_view kWrappers[][2] = {
            {"[", "]"},
            {"{\"config\": ", "}"},
            {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [", "]}}"},
            {"{\"a\": [", "]}"},
        };
        const auto& [open, close] = kWrappers[pick(std::size(kWrappers))];
        const std::string inner = value_depth(v, kMaxCopyDepth) <= kMaxCopyDepth ? dump_text(v) : "0";
        const std::string before = replace_with_marker(doc, v);
        const std::size_t per_level = open.size() + close.size();
        if (before.size() + inner.size() >= max_size) return {};
        const std::size_t levels = count((max_size - before.size() - inner.size()) / per_level);
        std::string nested;
        nested.reserve(levels * per_level + inner.size());
        for (std::size_t i = 0; i < levels; ++i) nested += open;
        nested += inner;
        for (std::size_t i = 0; i < levels; ++i) nested += close;
        return splice(before, nested, max_size);
      }
      default:
        return {};  // the caller falls back to byte mutation
    }
    std::string out = dump_text(doc);
    return out.size() <= max_size ? out : std::string();
  }

  // The text of `doc` with `v` replaced by the marker string (v is changed).
  static std::string replace_with_marker(Json& doc, Json& v) {
    v = std::string(kMarker);
    return dump_text(doc);
  }
  static std::string splice(const std::string& before, const std::string& value, std::size_t max_size) {
    const std::string marker = Json(std::string(kMarker)).dump();
    const std::size_t at = before.find(marker);
    if (at == std::string::npos || before.size() - marker.size() + value.size() > max_size) return {};
    std::string out;
    out.reserve(before.size() - marker.size() + value.size());
    out.append(before, 0, at).append(value).append(before, at + marker.size());
    return out;
  }

  std::vector<std::string> words_;
  Dice dice_;
};

// How many models an input nests, at most (the count of "layers" keys in its text). Building
// nested models calls each inner model once per level above it (as Keras does), so N models
// nested D deep cost O(N x D) symbolic layer calls: a 635 KB input of 10,000 Sequentials
// nested 160 deep takes about a minute under ASan. That bounded cost is documented
// (docs/RELIABILITY.md, "Fuzzing"); the model-building targets skip such inputs so that their
// 10 s timeout keeps finding hangs.
inline constexpr std::size_t kMaxFuzzedModels = 64;
inline bool too_many_models(std::string_view text) {
  std::size_t count = 0;
  for (std::size_t at = text.find("\"layers\""); at != std::string_view::npos; at = text.find("\"layers\"", at + 8)) {
    if (++count > kMaxFuzzedModels) return true;
  }
  return false;
}

// libFuzzer's LLVMFuzzerCustomMutator for a target whose input is JSON (one mutator with the
// Keras words per process).
inline std::size_t mutate_json(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned seed) {
  static JsonMutator mutator;
  return mutator.mutate(data, size, max_size, seed);
}

}  // namespace strata::fuzz
