"""Fixtures for tests/interop/lookup_assets_test.cpp (issue 23): lookup vocabularies that live
outside the layer's config, written by real tf-keras and Keras 3.

OUT/sm_file/          tf-keras SavedModel: StringLookup(vocabulary=<a file>) -> the file is
                      copied into the SavedModel's assets/ (TextFileInitializer)
OUT/sm_adapted_tv/    tf-keras SavedModel: an adapted TextVectorization (its vocabulary in the
                      lookup table's captured constants) -> Embedding -> pooling
OUT/k3_tv/model.keras Keras 3 archive: an adapted TextVectorization (assets/.../vocabulary.txt)
                      -> Embedding -> pooling -> Dense
each with x0.npy (numpy '<U' strings) and y0.npy (the model's output).

Usage: python generate_lookup_assets.py OUT
"""
import os
import subprocess
import sys

import numpy as np

TEXTS = np.array(["the cat sat", "on the mat", "The dog, the CAT!", "", "a bird sat on the cat"], dtype="<U32")


def tf_keras_part(out):
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import tf_keras as keras

    rng = np.random.RandomState(23)
    d = os.path.join(out, "sm_file")
    os.makedirs(d)
    vocab_file = os.path.join(out, "vocab_source.txt")
    with open(vocab_file, "w") as f:
        f.write("red\ngreen\nblue\n")
    i = keras.Input((3,), dtype="string")
    m = keras.Model(i, keras.layers.StringLookup(vocabulary=vocab_file)(i))
    m.save(os.path.join(d, "savedmodel"), save_format="tf")
    x = np.array([["red", "blue", "pink"], ["green", "red", ""]], dtype="<U8")
    np.save(os.path.join(d, "x0.npy"), x)
    np.save(os.path.join(d, "y0.npy"), m(tf.constant(x)).numpy())

    d = os.path.join(out, "sm_adapted_tv")
    os.makedirs(d)
    tv = keras.layers.TextVectorization(output_sequence_length=4)
    tv.adapt(TEXTS)
    i = keras.Input((1,), dtype="string")
    emb = keras.layers.Embedding(tv.vocabulary_size(), 2)
    m = keras.Model(i, keras.layers.GlobalAveragePooling1D()(emb(tv(i))))
    emb.set_weights([rng.uniform(-1, 1, w.shape).astype(w.dtype) for w in emb.get_weights()])
    m.save(os.path.join(d, "savedmodel"), save_format="tf")
    x = TEXTS.reshape(-1, 1)
    np.save(os.path.join(d, "x0.npy"), x)
    np.save(os.path.join(d, "y0.npy"), m(tf.constant(x)).numpy())


def keras3_part(out):
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    import keras
    import tensorflow as tf

    rng = np.random.RandomState(3)
    d = os.path.join(out, "k3_tv")
    os.makedirs(d)
    tv = keras.layers.TextVectorization(output_sequence_length=4, name="tv")
    tv.adapt(TEXTS)
    i = keras.Input((1,), dtype="string")
    emb, dense = keras.layers.Embedding(tv.vocabulary_size(), 2), keras.layers.Dense(2)
    m = keras.Model(i, dense(keras.layers.GlobalAveragePooling1D()(emb(tv(i)))))
    for layer in (emb, dense):
        layer.set_weights([rng.uniform(-1, 1, w.shape).astype(w.dtype) for w in layer.get_weights()])
    m.save(os.path.join(d, "model.keras"))
    x = TEXTS.reshape(-1, 1)
    np.save(os.path.join(d, "x0.npy"), x)
    np.save(os.path.join(d, "y0.npy"), np.asarray(m(tf.constant(x))))


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if sys.argv[1] == "--keras3":
        keras3_part(sys.argv[2])
        return
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tf_keras_part(out)
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    subprocess.run([sys.executable, os.path.abspath(__file__), "--keras3", out], env=env, check=True)
    open(os.path.join(out, "done"), "w").close()


if __name__ == "__main__":
    main()
