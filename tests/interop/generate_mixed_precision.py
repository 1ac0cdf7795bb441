"""tf-keras models built under the mixed_float16 and mixed_bfloat16 policies, and what tf-keras
computes with them.

For tests/interop/mixed_precision_test.cpp (run at test time, cached). OUT/<policy>_<model>/:
  model.h5, savedmodel/   the model (random weights), in both tf-keras formats
  x.npy                   a float32 batch
  pred.npy                tf-keras's predict(x), as float32 (float16 and bfloat16 values are
                          exactly float32 values); index.json gives the dtype Keras returned
Models: mlp (Dense relu, Dense: the last layer is mixed, so the output is half), cnn (Conv2D,
MaxPooling2D, BatchNormalization, Flatten, Dense), lstm (LSTM, Dense), lstm_varlen (the same on
inputs of unknown length), lstm_stateful (a stateful LSTM, first call), f32out (the mlp ending with Activation("linear", dtype="float32"),
the usual pattern).
And OUT/train_mixed_float16/ (the f32out model), OUT/train_cnn_mixed_float16/ (the cnn ending
in a float32 Activation), both compiled with a dynamic LossScaleOptimizer(SGD) and mse, and
OUT/train_cnn_mixed_bfloat16/ (the same cnn under mixed_bfloat16, plain SGD) and
OUT/train_lstm_varlen_mixed_bfloat16/ (an LSTM on inputs of unknown length ending in a float32
Activation, mixed_bfloat16, plain SGD): saved before
training (model.h5), x.npy / y.npy, after_w<i>.npy: model.weights[i] after 3 train_on_batch
steps (BatchNormalization's moving statistics included), and after.json: the losses, the loss
scale and the weights' names.
Usage: python generate_mixed_precision.py --out DIR
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

L = keras.layers


def build(name):
    if name == "mlp":
        i = keras.Input((6,))
        o = L.Dense(4)(L.Dense(16, activation="relu")(i))
        return keras.Model(i, o), (5, 6)
    if name == "f32out":
        i = keras.Input((6,))
        h = L.Dense(4)(L.Dense(16, activation="relu")(i))
        return keras.Model(i, L.Activation("linear", dtype="float32")(h)), (5, 6)
    if name in ("cnn", "cnn_f32out"):
        layers = [keras.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                  L.BatchNormalization(), L.Flatten(), L.Dense(3)]
        if name == "cnn_f32out":
            layers.append(L.Activation("linear", dtype="float32"))
        return keras.Sequential(layers), (2, 8, 8, 3)
    if name in ("lstm", "lstm_varlen"):
        i = keras.Input((5 if name == "lstm" else None, 3))
        return keras.Model(i, L.Dense(2)(L.LSTM(6)(i))), (3, 5, 3)
    if name == "lstm_varlen_f32out":
        i = keras.Input((None, 3))
        return keras.Model(i, L.Activation("linear", dtype="float32")(L.Dense(2)(L.LSTM(6)(i)))), (3, 5, 3)
    if name == "lstm_stateful":
        i = keras.Input((5, 3), batch_size=3)
        return keras.Model(i, L.Dense(2)(L.LSTM(6, stateful=True)(i))), (3, 5, 3)
    raise ValueError(name)


def randomize(m, seed):
    r = np.random.RandomState(seed)
    ws = []
    for w in m.weights:
        shape = tuple(w.shape)
        if "moving_variance" in w.name:
            ws.append(r.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            ws.append(r.uniform(-0.5, 0.5, shape).astype("float32"))
    m.set_weights(ws)


def main():
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    index = {}
    for policy in ("mixed_float16", "mixed_bfloat16"):
        for k, name in enumerate(("mlp", "f32out", "cnn", "lstm", "lstm_varlen", "lstm_stateful")):
            keras.mixed_precision.set_global_policy(policy)
            m, shape = build(name)
            keras.mixed_precision.set_global_policy("float32")
            randomize(m, 10 + k)
            x = np.random.RandomState(20 + k).uniform(-1, 1, shape).astype("float32")
            d = os.path.join(out, f"{policy}_{name}")
            os.makedirs(d)
            m.save(os.path.join(d, "model.h5"))
            m.save(os.path.join(d, "savedmodel"), save_format="tf")
            pred = m.predict(x, verbose=0)
            np.save(os.path.join(d, "x.npy"), x)
            np.save(os.path.join(d, "pred.npy"), np.asarray(pred).astype("float32"))
            index[f"{policy}_{name}"] = {"dtype": tf.as_dtype(pred.dtype).name,
                                         "variable_dtypes": sorted({w.dtype.name for w in m.weights})}

    for case, name, shape, policy in (("train_mixed_float16", "f32out", (8, 6), "mixed_float16"),
                                      ("train_cnn_mixed_float16", "cnn_f32out", (8, 8, 8, 3), "mixed_float16"),
                                      ("train_cnn_mixed_bfloat16", "cnn_f32out", (8, 8, 8, 3), "mixed_bfloat16"),
                                      # unknown length: Strata's traced step records the LSTM as
                                      # one deferred call, run under the LSTM's policy
                                      ("train_lstm_varlen_mixed_bfloat16", "lstm_varlen_f32out", (4, 5, 3),
                                       "mixed_bfloat16")):
        keras.mixed_precision.set_global_policy(policy)
        m, _ = build(name)
        keras.mixed_precision.set_global_policy("float32")
        randomize(m, 30)
        r = np.random.RandomState(31)
        x = r.uniform(-1, 1, shape).astype("float32")
        y = r.uniform(-1, 1, (shape[0],) + tuple(m.output.shape[1:])).astype("float32")
        # float16 needs loss scaling (Keras wraps its optimizer); bfloat16 does not.
        sgd = keras.optimizers.SGD(0.1)
        m.compile(optimizer=keras.mixed_precision.LossScaleOptimizer(sgd) if policy == "mixed_float16" else sgd,
                  loss="mse")
        d = os.path.join(out, case)
        os.makedirs(d)
        m.save(os.path.join(d, "model.h5"))
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        losses = [float(m.train_on_batch(x, y)) for _ in range(3)]
        for i, w in enumerate(m.weights):
            np.save(os.path.join(d, f"after_w{i}.npy"), w.numpy())
        with open(os.path.join(d, "after.json"), "w") as f:
            scale = float(m.optimizer.loss_scale.numpy()) if policy == "mixed_float16" else None
            json.dump({"loss_scale": scale, "losses": losses,
                       "weights": [w.name.split(":")[0] for w in m.weights],
                       "variable_dtypes": sorted({w.dtype.name for w in m.weights})}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
