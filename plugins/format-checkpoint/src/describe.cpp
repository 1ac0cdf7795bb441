// `strata info` of a checkpoint: its tensors and its object graph, breadth-first from the
// root. A checkpoint is untrusted input whose size says little about its shape (a 1 MB
// index can hold a 100000-deep chain of objects or a root with 100000 children), so the
// work is linear in the file's size: each object's path is not kept but rebuilt, from
// parent links, for the objects listed, and only its last components; and the listing is
// capped (docs/RELIABILITY.md, "Linear-time loads").
#include <algorithm>
#include <vector>

#include "bundle.hpp"
#include "format_checkpoint.hpp"
#include "strata/checkpoint.hpp"
#include "strata/error.hpp"

namespace fs = std::filesystem;

namespace strata::ckpt {
namespace {

constexpr std::size_t kMaxListed = 10000;            // tensors, and objects
constexpr std::size_t kMaxChildrenListed = 100;      // per object
constexpr std::size_t kMaxNameBytes = 200;           // of one key or local name
constexpr int kMaxPathComponents = 8;                // the last ones of a path
constexpr std::size_t kMaxListingBytes = std::size_t{4} << 20;

// A key or name as listed: at most kMaxNameBytes, control bytes shown as '?'.
std::string shown(std::string_view name) {
  std::string out(name.substr(0, kMaxNameBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (name.size() > kMaxNameBytes) out += detail::concat("...(", name.size(), " bytes)");
  return out;
}

}  // namespace

std::string describe_bundle(const fs::path& prefix) {
  BundleReader reader(prefix);
  std::string out = detail::concat("format: checkpoint (TensorFlow tensor bundle)\nprefix: ", prefix.string(),
                                   "\ndata shards: ", reader.index().header.num_shards, "\n");
  const auto& entries = reader.index().entries;
  out += detail::concat("tensors: ", entries.size(), "\n");
  std::size_t listed = 0;
  for (const auto& [key, e] : entries) {
    if (listed == kMaxListed || out.size() >= kMaxListingBytes) break;
    ++listed;
    out += detail::concat("  ", shown(key), "  ", dtype_name(e.dtype), " ", Shape(e.shape).to_string(), "\n");
  }
  if (listed < entries.size()) {
    out += detail::concat("  ... ", entries.size() - listed, " tensors not listed (the listing stops at ", kMaxListed,
                          " lines or ", kMaxListingBytes >> 20, " MiB)\n");
  }
  const auto graph = reader.object_graph();
  if (!graph) {
    out += "object graph: none (a name-based checkpoint)\n";
    return out;
  }
  const std::size_t n = graph->nodes.size();
  out += detail::concat("object graph: ", n, " nodes (breadth-first from the root)\n");
  // The first path to each object, as its parent on that path and the child reference
  // that leads to it: a path is rebuilt only for an object listed.
  std::vector<int> parent(n, -1);
  std::vector<const CheckpointObjectGraph::Child*> via(n, nullptr);
  std::vector<std::size_t> depth(n, 0);
  std::vector<bool> seen(n, false);
  std::vector<int> order;
  order.reserve(n);
  order.push_back(0);
  seen[0] = true;
  for (std::size_t next = 0; next < order.size(); ++next) {
    const int at = order[next];
    for (const auto& c : graph->nodes[static_cast<std::size_t>(at)].children) {
      const auto id = static_cast<std::size_t>(c.node_id);
      if (seen[id]) continue;
      seen[id] = true;
      parent[id] = at;
      via[id] = &c;
      depth[id] = depth[static_cast<std::size_t>(at)] + 1;
      order.push_back(c.node_id);
    }
  }
  const auto path_of = [&](int id) {
    if (id == 0) return std::string("(root)");
    std::vector<const std::string*> parts;
    for (int at = id; at > 0 && static_cast<int>(parts.size()) < kMaxPathComponents; at = parent[static_cast<std::size_t>(at)]) {
      parts.push_back(&via[static_cast<std::size_t>(at)]->local_name);
    }
    const std::size_t d = depth[static_cast<std::size_t>(id)];
    std::string path = parts.size() < d ? ".../" : "";
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (it != parts.rbegin()) path += '/';
      path += shown(**it);
    }
    if (parts.size() < d) path += detail::concat(" (depth ", d, ")");
    return path;
  };
  std::size_t objects_listed = 0;
  const auto room = [&] { return objects_listed < kMaxListed && out.size() < kMaxListingBytes; };
  for (const int id : order) {
    if (!room()) break;
    ++objects_listed;
    const auto& node = graph->nodes[static_cast<std::size_t>(id)];
    out += detail::concat("  [", id, "] ", path_of(id));
    if (!node.children.empty()) {
      out += " ->";
      const std::size_t shown_children = std::min(node.children.size(), kMaxChildrenListed);
      for (std::size_t i = 0; i < shown_children; ++i) {
        out += detail::concat(" ", shown(node.children[i].local_name), "=[", node.children[i].node_id, "]");
      }
      if (shown_children < node.children.size()) {
        out += detail::concat(" ... (", node.children.size() - shown_children, " more children)");
      }
    }
    const std::size_t shown_attributes = std::min(node.attributes.size(), kMaxChildrenListed);
    for (std::size_t i = 0; i < shown_attributes; ++i) {
      out += detail::concat("  {", shown(node.attributes[i].name), ": ", shown(node.attributes[i].checkpoint_key), "}");
    }
    if (shown_attributes < node.attributes.size()) {
      out += detail::concat("  ... (", node.attributes.size() - shown_attributes, " more attributes)");
    }
    const std::size_t shown_slots = std::min(node.slot_variables.size(), kMaxChildrenListed);
    for (std::size_t i = 0; i < shown_slots; ++i) {
      const auto& s = node.slot_variables[i];
      out += detail::concat("  {slot ", shown(s.slot_name), " of [", s.original_variable_node_id, "]: [",
                            s.slot_variable_node_id, "]}");
    }
    if (shown_slots < node.slot_variables.size()) {
      out += detail::concat("  ... (", node.slot_variables.size() - shown_slots, " more slot variables)");
    }
    out += "\n";
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (seen[i]) continue;
    if (!room()) break;
    ++objects_listed;
    out += detail::concat("  [", i, "] (not reachable from the root: a slot variable or unused)\n");
  }
  if (objects_listed < n) {
    out += detail::concat("  ... ", n - objects_listed, " nodes not listed (the listing stops at ", kMaxListed,
                          " lines or ", kMaxListingBytes >> 20, " MiB)\n");
  }
  return out;
}

}  // namespace strata::ckpt
