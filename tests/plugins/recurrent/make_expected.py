"""Produces the expected values pasted into recurrent_test.cpp, with tf-keras 2.17.

Run with the interop venv:
  TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 \
    /root/.cache/strata/interop-venv/bin/python tests/plugins/recurrent/make_expected.py

Weights and inputs come from pattern(n, seed, scale), which recurrent_test.cpp computes
the same way (same double arithmetic, then rounded to float32). Configs are the layer
entries of the H5 `model_config` attribute (legacy layer dicts, new-form nested objects).
"""
import json

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers
from tf_keras.src.saving.legacy import saving_utils


def pattern(n, seed, scale):
    return np.array([scale * (((i * 37 + seed * 11) % 23) - 11) / 11.0 for i in range(n)], dtype=np.float32)


def arr(shape, seed, scale):
    return pattern(int(np.prod(shape)), seed, scale).reshape(shape)


def emit(name, value):
    flat = np.asarray(value, dtype=np.float32).reshape(-1)
    body = ", ".join("%.9g" % v for v in flat)
    print("// %s %s" % (name, list(np.shape(value))))
    print("const std::vector<float> k%s = {%s};" % (name, body))


def layer_configs(model):
    cfg = saving_utils.model_metadata(model, include_optimizer=False)["model_config"]
    return {l["config"]["name"]: l for l in json.loads(json.dumps(cfg))["config"]["layers"]}


LSTM_W = [arr((2, 12), 2, 0.5), arr((3, 12), 3, 0.4), arr((12,), 4, 0.3)]
GRU_W = [arr((2, 9), 7, 0.5), arr((3, 9), 8, 0.4), arr((2, 9), 9, 0.3)]
GRU_W_BEFORE = [arr((2, 9), 7, 0.5), arr((3, 9), 8, 0.4), arr((9,), 9, 0.3)]
SRNN_W = [arr((2, 3), 10, 0.5), arr((3, 3), 11, 0.4), arr((3,), 12, 0.3)]
X = arr((2, 4, 2), 1, 1.0)
H0 = arr((2, 3), 5, 0.5)
C0 = arr((2, 3), 6, 0.5)


def run(layer, weights, inputs, **kwargs):
    out = layer(inputs, **kwargs)
    layer.set_weights(weights)
    out = layer(inputs, **kwargs)
    return out if isinstance(out, list) else [out]


# ---- plain layers ----
o = run(layers.LSTM(3, return_sequences=True, return_state=True), LSTM_W, X)
emit("LstmSeq", o[0]); emit("LstmH", o[1]); emit("LstmC", o[2])
o = run(layers.LSTM(3, return_sequences=True, go_backwards=True), LSTM_W, X)
emit("LstmBackSeq", o[0])
o = run(layers.LSTM(3, return_state=True), LSTM_W, X, initial_state=[tf.constant(H0), tf.constant(C0)])
emit("LstmInitOut", o[0]); emit("LstmInitH", o[1]); emit("LstmInitC", o[2])
o = run(layers.GRU(3, return_sequences=True, return_state=True), GRU_W, X)
emit("GruSeq", o[0]); emit("GruH", o[1])
o = run(layers.GRU(3, return_sequences=True, go_backwards=True, reset_after=False), GRU_W_BEFORE, X,
        initial_state=[tf.constant(H0)])
emit("GruBeforeBackInitSeq", o[0])
o = run(layers.SimpleRNN(3, return_sequences=True, return_state=True), SRNN_W, X)
emit("SrnnSeq", o[0]); emit("SrnnH", o[1])
o = run(layers.SimpleRNN(3, go_backwards=True), SRNN_W, X, initial_state=[tf.constant(H0)])
emit("SrnnBackInitOut", o[0])

# ---- masks ----
IDS = np.array([[1, 2, 3, 0, 0], [0, 0, 4, 5, 1], [2, 0, 0, 3, 0]], dtype=np.int32)
EMB = arr((6, 2), 13, 0.8)
emb = layers.Embedding(6, 2, mask_zero=True)
emb(IDS)
emb.set_weights([EMB])
e = emb(IDS)
emit("EmbOut", e)
lstm = layers.LSTM(3, return_sequences=True)
lstm(e)
lstm.set_weights(LSTM_W)
with tf.GradientTape() as tape:
    seq = lstm(e)
    total = tf.reduce_sum(seq)
emit("EmbLstmSeq", seq)
emit("EmbLstmKernelGrad", tape.gradient(total, lstm.cell.kernel))
o = run(layers.LSTM(3, return_state=True), LSTM_W, e)
emit("EmbLstmOut", o[0]); emit("EmbLstmH", o[1]); emit("EmbLstmC", o[2])
o = run(layers.LSTM(3, return_sequences=True, go_backwards=True), LSTM_W, e)
emit("EmbLstmBackSeq", o[0])

XM = arr((3, 5, 2), 14, 1.0)
XM[0, 3:, :] = 0.0
XM[1, :2, :] = 0.0
XM[2, 2, :] = 0.0
XM[0, 1, 0] = 0.0
emit("MaskInput", XM)
masking = layers.Masking(0.0)
m = masking(XM)
emit("MaskingOut", m)
print("// mask", m._keras_mask.numpy().astype(int).tolist())
o = run(layers.GRU(3, return_sequences=True), GRU_W, m)
emit("MaskGruSeq", o[0])
o = run(layers.GRU(3, go_backwards=True, return_state=True), GRU_W, m)
emit("MaskGruBackOut", o[0]); emit("MaskGruBackH", o[1])
o = run(layers.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True), SRNN_W, m)
emit("MaskSrnnZeroSeq", o[0])

# ---- a Functional model with an unknown time dimension ----
inp = keras.Input(shape=(None, 3))
h = layers.LSTM(4, return_sequences=True, name="lstm_a")(inp)
out = layers.LSTM(2, name="lstm_b")(h)
model = keras.Model(inp, out)
model.get_layer("lstm_a").set_weights([arr((3, 16), 15, 0.5), arr((4, 16), 16, 0.4), arr((16,), 17, 0.3)])
model.get_layer("lstm_b").set_weights([arr((4, 8), 18, 0.5), arr((2, 8), 19, 0.4), arr((8,), 20, 0.3)])
emit("FunctionalT3", model(arr((2, 3, 3), 21, 1.0)))
emit("FunctionalT5", model(arr((2, 5, 3), 22, 1.0)))

# ---- configs (H5 model_config layer entries) and weight names ----
x_in = keras.Input(shape=(None, 3), name="seq")
h_in = keras.Input(shape=(4,), name="h0")
c_in = keras.Input(shape=(4,), name="c0")
ids_in = keras.Input(shape=(5,), dtype="int32", name="ids")
fixed_in = keras.Input(shape=(5, 3), name="fixed")
made = {
    "lstm": layers.LSTM(4, name="lstm"),
    "lstm_init": layers.LSTM(4, name="lstm_init", return_state=True),
    "lstm_custom": layers.LSTM(4, name="lstm_custom", return_sequences=True, go_backwards=True, dropout=0.1,
                               recurrent_dropout=0.25, unit_forget_bias=False, activation="relu",
                               kernel_regularizer=keras.regularizers.L2(0.01), unroll=True),
    "gru": layers.GRU(4, name="gru"),
    "gru_before": layers.GRU(4, name="gru_before", reset_after=False, implementation=1, use_bias=False,
                             recurrent_activation="hard_sigmoid"),
    "simple_rnn": layers.SimpleRNN(4, name="simple_rnn"),
    "simple_rnn_shaped": layers.SimpleRNN(4, name="simple_rnn_shaped", activation="relu", input_shape=(None, 3)),
    "embedding": layers.Embedding(10, 3, name="embedding"),
    "embedding_masked": layers.Embedding(10, 3, name="embedding_masked", mask_zero=True, input_length=5),
    "masking": layers.Masking(mask_value=-1.0, name="masking"),
}
outs = [made["lstm"](x_in), made["lstm_init"](x_in, initial_state=[h_in, c_in])[0],
        made["lstm_custom"](fixed_in),
        made["gru"](x_in), made["gru_before"](x_in), made["simple_rnn"](x_in), made["simple_rnn_shaped"](x_in),
        made["embedding"](ids_in), made["embedding_masked"](ids_in), made["masking"](x_in)]
cfgs = layer_configs(keras.Model([x_in, h_in, c_in, ids_in, fixed_in], outs))
for name in made:
    entry = cfgs[name]
    print("// %s inbound_nodes: %s" % (name, json.dumps(entry["inbound_nodes"])))
    print('const char* kConfig_%s = R"json(%s)json";' % (name, json.dumps({"class_name": entry["class_name"],
                                                                         "config": entry["config"]})))
for name in ["lstm", "gru", "gru_before", "simple_rnn", "embedding"]:
    print("// weights %s: %s" % (name, [(w.name, list(w.shape)) for w in made[name].weights]))
