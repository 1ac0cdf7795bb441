// The recurrent and masking layers of the layers plugin: Embedding, Masking, SimpleRNN,
// LSTM, GRU, RNN (built-in cells, one or stacked), StackedRNNCells, the cells SimpleRNNCell, LSTMCell and
// GRUCell as layers of their own, and the wrappers Bidirectional and TimeDistributed,
// written in ops so they run on every backend and differentiate through
// the tape (backpropagation through time). Implemented in src/recurrent*.cpp;
// register_all (plugin.cpp) calls register_recurrent_layers after registering everything
// else.
#pragma once

#include "strata/plugin/registrar.hpp"

// Stages the classes Embedding, Masking, SimpleRNN, LSTM, GRU, RNN, SimpleRNNCell, LSTMCell,
// GRUCell, Bidirectional and TimeDistributed on `registrar`.
void register_recurrent_layers(strata::Registrar& registrar);
