#include "layers/call_arguments.hpp"

#include <optional>

#include "strata/plugin/call_arguments.hpp"

namespace strata {

CallArgumentsLayer::~CallArgumentsLayer() = default;

namespace {

struct Running {
  const Layer* layer;
  const Config* arguments;
};
// The recorded nodes running on this thread, innermost last (a Functional model nested in
// another runs its own nodes inside the outer node's call).
thread_local std::vector<Running> t_running;

class RunningScope {
 public:
  RunningScope(const Layer* layer, const Config* arguments) { t_running.push_back({layer, arguments}); }
  ~RunningScope() { t_running.pop_back(); }
  RunningScope(const RunningScope&) = delete;
  RunningScope& operator=(const RunningScope&) = delete;
};

}  // namespace

const Config* recorded_call_arguments(const Layer& layer) noexcept {
  // Only the innermost running node counts: a layer called inside that node's layer
  // (a child, or the same class) is a direct call.
  if (t_running.empty() || t_running.back().layer != &layer) return nullptr;
  return t_running.back().arguments;
}

namespace internal {

void record_call_arguments(const Layer& layer, GraphNode& node) {
  if (const auto* with_args = dynamic_cast<const CallArgumentsLayer*>(&layer)) {
    node.attrs.set(kCallArgumentsAttr, with_args->call_arguments().dump());
  }
}

std::optional<Config> stored_call_arguments(const GraphNode& node) {
  const AttrValue* v = node.attrs.find(kCallArgumentsAttr);
  if (v == nullptr || !std::holds_alternative<std::string>(*v)) return std::nullopt;
  return Config::parse(std::get<std::string>(*v));
}

Layer::Outputs run_layer_node(const GraphNode& node, const std::vector<Tensor>& inputs, const CallContext& ctx) {
  const std::optional<Config> arguments = stored_call_arguments(node);
  // Other layers' calls inside this one see no arguments of this node.
  RunningScope scope(node.layer.get(), arguments ? &*arguments : nullptr);
  return node.layer->call_with_masks(inputs, ctx);
}

}  // namespace internal
}  // namespace strata
