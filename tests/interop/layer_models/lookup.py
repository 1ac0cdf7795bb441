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

    # int indices (mask token "", two OOV indices: FarmHash buckets) into an Embedding.
    i = keras.Input((4,), dtype="string")
    h = L.StringLookup(vocabulary=vocab, mask_token="", num_oov_indices=2)(i)
    h = L.Embedding(8, 3)(h)
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

    # tf_idf (idf weights in the config; the layer's one weight, tf-keras's unnamed "Variable"),
    # StringLookup and IntegerLookup into Dense, and a TextVectorization.
    i, j = keras.Input((4,), dtype="string"), keras.Input((3,), dtype="int64")
    sl = L.StringLookup(vocabulary=vocab, output_mode="tf_idf", idf_weights=[0.5, 1.0, 1.5, 2.0, 0.25])(i)
    il = L.IntegerLookup(vocabulary=[3, 5, 7], output_mode="tf_idf", idf_weights=[1.5, 0.5, 2.5],
                         pad_to_max_tokens=True, max_tokens=6)(j)
    m = keras.Model([i, j], [L.Dense(2)(sl), L.Dense(2)(il)])
    m = randomized(m)
    xs = [words(3, 4), rng.choice([3, 5, 7, 4, 9], size=(3, 3)).astype("int64")]
    out.append(dict(name="lookup_tf_idf", model=m, x=xs))

    def sentences(n):
        pool = ["The cat sat.", "on the MAT, the cat!", "", "dog's day", "the  the\tcat", "sat on"]
        return np.array([pool[k] for k in rng.randint(0, len(pool), size=n)], dtype="<U24")

    # TextVectorization: standardize + whitespace split + bigrams, padded/truncated, into an
    # Embedding; and multi_hot / count encodings (character split) into Dense.
    i = keras.Input((1,), dtype="string")
    tv = L.TextVectorization(vocabulary=vocab + ["the cat", "cat sat"], ngrams=2, output_sequence_length=5)
    h = L.GlobalAveragePooling1D()(L.Embedding(10, 3)(tv(i)))
    out.append(dict(name="lookup_text_int_ngrams", model=randomized(keras.Model(i, L.Dense(2)(h))),
                    x=[sentences(4).reshape(4, 1)]))
    i = keras.Input((), dtype="string")
    mh = L.TextVectorization(vocabulary=vocab, output_mode="multi_hot", standardize="lower")(i)
    ct = L.TextVectorization(vocabulary=["a", "t", "e", "c"], split="character", output_mode="count")(i)
    m = keras.Model(i, [L.Dense(2)(mh), L.Dense(2)(ct)])
    out.append(dict(name="lookup_text_multi_hot_count", model=randomized(m), x=[sentences(3)]))
    i = keras.Input((1,), dtype="string")
    tv = L.TextVectorization(vocabulary=vocab, output_mode="tf_idf", idf_weights=[0.5, 1.0, 1.5, 2.0, 0.25])
    m = keras.Model(i, L.Dense(2)(tv(i)))
    out.append(dict(name="lookup_text_tf_idf", model=randomized(m), x=[sentences(3).reshape(3, 1)]))
    return out
