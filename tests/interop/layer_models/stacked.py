"""StackedRNNCells (plugins/layers/src/stacked_rnn_cells.cpp): RNN(StackedRNNCells([...])) over
mixes of LSTMCell, GRUCell and SimpleRNNCell (return_sequences, return_state, initial states,
go_backwards, a mask), and StackedRNNCells called by itself on (x, states) in a Functional
model, as tf-keras allows (its outputs: the last cell's output, then every cell's new states).

Keras 3's RNN(StackedRNNCells) and StackedRNNCells(x, states) run the same builders, except
where a model notes otherwise."""


def models(keras, rng):
    L = keras.layers

    def randomized(model, scale=0.5):
        model.set_weights([rng.uniform(-scale, scale, w.shape).astype(w.dtype) for w in model.get_weights()])
        return model

    def f(*shape):
        return rng.uniform(-1.0, 1.0, size=shape).astype("float32")

    def flat(v):  # RNN(return_state=True) of a stack returns [output, *states nested per cell]
        return [t for e in v for t in flat(e)] if isinstance(v, (list, tuple)) else [v]

    out = []

    # LSTMCell then GRUCell, last output.
    i = keras.Input((4, 3))
    y = L.RNN(L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(3)]))(i)
    out.append(dict(name="stacked_rnn_lstm_gru", model=randomized(keras.Model(i, y)), x=[f(2, 4, 3)]))

    # Three cells (SimpleRNN, GRU without reset_after, LSTM), whole sequence, backwards.
    i = keras.Input((5, 2))
    y = L.RNN(L.StackedRNNCells([L.SimpleRNNCell(3), L.GRUCell(2, reset_after=False), L.LSTMCell(3)]),
              return_sequences=True, go_backwards=True)(i)
    out.append(dict(name="stacked_rnn_three_sequences_backwards", model=randomized(keras.Model(i, y)),
                    x=[f(3, 5, 2)]))

    # return_state with initial states as inputs: GRU (1 state) then LSTM (h, c).
    i, g0, h0, c0 = keras.Input((3, 2)), keras.Input((3,)), keras.Input((2,)), keras.Input((2,))
    ys = L.RNN(L.StackedRNNCells([L.GRUCell(3), L.LSTMCell(2)]), return_sequences=True, return_state=True)(
        i, initial_state=[g0, [h0, c0]])
    out.append(dict(name="stacked_rnn_state_initial", model=randomized(keras.Model([i, g0, h0, c0], flat(ys))),
                    x=[f(2, 3, 2), f(2, 3), f(2, 2), f(2, 2)]))

    # return_state without initial states, and a mask from Masking.
    i = keras.Input((4, 2))
    ys = L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.SimpleRNNCell(2, activation="relu")]), return_state=True)(
        L.Masking()(i))
    x = f(2, 4, 2)
    x[0, 2] = 0.0
    x[1, 3] = 0.0
    # keras3=False: Keras 3's archive holds Masking's ops as layers (not this family's classes).
    out.append(dict(name="stacked_rnn_state_masking", model=randomized(keras.Model(i, flat(ys))), x=[x], keras3=False))

    # StackedRNNCells by itself: one step on (x, states) nested per cell.
    x_in, h1, c1, g1 = keras.Input((3,)), keras.Input((4,)), keras.Input((4,)), keras.Input((2,))
    y, states = L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(2)])(x_in, [[h1, c1], g1])
    out.append(dict(name="stacked_cells_step", model=randomized(keras.Model([x_in, h1, c1, g1], flat([y, states]))),
                    x=[f(2, 3), f(2, 4), f(2, 4), f(2, 2)]))
    return out
