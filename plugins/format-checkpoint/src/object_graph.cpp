#include "object_graph.hpp"

#include <vector>

#include "strata/error.hpp"
#include "strata/tf/trackable_object_graph.pb.h"

namespace strata::ckpt {

std::string serialize_object_graph(const CheckpointObjectGraph& graph) {
  tf::TrackableObjectGraph proto;
  for (const auto& node : graph.nodes) {
    auto* n = proto.add_nodes();
    for (const auto& c : node.children) {
      auto* r = n->add_children();
      r->set_node_id(c.node_id);
      r->set_local_name(c.local_name);
    }
    for (const auto& a : node.attributes) {
      auto* t = n->add_attributes();
      t->set_name(a.name);
      t->set_full_name(a.full_name);
      t->set_checkpoint_key(a.checkpoint_key);
    }
    for (const auto& s : node.slot_variables) {
      auto* r = n->add_slot_variables();
      r->set_original_variable_node_id(s.original_variable_node_id);
      r->set_slot_name(s.slot_name);
      r->set_slot_variable_node_id(s.slot_variable_node_id);
    }
    if (node.has_checkpoint_values) {
      auto* b = n->mutable_has_checkpoint_values();
      if (*node.has_checkpoint_values) b->set_value(true);
    }
  }
  std::string out;
  proto.SerializeToString(&out);
  return out;
}

CheckpointObjectGraph parse_object_graph(std::string_view bytes, std::string_view what) {
  tf::TrackableObjectGraph proto;
  STRATA_CHECK(bytes.size() <= static_cast<std::size_t>(INT32_MAX) &&
                   proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())),
               FormatError, what, " is not a valid TrackableObjectGraph");
  const int n = proto.nodes_size();
  STRATA_CHECK(n > 0, FormatError, what, " has no nodes (node 0 must be the root)");
  CheckpointObjectGraph graph;
  graph.nodes.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto& p = proto.nodes(i);
    auto& node = graph.nodes[static_cast<std::size_t>(i)];
    node.children.reserve(static_cast<std::size_t>(p.children_size()));
    for (const auto& c : p.children()) {
      STRATA_CHECK(c.node_id() >= 0 && c.node_id() < n, FormatError, what, ": node ", i, " has child '", c.local_name(),
                   "' with node id ", c.node_id(), ", outside the graph's ", n, " nodes");
      node.children.push_back({c.node_id(), c.local_name()});
    }
    for (const auto& a : p.attributes()) node.attributes.push_back({a.name(), a.full_name(), a.checkpoint_key()});
    for (const auto& s : p.slot_variables()) {
      STRATA_CHECK(s.original_variable_node_id() >= 0 && s.original_variable_node_id() < n &&
                       s.slot_variable_node_id() >= 0 && s.slot_variable_node_id() < n,
                   FormatError, what, ": node ", i, " has slot variable '", s.slot_name(),
                   "' referring to a node outside the graph's ", n, " nodes");
      node.slot_variables.push_back({s.original_variable_node_id(), s.slot_name(), s.slot_variable_node_id()});
    }
    if (p.has_has_checkpoint_values()) node.has_checkpoint_values = p.has_checkpoint_values().value();
  }
  // Cycle check: iterative depth-first search; an edge to a node on the current path is a
  // cycle, unless it points at the root.
  enum : unsigned char { kNew, kOnPath, kDone };
  std::vector<unsigned char> state(static_cast<std::size_t>(n), kNew);
  std::vector<std::pair<int, std::size_t>> stack;
  for (int start = 0; start < n; ++start) {
    if (state[static_cast<std::size_t>(start)] != kNew) continue;
    stack.emplace_back(start, 0);
    state[static_cast<std::size_t>(start)] = kOnPath;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      const auto& children = graph.nodes[static_cast<std::size_t>(node)].children;
      if (next == children.size()) {
        state[static_cast<std::size_t>(node)] = kDone;
        stack.pop_back();
        continue;
      }
      const auto& child = children[next++];
      const int c = child.node_id;
      if (c == 0) continue;
      if (state[static_cast<std::size_t>(c)] == kOnPath) {
        STRATA_THROW(FormatError, what, " has a cycle: node ", node, "'s child '", child.local_name, "' leads back to node ",
                     c, " (an object cannot contain itself)");
      }
      if (state[static_cast<std::size_t>(c)] == kNew) {
        state[static_cast<std::size_t>(c)] = kOnPath;
        stack.emplace_back(c, 0);
      }
    }
  }
  return graph;
}

}  // namespace strata::ckpt
