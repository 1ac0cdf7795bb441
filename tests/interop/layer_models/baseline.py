"""The harness's own check: layers Strata has had since the first wave, through the same path
as the new families (a broken harness shows here first)."""


def models(keras, rng):
    L = keras.layers

    def randomized(model):
        model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
        return model

    def f(*shape):
        return rng.uniform(-1.0, 1.0, size=shape).astype("float32")

    out = []
    i = keras.Input((4,))
    out.append(dict(name="baseline_dense", model=randomized(keras.Model(i, L.Dense(3, activation="tanh")(i))),
                    x=[f(3, 4)]))
    i = keras.Input((6, 6, 2))
    h = L.Conv2D(3, 3, padding="same", activation="relu")(i)
    h = L.BatchNormalization()(h)
    o = L.GlobalAveragePooling2D()(h)
    m = keras.Model(i, o)
    ws = m.get_weights()
    ws = [rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in ws[:4]] + [
        rng.uniform(-0.2, 0.2, ws[4].shape).astype("float32"), rng.uniform(0.5, 1.5, ws[5].shape).astype("float32")]
    m.set_weights(ws)
    out.append(dict(name="baseline_conv_bn", model=m, x=[f(2, 6, 6, 2)]))
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = L.Dense(2, name="shared")
    m = randomized(keras.Model([a, b], [shared(a), L.Concatenate()([shared(a), shared(b)])]))
    out.append(dict(name="baseline_two_in_two_out", model=m, x=[f(2, 3), f(2, 3)]))
    return out
