// Reported (issue 18): reviving a SavedModel whose traced call is a chain of 100000 ops
// crashed when the revived model was destroyed: the last reference to the chain's end freed
// each node from inside the destructor of the node using it, one nested call per node, and
// the stack overflowed (SIGSEGV in ~GraphNode, about 47000 nodes deep). Graph nodes are now
// freed in a loop. Fixed on branch `trace` ("graph nodes are freed iteratively").
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "strata/graph.hpp"
#include "strata/ops.hpp"
#include "strata/runtime.hpp"

namespace strata {
namespace {

TEST(LongGraphDestruction, AChainOfThreeHundredThousandOpsIsFreedWithoutOverflowingTheStack) {
  initialize();
  constexpr int kChain = 300000;
  std::optional<Graph> graph = trace(
      [](const std::vector<Tensor>& in) {
        Tensor x = in[0];
        for (int i = 0; i < kChain; ++i) x = neg(x);
        return std::vector<Tensor>{x};
      },
      {TensorSpec(Shape{2}, DType::kFloat32, "x")}, "chain");
  ASSERT_EQ(graph->nodes().size(), static_cast<std::size_t>(kChain) + 1);
  graph.reset();  // crashed here
  SUCCEED();
}

}  // namespace
}  // namespace strata
