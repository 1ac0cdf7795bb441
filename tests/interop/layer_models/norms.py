"""Issue 23, family `norms`: GroupNormalization, UnitNormalization and SpectralNormalization
(plugins/layers/src/normalization_extra.cpp). Gradients are of inference, where
SpectralNormalization is its wrapped layer; its training update is checked against tf-keras's
numbers in tests/plugins/layers/norms_test.cpp."""


def models(keras, rng):
    L = keras.layers

    def randomized(model):
        model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
        return model

    def f(*shape):
        return rng.uniform(-1.0, 1.0, size=shape).astype("float32")

    def one(name, input_shape, layer, x, **extra):
        i = keras.Input(input_shape)
        return dict(name=name, model=randomized(keras.Model(i, layer(i))), x=[x], **extra)

    out = [
        # groups=1: layer normalization over everything but the batch.
        one("norms_group_one", (5, 4), L.GroupNormalization(groups=1), f(3, 5, 4)),
        # groups=-1: one group per channel (instance normalization), resolved to 6 when built.
        one("norms_group_instance", (3, 3, 6), L.GroupNormalization(groups=-1, epsilon=0.01), f(2, 3, 3, 6)),
        # a middle value, channels on axis 1, no beta.
        one("norms_group_axis1", (6, 4), L.GroupNormalization(groups=3, axis=1, center=False), f(2, 6, 4)),
        # axis -2 of a rank-4 input, no gamma.
        one("norms_group_axis_minus2", (3, 4, 2), L.GroupNormalization(groups=2, axis=-2, scale=False),
            f(2, 3, 4, 2)),
        one("norms_unit_last", (5,), L.UnitNormalization(), f(3, 5)),
        one("norms_unit_axes", (3, 4), L.UnitNormalization(axis=[1, 2]), f(2, 3, 4)),
        one("norms_spectral_dense", (4,), L.SpectralNormalization(L.Dense(3)), f(3, 4)),
        one("norms_spectral_conv2d", (5, 5, 2),
            L.SpectralNormalization(L.Conv2D(3, 2, padding="same"), power_iterations=2), f(2, 5, 5, 2)),
    ]
    # Embedding: Keras 3's SpectralNormalization casts its output to the inputs' dtype (int32), so
    # this one runs under tf-keras only.
    i = keras.Input((3,), dtype="int32")
    m = randomized(keras.Model(i, L.SpectralNormalization(L.Embedding(6, 4))(i)))
    out.append(dict(name="norms_spectral_embedding", model=m, x=[rng.randint(0, 6, size=(2, 3)).astype("int32")],
                    keras3=False))
    return out
