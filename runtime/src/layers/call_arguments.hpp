// Private to the runtime: the per-node call arguments of layers implementing
// strata::CallArgumentsLayer (strata/plugin/call_arguments.hpp, "Per node"). Layer-call
// nodes keep them as a JSON string attribute; every executor of recorded nodes runs a
// node's layer through run_layer_node so the layer sees its node's arguments.
#pragma once

#include <optional>
#include <vector>

#include "strata/graph.hpp"
#include "strata/layer.hpp"

namespace strata::internal {

// The node attribute holding a CallArgumentsLayer node's arguments (JSON text).
inline constexpr const char* kCallArgumentsAttr = "strata.call_arguments";

// Stores `layer`'s call_arguments() with `node` when the layer implements
// CallArgumentsLayer; nothing otherwise.
void record_call_arguments(const Layer& layer, GraphNode& node);

// The arguments stored with `node`, or null when it has none.
std::optional<Config> stored_call_arguments(const GraphNode& node);

// node.layer->call_with_masks(inputs, ctx), with the node's stored arguments visible to
// the layer through recorded_call_arguments() while it runs.
Layer::Outputs run_layer_node(const GraphNode& node, const std::vector<Tensor>& inputs, const CallContext& ctx);

}  // namespace strata::internal
