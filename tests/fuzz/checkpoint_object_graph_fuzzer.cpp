// libFuzzer target: the object-graph parser (TrackableObjectGraph bytes: node ids, slot
// references, cycles). Success must re-serialize and re-parse to the same graph; failure
// must be a strata::FormatError. Seeds: the _CHECKPOINTABLE_OBJECT_GRAPH strings of
// tests/data/checkpoint (tests/fuzz/checkpoint_seeds.py). Structure-aware: proto_mutator.hpp
// (node ids, child and slot references, repeated counts, depth).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "object_graph.hpp"
#include "proto_mutator.hpp"
#include "strata/error.hpp"

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_tensorflow_proto(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto graph = strata::ckpt::parse_object_graph(bytes, "fuzz graph");
    const auto again = strata::ckpt::parse_object_graph(strata::ckpt::serialize_object_graph(graph), "fuzz graph 2");
    if (again.nodes.size() != graph.nodes.size()) std::abort();
  } catch (const strata::FormatError&) {
  }
  return 0;
}
