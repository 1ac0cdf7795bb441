"""StringLookup and IntegerLookup (issue 23) for the layer harness: string inputs as numpy '<U'
arrays, vocabularies in the config, the dense output modes, invert (string outputs), and
lookups feeding trainable layers (gradients flow to the layers after the lookup)."""

import numpy as np


def models(keras, rng):
    L = keras.layers
    vocab = ["the", "cat", "sat", "on", "mat"]

    def randomized(model):
        model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
        return model

    def words(*shape):
        pool = vocab + ["dog", "", "THE"]
        return np.array(rng.choice(pool, size=shape), dtype="<U8")

    out = []

    # int indices (mask token "", one OOV index) into an Embedding: the usual text front end.
    i = keras.Input((4,), dtype="string")
    h = L.StringLookup(vocabulary=vocab, mask_token="")(i)
    h = L.Embedding(7, 3)(h)
    h = L.GlobalAveragePooling1D()(h)
    out.append(dict(name="lookup_string_embedding", model=randomized(keras.Model(i, L.Dense(2)(h))), x=[words(3, 4)]))

    # multi_hot and count, then Dense.
    i = keras.Input((5,), dtype="string")
    mh = L.StringLookup(vocabulary=vocab, output_mode="multi_hot")(i)
    ct = L.StringLookup(vocabulary=vocab, output_mode="count", pad_to_max_tokens=True, max_tokens=8)(i)
    m = keras.Model(i, [L.Dense(2)(mh), L.Dense(2)(ct)])
    out.append(dict(name="lookup_string_multi_hot_count", model=randomized(m), x=[words(3, 5)]))

    # IntegerLookup with a mask token and several (floormod-hashed) OOV indices; one_hot.
    i, j = keras.Input((4,), dtype="int64"), keras.Input((1,), dtype="int64")
    ids = L.IntegerLookup(vocabulary=[3, 5, 7, 11], mask_token=0, num_oov_indices=2)(i)
    oh = L.IntegerLookup(vocabulary=[3, 5, 7, 11], output_mode="one_hot")(j)
    m = keras.Model([i, j], [ids, L.Dense(2)(oh)])
    pool = [0, 3, 5, 7, 11, 4, -6, 20]
    xs = [rng.choice(pool, size=(3, 4)).astype("int64"), rng.choice(pool, size=(3, 1)).astype("int64")]
    out.append(dict(name="lookup_integer_oov_one_hot", model=randomized(m), x=xs))

    # invert: indices back to strings (string outputs compare exactly).
    i = keras.Input((4,), dtype="int64")
    m = keras.Model(i, L.StringLookup(vocabulary=vocab, mask_token="[M]", invert=True)(i))
    x = rng.randint(0, 9, size=(3, 4)).astype("int64")
    out.append(dict(name="lookup_string_invert", model=m, x=[x], grad=False))

    # tf_idf with idf weights in the config (Keras 3 stores the weights by name, not index).
    i = keras.Input((4,), dtype="string")
    t = L.StringLookup(vocabulary=vocab, idf_weights=[0.5, 1.0, 1.5, 2.0, 2.5], output_mode="tf_idf")(i)
    dense = L.Dense(2)
    m = keras.Model(i, dense(t))
    dense.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in dense.get_weights()])
    out.append(dict(name="lookup_string_tf_idf", model=m, x=[words(3, 4)], keras3=False))
    return out
