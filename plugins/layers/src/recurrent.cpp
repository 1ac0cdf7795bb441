// Registration of the recurrent and masking layers.
#include "recurrent.hpp"

#include "recurrent_internal.hpp"
#include "strata/plugin/layers.hpp"

void register_recurrent_layers(strata::Registrar& registrar) {
  using namespace strata::recurrent;
  strata::register_layer<Embedding>(registrar, "Embedding");
  strata::register_layer<Masking>(registrar, "Masking");
  strata::register_layer<SimpleRNN>(registrar, "SimpleRNN");
  strata::register_layer<LSTM>(registrar, "LSTM");
  strata::register_layer<GRU>(registrar, "GRU");
  strata::register_layer<RNN>(registrar, "RNN");
  strata::register_layer<SimpleRNNCell>(registrar, "SimpleRNNCell");
  strata::register_layer<LSTMCell>(registrar, "LSTMCell");
  strata::register_layer<GRUCell>(registrar, "GRUCell");
  strata::register_layer<StackedRNNCells>(registrar, "StackedRNNCells");
  strata::register_layer<Bidirectional>(registrar, "Bidirectional");
  strata::register_layer<TimeDistributed>(registrar, "TimeDistributed");
}
