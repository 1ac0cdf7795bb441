// Reading and writing the small pieces of Keras configs shared by layers and models:
// shapes with null dimensions, dtype policies.
#pragma once

#include "strata/layer.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "strata/config.hpp"
#include "strata/dtype.hpp"
#include "strata/shape.hpp"

namespace strata::internal {

// [null, 4] <-> Shape{kUnknown, 4}. FormatError naming `what` for anything else.
Shape shape_from_json(const Config& value, std::string_view what);
Config shape_to_json(const Shape& shape);

// "float32", {"class_name": "Policy", "config": {"name": "float32"}} or Keras 3's
// DTypePolicy dict. Mixed policies use their variable dtype (float32), with a warning.
// A Keras 3 quantized policy (quantization_mode) is a FormatError naming the mode.
DType dtype_from_json(const Config& value, std::string_view what);

// The Keras 3 quantization mode a dtype policy names, "" for none: Keras 3's
// QuantizedDTypePolicy family ({"class_name": "QuantizedDTypePolicy", "config": {"mode":
// "int8", "source_name": "float32"}}, QuantizedFloat8DTypePolicy, Int4DTypePolicy ("int4/128"),
// GPTQDTypePolicy, AWQDTypePolicy) and its names ("int8_from_float32", older Keras 3).
std::string quantization_mode(const Config& dtype);

// config[key] when present and not null.
inline const Config* find_key(const Config& config, const char* key) {
  if (!config.is_object()) return nullptr;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return nullptr;
  return &*it;
}

// Typed reads with defaults (ConfigReader with no subject); FormatError naming the key
// on a type mismatch.
bool get_bool(const Config& c, const char* key, bool fallback);
std::int64_t get_int(const Config& c, const char* key, std::int64_t fallback);
double get_double(const Config& c, const char* key, double fallback);
std::string get_string(const Config& c, const char* key, const std::string& fallback);

// parse_serialized without copying the config: `config` points into the parsed value (or to
// an empty object). Building a model nested N deep from a config copied each level's whole
// subtree, O(N x size) time and memory (a 635 KB file of nested Sequentials: 815 MB).
struct SerializedRef {
  std::string class_name;
  const Config* config = nullptr;
};
SerializedRef parse_serialized_ref(const Config& value, std::string_view what);

// The registered name a file gave a layer's class ("package>Name") when the registry
// resolved it to a class registered under another name (its bare Name): Keras 3 needs it
// back to find the class, so the Keras 3 dialect writes it. Forgotten when the layer dies.
void remember_registered_name(const Layer& layer, std::string_view file_name);
std::optional<std::string> registered_name_read(const Layer& layer);
// Drops what remember_registered_name and remember_dtype_policy kept for `layer` (its destructor).
void forget_registered_name(const Layer* layer) noexcept;
// A mixed-precision policy a layer's config named ("mixed_float16", "mixed_bfloat16"): the
// layer keeps float32 variables, computes in the policy's half dtype (layer.cpp's call path)
// and writes the policy back in its config. mixed_policy_name gives the policy a config's
// dtype names when it is a mixed one, else "".
void remember_dtype_policy(const Layer& layer, std::string_view policy);
std::optional<std::string> dtype_policy_read(const Layer& layer);
std::string mixed_policy_name(const Config& dtype);
// True while some live layer has a mixed policy: a relaxed atomic load, so that layer calls
// of processes without one skip the policy lookup.
bool any_mixed_policy() noexcept;
// The compute dtype of `layer`'s mixed policy (float16 for "mixed_float16", bfloat16 for
// "mixed_bfloat16"); kInvalid when it has none. Thread safety: may be called concurrently.
DType mixed_compute_dtype(const Layer& layer);

}  // namespace strata::internal
