#include "layers/config_util.hpp"

#include <unordered_map>

#include <atomic>
#include <mutex>
#include <set>

#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugin/file_text.hpp"

namespace strata::internal {

Shape shape_from_json(const Config& value, std::string_view what) {
  if (value.is_object() && value.contains("items")) return shape_from_json(value["items"], what);  // __tuple__
  STRATA_CHECK(value.is_array(), FormatError, what, " must be a list of dimensions, got ", value.dump());
  std::vector<std::int64_t> dims;
  for (const auto& d : value) {
    if (d.is_null()) {
      dims.push_back(Shape::kUnknown);
    } else {
      STRATA_CHECK(d.is_number_integer() && d.get<std::int64_t>() >= 0, FormatError, what,
                   " has a dimension that is not a non-negative integer or null: ", d.dump());
      dims.push_back(d.get<std::int64_t>());
    }
  }
  return Shape(std::move(dims));
}

Config shape_to_json(const Shape& shape) {
  Config out = Config::array();
  for (auto d : shape.dims()) {
    if (d == Shape::kUnknown) {
      out.push_back(nullptr);
    } else {
      out.push_back(d);
    }
  }
  return out;
}

std::string quantization_mode(const Config& dtype) {
  static constexpr std::string_view kModes[] = {"int8", "float8", "int4", "gptq", "awq"};
  std::string name;
  if (dtype.is_string()) {
    name = dtype.get<std::string>();
  } else if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object()) {
    const Config& c = dtype["config"];
    if (c.contains("mode") && c["mode"].is_string()) return c["mode"].get<std::string>();
    if (c.contains("name") && c["name"].is_string()) name = c["name"].get<std::string>();
    const std::string cls = dtype.contains("class_name") && dtype["class_name"].is_string()
                                ? dtype["class_name"].get<std::string>()
                                : std::string();
    if (name.empty() && cls.find("Quantized") != std::string::npos) return "unknown";
  }
  for (std::string_view mode : kModes) {
    if (name.rfind(std::string(mode), 0) == 0 && name.find("_from_") != std::string::npos) {
      return name.substr(0, name.find("_from_"));
    }
  }
  return "";
}

DType dtype_from_json(const Config& value, std::string_view what) {
  if (const std::string mode = quantization_mode(value); !mode.empty()) {
    STRATA_THROW(FormatError, what, " is Keras 3's quantized dtype policy (", mode, " quantization, written by ",
                 "model.quantize(\"", mode, "\")): Strata does not run quantized layers; load the model saved before ",
                 "quantizing: ", file_text(value.dump()));
  }
  std::string name;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object() && value.contains("config") && value["config"].is_object() &&
             value["config"].contains("name") && value["config"]["name"].is_string()) {
    name = value["config"]["name"].get<std::string>();
  } else {
    STRATA_THROW(FormatError, what, " is not a dtype or dtype policy: ", value.dump());
  }
  if (name.rfind("mixed_", 0) == 0) {
    // A mixed policy's variables are float32; mixed_float16 and mixed_bfloat16 compute in
    // their half dtype (layer.cpp). Another "mixed_" name computes in float32, said once per
    // process and policy (a model names it on every layer).
    if (name != "mixed_float16" && name != "mixed_bfloat16") {
      static std::mutex warned_mutex;
      static std::set<std::string> warned;
      std::lock_guard<std::mutex> lock(warned_mutex);
      if (warned.insert(name).second) {
        log_warning("dtype policy '", name, "' is neither mixed_float16 nor mixed_bfloat16: Strata computes it in ",
                    "float32 (float32 variables); the policy is written back when the model is saved");
      }
    }
    return DType::kFloat32;
  }
  auto frame = ErrorContext::push("reading ", what);
  return dtype_from_name(name);
}

// The typed reads are the SDK's ConfigReader with no subject ("config key 'x' ...").

namespace {

ConfigReader reader(const Config& config) {
  static const Config empty = Config::object();
  return ConfigReader(config.is_object() ? config : empty, "");
}

}  // namespace

bool get_bool(const Config& c, const char* key, bool fallback) { return reader(c).optional(key, fallback); }

std::int64_t get_int(const Config& c, const char* key, std::int64_t fallback) {
  return reader(c).optional(key, fallback);
}

double get_double(const Config& c, const char* key, double fallback) { return reader(c).optional(key, fallback); }

std::string get_string(const Config& c, const char* key, const std::string& fallback) {
  return reader(c).optional(key, fallback);
}

namespace {
std::mutex g_registered_names_mutex;
std::unordered_map<const Layer*, std::string>& registered_names() {
  static auto* table = new std::unordered_map<const Layer*, std::string>();
  return *table;
}
}  // namespace

void remember_registered_name(const Layer& layer, std::string_view file_name) {
  if (file_name.find('>') == std::string_view::npos || file_name == layer.class_name()) return;
  std::lock_guard<std::mutex> lock(g_registered_names_mutex);
  registered_names()[&layer] = std::string(file_name);
}

std::optional<std::string> registered_name_read(const Layer& layer) {
  std::lock_guard<std::mutex> lock(g_registered_names_mutex);
  const auto it = registered_names().find(&layer);
  return it == registered_names().end() ? std::nullopt : std::optional<std::string>(it->second);
}

namespace {
std::unordered_map<const Layer*, std::string>& dtype_policies() {
  static auto* table = new std::unordered_map<const Layer*, std::string>();
  return *table;
}
}  // namespace

namespace {
std::atomic<std::size_t> g_mixed_layers{0};
}  // namespace

void remember_dtype_policy(const Layer& layer, std::string_view policy) {
  std::lock_guard<std::mutex> lock(g_registered_names_mutex);
  if (dtype_policies().insert_or_assign(&layer, std::string(policy)).second) {
    g_mixed_layers.fetch_add(1, std::memory_order_relaxed);
  }
}

bool any_mixed_policy() noexcept { return g_mixed_layers.load(std::memory_order_relaxed) != 0; }

DType mixed_compute_dtype(const Layer& layer) {
  std::lock_guard<std::mutex> lock(g_registered_names_mutex);
  const auto it = dtype_policies().find(&layer);
  if (it == dtype_policies().end()) return DType::kInvalid;
  if (it->second == "mixed_float16") return DType::kFloat16;
  if (it->second == "mixed_bfloat16") return DType::kBFloat16;
  return DType::kInvalid;
}

std::optional<std::string> dtype_policy_read(const Layer& layer) {
  std::lock_guard<std::mutex> lock(g_registered_names_mutex);
  const auto it = dtype_policies().find(&layer);
  return it == dtype_policies().end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::string mixed_policy_name(const Config& dtype) {
  std::string name;
  if (dtype.is_string()) {
    name = dtype.get<std::string>();
  } else if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object() &&
             dtype["config"].contains("name") && dtype["config"]["name"].is_string()) {
    name = dtype["config"]["name"].get<std::string>();
  }
  return name.rfind("mixed_", 0) == 0 ? name : std::string();
}

void forget_registered_name(const Layer* layer) noexcept {
  std::lock_guard<std::mutex> lock(g_registered_names_mutex);
  registered_names().erase(layer);
  if (dtype_policies().erase(layer) != 0) g_mixed_layers.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace strata::internal
