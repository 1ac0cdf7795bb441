// State carried from one call of a layer to the next, as Keras's stateful recurrent layers
// keep it (`LSTM(..., stateful=True)`): the final states of a batch are the initial states
// of the next batch, until reset_states(). Such state is not a weight: it is not in
// weights(), so H5 files and checkpoints do not hold it (as in tf-keras 2.17).
//
// A layer class that carries state implements StatefulLayer besides Layer;
// reset_states(layer) resets that layer and every layer below it (a model's layers,
// a wrapper's copies), as Keras's layer.reset_states() / model.reset_states().
#pragma once

#include "strata/export.hpp"

#include "strata/layer.hpp"

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

// Keras's reset_states(): resets every StatefulLayer among `layer` and the layers it
// tracks, recursively (for a model: all of its layers, nested models included). A layer
// without state is left alone, so this is safe on any model. Needs exclusive access.
void reset_states(Layer& layer);

}  // namespace strata

STRATA_API_END
