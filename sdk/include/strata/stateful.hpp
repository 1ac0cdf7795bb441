// State carried from one call of a layer to the next, as Keras's stateful recurrent layers
// keep it (`LSTM(..., stateful=True)`): the final states of a batch are the initial states
// of the next batch, until reset_states(). Such state is not a weight: it is not in
// weights(), so H5 files and checkpoints do not hold it (as in tf-keras 2.17).
//
// A layer class that carries state implements StatefulLayer besides Layer;
// reset_states(layer) resets that layer and every layer below it (a model's layers,
// a wrapper's copies), as Keras's layer.reset_states() / model.reset_states().
//
// A SavedModel does hold the states (tf-keras writes them under the layer's
// `keras_api/states/N` and its load_model continues from them): a layer whose state lives
// in Variables implements StateVariablesLayer (plugin ABI 2.2) so that the SavedModel format
// writes and restores them; H5 files and checkpoints still do not.
#pragma once

#include <vector>

#include "strata/export.hpp"

#include "strata/layer.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

class StatefulLayer {
 public:
  virtual ~StatefulLayer();
  // Sets this layer's own carried state to its initial value (zeros for the RNN layers);
  // children are not its concern (reset_states walks them). Needs exclusive access, like
  // training.
  virtual void reset_own_states() = 0;
};

// Since plugin ABI 2.2: a StatefulLayer whose carried state is held in Variables (Keras's
// `layer.states`). The SavedModel format writes them under the layer's object as
// `keras_api/states/<i>` (i in this order) and restores them from there, as tf-keras 2.17
// and 2.21 do; they are never weights. A separate class rather than a new virtual on
// StatefulLayer, so that classes built against ABI 2.1 keep their vtables.
class StateVariablesLayer : public StatefulLayer {
 public:
  ~StateVariablesLayer() override;
  // The state variables in Keras's order (an LSTM: h then c), empty before build.
  // Thread safety: like weights(), reading the list may be concurrent.
  virtual std::vector<Variable> state_variables() const = 0;
  // Default: assigns zeros of each variable's shape, dtype and device.
  void reset_own_states() override;
};

// Keras's reset_states(): resets every StatefulLayer among `layer` and the layers it
// tracks, recursively (for a model: all of its layers, nested models included). A layer
// without state is left alone, so this is safe on any model. Needs exclusive access.
void reset_states(Layer& layer);

}  // namespace strata

STRATA_API_END
