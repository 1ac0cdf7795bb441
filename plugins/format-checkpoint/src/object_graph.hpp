// TrackableObjectGraph <-> CheckpointObjectGraph, with the checks a reader needs before
// trusting a graph from a file.
#pragma once

#include <string>
#include <string_view>

#include "strata/checkpoint.hpp"

namespace strata::ckpt {

// The wire bytes of `graph` (a TrackableObjectGraph).
std::string serialize_object_graph(const CheckpointObjectGraph& graph);

// Parses and checks a TrackableObjectGraph: it must parse, have at least one node, and
// every child and slot reference must name an existing node. Cycles are refused except
// for edges back to the root (tf.keras's save_weights writes a "root" child pointing at
// node 0). Every failure is a FormatError naming `what`.
CheckpointObjectGraph parse_object_graph(std::string_view bytes, std::string_view what);

}  // namespace strata::ckpt
