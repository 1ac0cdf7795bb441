// libFuzzer target: GraphDef revival (savedmodel/function_graph.hpp): a SavedModel's graph
// and function library imported as Strata graphs, as loading a model without its classes
// does. The input is the bytes of a tensorflow.GraphDef; each of its first functions is
// imported with its resource arguments bound to variables, which runs every node through
// Strata's op registry symbolically (shapes, attrs, function calls inlined, cycles and
// recursion refused). The graphs are not run. Anything other than a graph or a
// strata::Error is a bug. Structure-aware: proto_mutator.hpp. Seeds: the graph_def of a
// SavedModel Strata saves at start-up and of every tf-keras SavedModel fixture
// (STRATA_SAVEDMODEL_FIXTURES), written into the seed directory at start-up.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "function_graph.hpp"
#include "proto_mutator.hpp"
#include "savedmodel_fuzz_model.hpp"
#include "strata/error.hpp"
#include "strata/ops.hpp"
#include "strata/runtime.hpp"
#include "strata/tf/saved_model.pb.h"
#include "strata/variable.hpp"

namespace {

namespace fs = std::filesystem;

constexpr int kMaxFunctions = 8;

// The graph_def of saved_model.pb `file` as bytes into `out`; nothing when it does not parse.
void write_graph_seed(const fs::path& file, const fs::path& out) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  strata::tf::SavedModel saved;
  if (!saved.ParseFromString(bytes.str()) || saved.meta_graphs_size() == 0) return;
  std::ofstream(out, std::ios::binary) << saved.meta_graphs(0).graph_def().SerializeAsString();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  strata::initialize();  // the layer and backend plugins: the op registry
  const fs::path seeds = strata::fuzz::seed_directory(*argc, *argv);
  if (seeds.empty()) return 0;
  const fs::path dir = strata::fuzz::scratch_directory("strata_graphdef_fuzz");
  strata::fuzz::save_small_savedmodel(*strata::savedmodel::make_format(), dir);
  write_graph_seed(dir / "saved_model.pb", seeds / "strata_traced_sequential.pb");
  fs::remove_all(dir);
  for (const auto& entry : fs::directory_iterator(STRATA_SAVEDMODEL_FIXTURES)) {
    if (fs::is_regular_file(entry.path() / "saved_model.pb")) {
      write_graph_seed(entry.path() / "saved_model.pb", seeds / (entry.path().filename().string() + ".pb"));
    }
  }
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_tensorflow_proto(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata::tf::GraphDef graph;
  if (!graph.ParseFromArray(data, static_cast<int>(size))) return 0;
  try {
    const strata::savedmodel::GraphIndex index(graph);
    for (int i = 0; i < graph.library().function_size() && i < kMaxFunctions; ++i) {
      const auto& function = graph.library().function(i);
      strata::savedmodel::ImportedArguments args;
      for (const auto& arg : function.signature().input_arg()) {
        if (arg.type() == strata::tf::DT_RESOURCE) {
          args.captured.emplace_back("v" + std::to_string(args.captured.size()), strata::zeros({4, 4}));
        }
      }
      try {
        (void)strata::savedmodel::import_function(index, function.signature().name(), args, "fuzz graph");
      } catch (const strata::Error&) {
      }
    }
  } catch (const strata::Error&) {
  }
  return 0;
}
