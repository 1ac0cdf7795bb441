// reset_states (strata/stateful.hpp): a walk over the tracked layers.
#include "strata/stateful.hpp"

#include <unordered_set>

#include "strata/ops.hpp"

namespace strata {

StatefulLayer::~StatefulLayer() = default;
StateVariablesLayer::~StateVariablesLayer() = default;

void StateVariablesLayer::reset_own_states() {
  for (auto& s : state_variables()) s.assign(zeros(s.shape(), s.dtype(), s.device()));
}

namespace {

void reset_tree(Layer& layer, std::unordered_set<const Layer*>& seen) {
  if (!seen.insert(&layer).second) return;  // a shared layer is reset once
  if (auto* stateful = dynamic_cast<StatefulLayer*>(&layer)) stateful->reset_own_states();
  for (const auto& child : layer.children()) {
    if (child.layer) reset_tree(*child.layer, seen);
  }
}

}  // namespace

void reset_states(Layer& layer) {
  std::unordered_set<const Layer*> seen;
  reset_tree(layer, seen);
}

}  // namespace strata
