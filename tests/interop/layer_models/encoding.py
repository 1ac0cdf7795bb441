"""CategoryEncoding, Discretization, Hashing and HashedCrossing (plugins/layers/src/preprocessing_encoding.cpp).

None of them has weights or a gradient (grad False). The string-input model (string .npy inputs,
`<U`) passes every format both ways; STRING_INPUTS False leaves it out.
"""

STRING_INPUTS = True


def models(keras, rng):
    L = keras.layers
    out = []

    def ints(low, high, *shape):
        return rng.randint(low, high, size=shape).astype("int64")

    # CategoryEncoding: multi_hot (default) and count on (batch, 3); one_hot on (batch, 1).
    i = keras.Input((3,), dtype="int64", name="ids")
    m = keras.Model(i, [L.CategoryEncoding(num_tokens=5)(i), L.CategoryEncoding(num_tokens=6, output_mode="count")(i)])
    out.append(dict(name="encoding_category_multi_hot_count", model=m, x=[ints(0, 5, 4, 3)], grad=False))
    i = keras.Input((1,), dtype="int32", name="ids")
    m = keras.Model(i, L.CategoryEncoding(num_tokens=4, output_mode="one_hot")(i))
    out.append(dict(name="encoding_category_one_hot", model=m, x=[ints(0, 4, 3, 1).astype("int32")], grad=False))
    # count_weights, a keyword argument of the call (written with the node).
    i, w = keras.Input((3,), dtype="int64", name="ids"), keras.Input((3,), name="weights")
    m = keras.Model([i, w], L.CategoryEncoding(num_tokens=4, output_mode="count")(i, count_weights=w))
    out.append(dict(name="encoding_category_count_weights", model=m,
                    x=[ints(0, 4, 3, 3), rng.uniform(0.0, 2.0, size=(3, 3)).astype("float32")], grad=False))

    # Discretization: int (int64 output) and multi_hot / one_hot; values on the boundaries too.
    i = keras.Input((4,), name="values")
    m = keras.Model(i, [L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5])(i),
                        L.Discretization(bin_boundaries=[0.0, 0.25], output_mode="multi_hot")(i)])
    x = rng.uniform(-1.0, 1.0, size=(3, 4)).astype("float32")
    x[0, :3] = [-0.5, 0.0, 0.5]
    out.append(dict(name="encoding_discretization", model=m, x=[x], grad=False))
    i = keras.Input((1,), name="values")
    m = keras.Model(i, L.Discretization(bin_boundaries=[-0.25, 0.25], output_mode="one_hot")(i))
    out.append(dict(name="encoding_discretization_one_hot", model=m,
                    x=[rng.uniform(-1.0, 1.0, size=(4, 1)).astype("float32")], grad=False))

    # Hashing of integers (hashed as their decimal text): fast, salted with a mask, one_hot.
    i = keras.Input((3,), dtype="int64", name="ids")
    m = keras.Model(i, [L.Hashing(num_bins=16)(i),
                        L.Hashing(num_bins=8, salt=[3, 7], mask_value=0, output_mode="multi_hot")(i),
                        L.Hashing(num_bins=5, salt=1234)(i)])
    x = ints(-50, 10**6, 4, 3)
    x[0, 0] = 0
    out.append(dict(name="encoding_hashing_int", model=m, x=[x], grad=False))

    # HashedCrossing of integers.
    a, b = keras.Input((1,), dtype="int64", name="a"), keras.Input((1,), dtype="int64", name="b")
    m = keras.Model([a, b], [L.HashedCrossing(num_bins=32)([a, b]),
                             L.HashedCrossing(num_bins=4, output_mode="one_hot")([b, a])])
    out.append(dict(name="encoding_hashed_crossing_int", model=m, x=[ints(-9, 99, 4, 1), ints(0, 3, 4, 1)],
                    grad=False))

    if not STRING_INPUTS:
        return out
    # Strings: Hashing (fast, salted, masked) and HashedCrossing of a string with an integer.
    words = ["", "A", "hello", "h\u00e9llo w\u00f6rld", "keras", "tf", "0", "-5"]
    s = keras.Input((1,), dtype="string", name="words")
    n = keras.Input((1,), dtype="int64", name="n")
    m = keras.Model([s, n], [L.Hashing(num_bins=11)(s),
                             L.Hashing(num_bins=5, salt=42, mask_value="", output_mode="one_hot")(s),
                             L.HashedCrossing(num_bins=64)([s, n])])
    x = [[words[k]] for k in rng.randint(0, len(words), size=4)]
    x[0] = [""]
    out.append(dict(name="encoding_hashing_string", model=m, x=[__import__("numpy").array(x), ints(0, 9, 4, 1)],
                    grad=False))
    return out
