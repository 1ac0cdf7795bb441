"""ConvLSTM1D/2D/3D and LocallyConnected1D/2D (plugins/layers/src/conv_lstm.cpp,
locally_connected.cpp).

ConvLSTM models use recurrent_activation="sigmoid" so that Keras 3 (whose hard_sigmoid differs
from tf-keras's) runs them too; one model keeps tf-keras's default hard_sigmoid (tf-keras only).
tf-keras on CPU cannot run channels_first convolutions, so ConvLSTM's channels_first is checked
by the plugin tests only; LocallyConnected (no convolution) runs channels_first here. Keras 3
removed LocallyConnected and refuses ConvLSTM inputs of unknown spatial size: those models come
last (the rng draws of the others do not depend on them) and are tf-keras only."""


def models(keras, rng):
    L = keras.layers

    def randomized(model, scale=0.5):
        model.set_weights([rng.uniform(-scale, scale, w.shape).astype(w.dtype) for w in model.get_weights()])
        return model

    def f(*shape):
        return rng.uniform(-1.0, 1.0, size=shape).astype("float32")

    def one(name, shape, layer, batch=2, **extra):
        i = keras.Input(shape)
        return dict(name=name, model=randomized(keras.Model(i, layer(i))), x=[f(batch, *shape)], **extra)

    out = [
        one("convlstm_1d_sequences_same", (3, 6, 2),
            L.ConvLSTM1D(3, 2, padding="same", return_sequences=True, recurrent_activation="sigmoid")),
        one("convlstm_2d_valid_strides", (3, 7, 6, 2),
            L.ConvLSTM2D(2, 3, strides=2, recurrent_activation="sigmoid")),
        one("convlstm_2d_state_backwards_dilated", (3, 6, 5, 2),
            L.ConvLSTM2D(2, 2, padding="same", dilation_rate=2, return_state=True, go_backwards=True,
                         recurrent_activation="sigmoid")),
        one("convlstm_3d_sequences", (2, 3, 4, 4, 1),
            L.ConvLSTM3D(2, 2, padding="same", return_sequences=True, recurrent_activation="sigmoid")),
        one("convlstm_3d_valid_strides", (2, 5, 4, 5, 2),
            L.ConvLSTM3D(3, (2, 3, 2), strides=(2, 1, 2), use_bias=False, recurrent_activation="sigmoid")),
        one("convlstm_2d_hard_sigmoid", (2, 5, 5, 1), L.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
            keras3=False),
    ]
    # Initial states as inputs (h and c, channels_last, the output's spatial shape).
    i, h0, c0 = keras.Input((3, 5, 2)), keras.Input((5, 2)), keras.Input((5, 2))
    y = L.ConvLSTM1D(2, 3, padding="same", return_sequences=True, recurrent_activation="sigmoid")(
        i, initial_state=[h0, c0])
    out.append(dict(name="convlstm_1d_initial_state", model=randomized(keras.Model([i, h0, c0], y)),
                    x=[f(2, 3, 5, 2), f(2, 5, 2), f(2, 5, 2)]))
    # Masking: a mask per position (batch, timesteps, rows, cols) and whole masked steps.
    i = keras.Input((3, 4, 4, 2))
    y = L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, recurrent_activation="sigmoid")(L.Masking()(i))
    x = f(2, 3, 4, 4, 2)
    x[0, 1] = 0.0
    x[1, 2, 1:3, 2] = 0.0
    # keras3=False: Keras 3's archive of this model holds its ops NotEqual and Any as layers,
    # which Strata does not register (not this family's classes).
    out.append(dict(name="convlstm_2d_masking", model=randomized(keras.Model(i, y)), x=[x], keras3=False))
    if not hasattr(L, "LocallyConnected1D"):  # Keras 3
        return out
    # Spatial sizes unknown when the model is built (Keras 3 refuses them).
    i = keras.Input((3, None, None, 2))
    y = L.ConvLSTM2D(2, 3, padding="same", recurrent_activation="sigmoid")(i)
    out.append(dict(name="convlstm_2d_unknown_size", model=randomized(keras.Model(i, y)), x=[f(2, 3, 5, 4, 2)],
                    keras3=False))
    out += [
        one("convlstm_lc1d_impl1_strides", (8, 3), L.LocallyConnected1D(4, 3, strides=2, activation="tanh"),
            keras3=False),
        one("convlstm_lc1d_impl2_same", (7, 3), L.LocallyConnected1D(2, 2, padding="same", implementation=2),
            keras3=False),
        one("convlstm_lc1d_impl3_same_strides", (7, 2),
            L.LocallyConnected1D(3, 3, strides=2, padding="same", implementation=3), keras3=False),
        one("convlstm_lc1d_impl1_channels_first", (3, 6),
            L.LocallyConnected1D(2, 2, data_format="channels_first"), keras3=False),
        one("convlstm_lc2d_impl1_strides", (5, 6, 2), L.LocallyConnected2D(3, (2, 3), strides=(2, 1)), keras3=False),
        one("convlstm_lc2d_impl2_channels_first_same", (2, 5, 4),
            L.LocallyConnected2D(2, 2, padding="same", data_format="channels_first", implementation=2), keras3=False),
        one("convlstm_lc2d_impl3_same_strides", (5, 4, 2),
            L.LocallyConnected2D(2, 3, strides=2, padding="same", implementation=3, activation="relu"), keras3=False),
        one("convlstm_lc2d_impl3_channels_first", (3, 4, 4),
            L.LocallyConnected2D(2, 2, data_format="channels_first", implementation=3, use_bias=False), keras3=False),
    ]
    return out
