"""Keras 3 nodes with keyword tensors (issue 18): tiny models saved by real Keras 3.

Keras 3 writes a layer call of a Functional model as {"args": [...], "kwargs": {...}} with
{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, tensor]}} for
each tensor, in the positional arguments after the first and in keyword arguments too
(MultiHeadAttention's value/key/attention_mask, an RNN's initial_state, a cell's states).
For each model this writes, into tests/data/keras3_nodes (committed; a few KiB):
  <name>.h5          Keras 3's legacy H5 (model.save("x.h5"): model_config and weights);
  <name>.json        Keras 3's model.to_json();
and index.json with, per model, the inputs, Keras 3's predictions, and the inbound_nodes
that tf-keras writes for the same architecture (same layer names), which is what Strata
writes back (Strata writes tf-keras's node dialect; Keras 3's is issue 21).
Run with the interop venv of tf-keras 2.17 (which has Keras 3.15.1 beside it):
  $STRATA_INTEROP_VENV/bin/python tests/interop/generate_keras3_nodes.py [--out DIR]
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "keras3_nodes")
BATCH = 2


def models(k):
    """name -> (inputs, outputs) built with the module `k` (keras or tf_keras)."""
    L = k.layers
    out = {}

    x = k.Input((4, 2), name="x")
    h = k.Input((3,), name="h")
    c = k.Input((3,), name="c")
    g = k.Input((2,), name="g")
    a = L.LSTM(3, name="lstm")(x, initial_state=[h, c])
    b = L.GRU(2, return_sequences=True, name="gru")(x, initial_state=g)
    s = L.RNN([L.LSTMCell(3, name="lstm_cell"), L.GRUCell(2, name="gru_cell")], name="rnn")(x, initial_state=[[h, c], [g]])
    d = L.Bidirectional(L.LSTM(3, name="inner"), name="bidirectional")(x, initial_state=[h, c, c, h])
    out["rnn_initial_state"] = ([x, h, c, g], [a, b, s, d])

    q = k.Input((3, 4), name="q")
    v = k.Input((2, 4), name="v")
    kk = k.Input((2, 3), name="k")
    m = k.Input((3, 2), name="m")
    mha = L.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")
    o1 = mha(q, v, key=kk, attention_mask=m)
    o2 = L.MultiHeadAttention(num_heads=1, key_dim=3, name="mha_kw")(q, value=v, use_causal_mask=False)
    out["mha_keyword_tensors"] = ([q, v, kk, m], [o1, o2])

    st = k.Input((2,), name="step")
    h2 = k.Input((3,), name="h")
    c2 = k.Input((3,), name="c")
    g2 = k.Input((2,), name="g")
    lo, (lh, lc) = L.LSTMCell(3, name="lstm_cell")(st, states=[h2, c2])
    go, gs = L.GRUCell(2, name="gru_cell")(st, [g2])
    out["cell_states"] = ([st, h2, c2, g2], [lo, lh, lc, go, gs[0]])
    return out


def randomize(model, seed):
    r = np.random.RandomState(seed)
    for w in model.weights:
        w.assign(r.uniform(-0.8, 0.8, size=tuple(w.shape)).astype("float32"))


def main():
    out_dir = OUT
    if "--out" in sys.argv:
        out_dir = sys.argv[sys.argv.index("--out") + 1]
    import importlib.metadata as md
    import keras
    import tf_keras

    if out_dir == OUT and md.version("tf-keras") != "2.17.0":
        sys.exit("generate_keras3_nodes.py: tests/data/keras3_nodes pairs Keras 3 with tf-keras 2.17.0, found %s"
                 % md.version("tf-keras"))
    os.makedirs(out_dir, exist_ok=True)
    index = {"keras": keras.__version__, "tf_keras": tf_keras.__version__, "models": {}}
    k3 = models(keras)
    k2 = models(tf_keras)
    for seed, name in enumerate(sorted(k3)):
        ins, outs = k3[name]
        model = keras.Model(ins, outs, name=name)
        randomize(model, seed)
        r = np.random.RandomState(100 + seed)
        xs = [r.uniform(-1, 1, size=(BATCH,) + tuple(t.shape[1:])).astype("float32") for t in ins]
        if name == "mha_keyword_tensors":
            xs[3] = (xs[3] > -0.3).astype("float32")
        ys = model.predict(xs, verbose=0)
        model.save(os.path.join(out_dir, name + ".h5"))
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            f.write(model.to_json())
        ins2, outs2 = k2[name]
        reference = tf_keras.Model(ins2, outs2, name=name)
        nodes = {l["name"]: l["inbound_nodes"] for l in reference.get_config()["layers"] if l["inbound_nodes"]}
        index["models"][name] = {
            "inputs": [x.tolist() for x in xs],
            "outputs": [np.asarray(y).tolist() for y in ys],
            "tf_keras_inbound_nodes": nodes,
        }
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print("wrote %d models to %s" % (len(index["models"]), out_dir))


if __name__ == "__main__":
    main()
