"""tf-keras SavedModels of recurrent models, and what tf-keras's training does with them.

For tests/plugins/savedmodel/revived_recurrent_test.cpp (run at test time, cached): each
model's traced functions hold TensorFlow's loops (While over TensorList ops, If in the
cells), so a model revived from them without its classes must run and train through them.
For each model OUT/<name>/ holds
  model/         the compiled (SGD, mse), untrained model saved with save_format="tf"
  x.npy, y.npy   one batch
  pred.npy       model.predict(x) before training
  traced.npy     what the SavedModel's restored call gives (tf.saved_model.load(dir)(x,
                 training=False)): TensorFlow running the traces Strata revives. tf-keras traces
                 a masked LSTM's call without its mask, so the traces of masked_lstm ignore it
                 (index.json: traces_match_keras false)
  loss<k>.npy    the loss train_on_batch returned at step k = 0, 1
  w<k>_<i>.npy   model.trainable_weights[i] after step k
and OUT/index.json lists the models and the count of trainable weights.

Usage: python generate_recurrent_savedmodels.py --out DIR
"""
import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import tf_keras as keras  # noqa: E402

L = keras.layers
STEPS, FEATURES, BATCH = 5, 3, 4


def models():
    def head(body, time=STEPS):
        i = keras.Input((time, FEATURES))
        return keras.Model(i, L.Dense(2, name="head")(body(i)))

    return {
        "lstm": head(lambda i: L.LSTM(4)(i)),
        "gru": head(lambda i: L.GRU(4, reset_after=True)(i)),
        "gru_reset_before": head(lambda i: L.GRU(3, reset_after=False)(i)),
        "simple_rnn_sequences": head(lambda i: L.GlobalAveragePooling1D()(L.SimpleRNN(4, return_sequences=True)(i))),
        "bidirectional_lstm": head(lambda i: L.Bidirectional(L.LSTM(3))(i)),
        "stacked_lstm_backwards": head(lambda i: L.LSTM(3, go_backwards=True)(L.LSTM(4, return_sequences=True)(i))),
        "masked_lstm": head(lambda i: L.LSTM(4)(L.Masking(mask_value=0.0)(i))),
    }


def main():
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    r = np.random.RandomState(3)
    x = r.uniform(-1, 1, (BATCH, STEPS, FEATURES)).astype("float32")
    x[0, 3:, :] = 0.0  # masked steps for masked_lstm (ordinary values for the others)
    y = r.uniform(-1, 1, (BATCH, 2)).astype("float32")
    index = {}
    for name, model in models().items():
        d = os.path.join(out, name)
        os.makedirs(d)
        model.set_weights([r.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.save(os.path.join(d, "model"), save_format="tf")
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        pred = model.predict(x, verbose=0)
        np.save(os.path.join(d, "pred.npy"), pred)
        traced = tf.saved_model.load(os.path.join(d, "model"))(tf.constant(x), training=False).numpy()
        np.save(os.path.join(d, "traced.npy"), traced)
        for k in range(2):
            np.save(os.path.join(d, f"loss{k}.npy"), np.float64(model.train_on_batch(x, y)))
            for i, w in enumerate(model.trainable_weights):
                np.save(os.path.join(d, f"w{k}_{i}.npy"), w.numpy())
        index[name] = {"trainable": len(model.trainable_weights),
                       "traces_match_keras": bool(np.allclose(traced, pred, rtol=1e-5, atol=1e-6))}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"models": index, "tf_keras": keras.__version__}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
