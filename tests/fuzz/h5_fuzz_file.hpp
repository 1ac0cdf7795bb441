// The input language of the structure-aware H5 fuzzers: a JSON description of an HDF5 file
// that Strata's writer (h5_file.hpp) turns into a real file image, so that libFuzzer's
// mutations reach the H5 *reader's* decisions (names, lists, shapes, dtypes, configs,
// optimizer state) instead of stopping in HDF5 1.10's own parser, whose memory-safety bugs
// on corrupted bytes are not Strata's to fix (plugins/format-h5/README.md).
//
//   {"attrs":    {"name": "a string"        -> variable-length string
//                 "name": ["a", "b"]        -> fixed-length string list ([] -> empty float64)
//                 "name": {...}             -> its JSON text as a variable-length string
//                                              (model_config, training_config: so that the
//                                              JSON mutator works on their structure)},
//    "groups":   {"name": {...the same...}},
//    "datasets": {"name": {"dtype": "float32"|"float64"|"int32"|"int64", "shape": [2, 3]}},
//    "options":  {"by_name": bool, "skip_mismatch": bool}}      (the weights fuzzer)
//
// Other JSON (wrong types, unknown keys) is ignored. Dataset values are a fixed pattern.
// Sizes are capped so the fuzzer itself stays small.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "h5_file.hpp"
#include "json_mutator.hpp"
#include "strata/tensor.hpp"

namespace strata::h5fuzz {

inline constexpr std::int64_t kMaxElements = std::int64_t{1} << 20;  // per file
inline constexpr int kMaxDepth = 8;

template <class T>
Tensor pattern_of(std::size_t n, const Shape& shape) {
  std::vector<T> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<T>(static_cast<int>(i % 17) - 8) / static_cast<T>(4);
  return Tensor::from_vector<T>(values, shape);
}

inline Tensor pattern(DType t, std::size_t n, const Shape& shape) {
  switch (t) {
    case DType::kFloat64: return pattern_of<double>(n, shape);
    case DType::kInt32: return pattern_of<std::int32_t>(n, shape);
    case DType::kInt64: return pattern_of<std::int64_t>(n, shape);
    default: return pattern_of<float>(n, shape);
  }
}

inline void fill(h5::File& file, hid_t obj, const nlohmann::json& d, int depth, std::int64_t& budget) {
  if (!d.is_object() || depth > kMaxDepth) return;
  if (auto a = d.find("attrs"); a != d.end() && a->is_object()) {
    for (const auto& [name, value] : a->items()) {
      if (value.is_string()) {
        h5::write_vlen_string_attribute(file, obj, name, value.get<std::string>(), H5T_CSET_UTF8);
      } else if (value.is_object()) {
        h5::write_vlen_string_attribute(file, obj, name, fuzz::dump_text(value), H5T_CSET_UTF8);
      } else if (value.is_array()) {
        std::vector<std::string> items;
        std::size_t itemsize = 1;
        for (const auto& v : value) {
          if (!v.is_string()) continue;
          items.push_back(v.get<std::string>());
          itemsize = std::max(itemsize, items.back().size());
        }
        h5::write_fixed_strings_attribute(file, obj, name, items, itemsize);
      }
    }
  }
  if (auto g = d.find("groups"); g != d.end() && g->is_object()) {
    for (const auto& [name, value] : g->items()) {
      h5::Handle child = h5::create_group(file, obj, name);
      fill(file, child.get(), value, depth + 1, budget);
    }
  }
  if (auto s = d.find("datasets"); s != d.end() && s->is_object()) {
    for (const auto& [name, value] : s->items()) {
      if (!value.is_object()) continue;
      const auto dt = value.find("dtype");
      const std::string dtype = dt != value.end() && dt->is_string() ? dt->get<std::string>() : "float32";
      const DType t = dtype == "float64" ? DType::kFloat64
                      : dtype == "int32" ? DType::kInt32
                      : dtype == "int64" ? DType::kInt64
                                         : DType::kFloat32;
      std::vector<std::int64_t> dims;
      std::int64_t n = 1;
      bool ok = true;
      const auto shape = value.find("shape");
      if (shape == value.end() || !shape->is_array()) continue;
      for (const auto& x : *shape) {
        if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::int64_t>() > kMaxElements) {
          ok = false;
          break;
        }
        dims.push_back(x.get<std::int64_t>());
        n = dims.back() == 0 ? 0 : (n > kMaxElements / dims.back() ? kMaxElements + 1 : n * dims.back());
      }
      if (!ok || dims.size() > 8 || n > budget) continue;
      budget -= n;
      h5::write_dataset(file, obj, name, pattern(t, static_cast<std::size_t>(n), Shape(dims)));
    }
  }
}

// The file image of a description; strata::Error (from the writer) for what HDF5 cannot
// hold (a name with '/' in the wrong place, an attribute larger than 64 KiB, ...).
inline h5::Image build(const nlohmann::json& d) {
  h5::File file = h5::File::create_in_memory("fuzz.h5");
  {
    h5::Handle root(H5Gopen2(file.id(), "/", H5P_DEFAULT));
    std::int64_t budget = kMaxElements;
    fill(file, root.get(), d, 0, budget);
  }
  return file.take_image();
}

}  // namespace strata::h5fuzz
