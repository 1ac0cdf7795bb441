// libFuzzer target: the layer config readers of every plugin, through the registry as a
// file's config reaches them (deserialize_layer: Keras's {"class_name", "config"}), then
// building the layer for input shapes and computing its output shapes. The input is
//   {"class_name": "Conv2D", "config": {...}, "shapes": [[2, 6, 6, 3]]}
// ("shapes" optional: without it, ranks 2, 3 and 4 are tried, each on a new layer). Sizes in
// a config may be anything; weights are allocated under a 4 MiB budget. Anything other
// than a built layer or a strata::Error (a crash, a sanitizer report, a bare bad_alloc, a
// hang or an allocation past the fuzzer's limits) is a bug. Structure-aware
// (json_mutator.hpp) with every registered class name in its dictionary. Seeds: the layer
// configs of the fixtures (tests/fuzz/h5_seeds.py).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "json_mutator.hpp"
#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/registry.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace {

strata::fuzz::JsonMutator& mutator() {
  static strata::fuzz::JsonMutator m;
  return m;
}

// The shapes of `d["shapes"]` when they are small and valid, else none.
std::vector<strata::Shape> shapes_of(const strata::Config& d) {
  std::vector<strata::Shape> out;
  const auto s = d.find("shapes");
  if (s == d.end() || !s->is_array() || s->size() > 4) return {};
  for (const auto& shape : *s) {
    if (!shape.is_array() || shape.size() > 6) return {};
    std::vector<std::int64_t> dims;
    for (const auto& x : shape) {
      if (x.is_null())
        dims.push_back(-1);
      else if (x.is_number_integer() && x.get<std::int64_t>() >= 1 && x.get<std::int64_t>() <= 64)
        dims.push_back(x.get<std::int64_t>());
      else
        return {};
    }
    out.emplace_back(dims);
  }
  return out;
}

void build(const strata::Config& d, const std::vector<strata::Shape>& shapes) {
  try {
    strata::WeightBudget budget(std::uint64_t{4} << 20, "fuzz layer config");
    const auto layer = strata::deserialize_layer(d);
    (void)layer->get_config();
    layer->ensure_built(shapes);
    (void)layer->compute_output_shape(shapes);
  } catch (const strata::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::initialize();  // the layer plugins of this build
  std::vector<std::string> names;
  for (const auto& e : strata::Registry::global().entries()) names.push_back(e.name);
  mutator().add_words(names);
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  return mutator().mutate(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (strata::fuzz::too_many_models(std::string_view(reinterpret_cast<const char*>(data), size))) return 0;
  strata::Config d;
  try {
    d = strata::parse_python_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz layer config");
  } catch (const strata::Error&) {
    return 0;
  }
  if (!d.is_object()) return 0;
  if (auto shapes = shapes_of(d); !shapes.empty()) return build(d, shapes), 0;
  for (const auto& shape : {strata::Shape({2, 5}), strata::Shape({2, 4, 5}), strata::Shape({2, 6, 6, 3})}) {
    build(d, {shape});
  }
  return 0;
}
