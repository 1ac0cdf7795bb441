"""Keras 3's spelling of the layers Strata implements (issue 21): small models built by real Keras 3.

For every layer class that both `keras.layers` (Keras 3) exports and Strata registers, one or
more tiny models exercise it with non-default arguments, with random weights (biases and
batch-norm statistics included, so nothing is trivially zero or one). For each case this
writes, into OUT/<case>/:
  model.json       model.to_json() (Keras 3's dialect: module, registered_name, build_config,
                   DTypePolicy objects, args/kwargs nodes with __keras_tensor__);
  config.json      keras.saving.serialize_keras_object(model) (what a .keras archive's
                   config.json holds, compile_config included when compiled), or for the
                   get_config cases {"class_name": "Sequential", "config": model.get_config()};
  w<i>.npy         every variable of model.weights, in that order;
  x<i>.npy, y<i>.npy  the inputs and Keras 3's predictions (training=False);
and OUT/index.json: per case, the weights' paths and shapes, the input and output counts, the
layer classes it covers, the tolerance, and for refusal cases the words the error must say.
The quantized cases (model.quantize) are written without predictions: Strata refuses them.
Run in the interop venv (Keras 3.15.1, TensorFlow backend), one process, about a minute:
  $STRATA_INTEROP_VENV/bin/python tests/interop/generate_keras3_layer_sweep.py --out DIR
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)
import numpy as np
import keras
from keras import layers as L

RNG = np.random.default_rng(21)
INDEX = {"keras_version": keras.__version__, "cases": {}}


def randomize(model):
    for v in model.weights:
        if not v.dtype.startswith("float"):
            continue
        shape = tuple(v.shape)
        if "variance" in v.path:
            value = RNG.uniform(0.5, 1.5, shape)
        elif v.path.endswith("/count"):
            continue
        else:
            value = RNG.normal(0.0, 0.5, shape)
        v.assign(value.astype(v.dtype))


def random_input(shape, dtype="float32", high=None):
    if dtype.startswith("int"):
        return RNG.integers(0, high, shape).astype(dtype)
    return RNG.normal(0.0, 1.0, shape).astype(dtype)


def write_common(out, name, model, config, entry):
    d = os.path.join(out, name)
    os.makedirs(d)
    with open(os.path.join(d, "model.json"), "w") as f:
        f.write(model.to_json())
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f)
    weights = []
    for i, v in enumerate(model.weights):
        np.save(os.path.join(d, "w%d.npy" % i), np.asarray(v.numpy()))
        weights.append({"path": v.path, "name": v.name, "shape": list(v.shape), "dtype": str(v.dtype)})
    entry["weights"] = weights
    entry["classes"] = sorted({type(l).__name__ for l in iter_layers(model)})
    INDEX["cases"][name] = entry
    return d


def iter_layers(model):
    for l in model._flatten_layers(include_self=False, recursive=True):
        yield l


def case(out, name, model, inputs, tol=1e-5, compile=False, randomize_weights=True, get_config=False, note="",
         refuse=None):
    """Writes one case: `inputs` a list of numpy arrays. `refuse`: Strata refuses the model with
    an error that says each of these words (Keras's predictions are written all the same)."""
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
    if randomize_weights:
        randomize(model)
    if get_config:
        config = {"class_name": type(model).__name__, "config": model.get_config()}
    else:
        config = keras.saving.serialize_keras_object(model)
    outs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    entry = {"inputs": len(inputs), "outputs": len(outs), "tol": tol, "note": note}
    regularized = [v for v in model.trainable_weights if getattr(v, "regularizer", None) is not None]
    if regularized:  # the weight regularizers' penalty, summed
        entry["regularization_loss"] = float(sum(float(v.regularizer(v)) for v in regularized))
    if refuse:
        entry["refuse"] = refuse
    d = write_common(out, name, model, config, entry)
    for i, x in enumerate(inputs):
        np.save(os.path.join(d, "x%d.npy" % i), x)
    for i, y in enumerate(outs):
        np.save(os.path.join(d, "y%d.npy" % i), np.asarray(keras.ops.convert_to_numpy(y)).astype("float32"))


def refused(out, name, model, must_say):
    """A case Strata refuses: the error must contain each of `must_say`."""
    config = keras.saving.serialize_keras_object(model)
    write_common(out, name, model, config, {"inputs": 0, "outputs": 0, "refuse": must_say})


def seq(shape, *ls, dtype="float32", name=None):
    return keras.Sequential([keras.Input(shape, dtype=dtype)] + list(ls), name=name)


def func(inputs, outputs):
    return keras.Model(inputs, outputs)


def build(out):
    B = 2
    x2 = lambda *s: random_input((B,) + s)

    # Core.
    case(out, "dense", seq((4,), L.Dense(5, activation="tanh", kernel_initializer=keras.initializers.HeNormal(seed=3),
                                         bias_initializer=keras.initializers.Constant(0.1),
                                         kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.02),
                                         bias_regularizer=keras.regularizers.L2(0.03),
                                         activity_regularizer=keras.regularizers.L1(0.001),
                                         kernel_constraint=keras.constraints.MaxNorm(2.0, axis=0),
                                         bias_constraint=keras.constraints.NonNeg()),
                             L.Dense(3, use_bias=False, activation="softmax")), [x2(4)], compile=True)
    case(out, "dense_rank3", seq((3, 4), L.Dense(2, activation="relu")), [x2(3, 4)])
    case(out, "einsum_dense", seq((3, 4), L.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d",
                                                        activation="relu")), [x2(3, 4)])
    case(out, "einsum_dense_2d_output", seq((4,), L.EinsumDense("ab,bcd->acd", output_shape=(3, 2), bias_axes="cd")),
         [x2(4)])
    case(out, "activation_layer_and_identity", seq((5,), L.Activation("tanh"), L.Identity(), L.Activation("softmax")),
         [x2(5)])
    e_in = random_input((B, 6), "int32", 10)
    e_in[:, -2:] = 0
    case(out, "embedding_mask_zero", seq((6,), L.Embedding(10, 4, mask_zero=True,
                                                          embeddings_initializer=keras.initializers.RandomUniform(-1, 1)),
                                         L.LSTM(3), dtype="int32"), [e_in])
    case(out, "embedding_plain", seq((6,), L.Embedding(10, 3), L.Flatten(), dtype="int32"), [e_in])
    xm = x2(5, 3)
    xm[:, 3:, :] = 0.5
    case(out, "masking_lstm", seq((5, 3), L.Masking(mask_value=0.5), L.LSTM(2, return_sequences=True)), [xm])

    # Convolutions.
    case(out, "conv1d", seq((9, 3), L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
                           L.Conv1D(3, 2, strides=2, padding="valid", groups=1),
                           L.Conv1D(6, 3, padding="same", groups=3, use_bias=False)), [x2(9, 3)])
    case(out, "conv2d", seq((10, 9, 2), L.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu"),
                           L.Conv2D(4, 3, dilation_rate=2, padding="valid"),
                           L.Conv2D(2, 1, groups=2)), [x2(10, 9, 2)])
    case(out, "conv2d_channels_first", seq((2, 6, 5), L.Conv2D(3, 3, padding="same", data_format="channels_first"),
                                           L.MaxPooling2D(2, data_format="channels_first"),
                                           L.Flatten()), [x2(2, 6, 5)], refuse=["conv2d", "channels_first"])
    case(out, "conv3d", seq((4, 5, 6, 2), L.Conv3D(3, (2, 2, 2), strides=(1, 2, 1), padding="same"),
                           L.Conv3D(2, 2, dilation_rate=(1, 1, 2))), [x2(4, 5, 6, 2)])
    case(out, "conv1d_transpose", seq((5, 2), L.Conv1DTranspose(3, 3, strides=2, padding="same"),
                                      L.Conv1DTranspose(2, 2, strides=1, padding="valid", dilation_rate=2)), [x2(5, 2)])
    case(out, "conv2d_transpose", seq((4, 3, 2), L.Conv2DTranspose(3, 3, strides=2, padding="valid",
                                                                   output_padding=1, activation="relu"),
                                      L.Conv2DTranspose(2, (2, 3), strides=(1, 2), padding="same")), [x2(4, 3, 2)])
    case(out, "conv3d_transpose", seq((3, 3, 2, 2), L.Conv3DTranspose(2, 2, strides=2, padding="same"),
                                      L.Conv3DTranspose(2, 3, padding="valid")), [x2(3, 3, 2, 2)])
    case(out, "depthwise_conv1d", seq((7, 3), L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", strides=2)),
         [x2(7, 3)])
    case(out, "depthwise_conv2d", seq((7, 6, 2), L.DepthwiseConv2D((3, 2), depth_multiplier=2, dilation_rate=(2, 1),
                                                                    activation="relu")), [x2(7, 6, 2)])
    case(out, "separable_conv1d", seq((8, 3), L.SeparableConv1D(4, 3, depth_multiplier=2, padding="same", strides=2)),
         [x2(8, 3)])
    case(out, "separable_conv2d", seq((6, 6, 2), L.SeparableConv2D(3, (3, 3), padding="same", activation="elu"),
                                      L.SeparableConv2D(2, 2, strides=2, depth_multiplier=3)), [x2(6, 6, 2)])

    # Pooling.
    i = keras.Input((8, 3))
    case(out, "pooling1d", func(i, [L.MaxPooling1D(3, strides=1, padding="same")(i),
                                    L.AveragePooling1D(2, padding="valid")(i),
                                    L.AveragePooling1D(3, strides=2, padding="same")(i),
                                    L.GlobalAveragePooling1D(keepdims=True)(i), L.GlobalMaxPooling1D()(i)]),
         [x2(8, 3)])
    i = keras.Input((6, 7, 2))
    case(out, "pooling2d", func(i, [L.MaxPooling2D((2, 2), strides=(1, 2), padding="same")(i),
                                    L.AveragePooling2D((3, 3), strides=2, padding="same")(i),
                                    L.GlobalAveragePooling2D(keepdims=True)(i), L.GlobalMaxPooling2D(keepdims=True)(i),
                                    L.GlobalMaxPooling2D()(i)]), [x2(6, 7, 2)])
    i = keras.Input((4, 5, 4, 2))
    case(out, "pooling3d", func(i, [L.MaxPooling3D(2, strides=(1, 2, 1), padding="same")(i),
                                    L.AveragePooling3D((2, 2, 2), padding="valid")(i),
                                    L.GlobalAveragePooling3D()(i), L.GlobalMaxPooling3D(keepdims=True)(i)]),
         [x2(4, 5, 4, 2)])

    # Normalization.
    case(out, "batch_normalization", seq((3, 4), L.BatchNormalization(center=False, epsilon=1e-2, momentum=0.9),
                                         L.BatchNormalization(axis=1, scale=False)), [x2(3, 4)])
    case(out, "layer_normalization", seq((3, 4), L.LayerNormalization(epsilon=1e-3, center=False),
                                         L.LayerNormalization(axis=[1, 2], scale=False)), [x2(3, 4)])
    case(out, "layer_normalization_rms_scaling", seq((3, 4), L.LayerNormalization(rms_scaling=True)), [x2(3, 4)])
    case(out, "normalization", seq((3, 4), L.Normalization(axis=-1, mean=[0.5, -1.0, 2.0, 0.0],
                                                           variance=[1.0, 4.0, 0.25, 2.0])), [x2(3, 4)],
         randomize_weights=False)
    norm = L.Normalization(axis=(1, 2))
    norm.adapt(random_input((16, 3, 4)))
    case(out, "normalization_adapted", seq((3, 4), norm), [x2(3, 4)], randomize_weights=False)
    case(out, "normalization_invert", seq((4,), L.Normalization(mean=[0.5, -1.0, 2.0, 0.0],
                                                                variance=[1.0, 4.0, 0.25, 2.0], invert=True)),
         [x2(4)], randomize_weights=False)

    # Recurrent.
    case(out, "lstm", seq((5, 3), L.LSTM(4, return_sequences=True, go_backwards=True, unit_forget_bias=False,
                                         dropout=0.2, recurrent_dropout=0.1, use_cudnn=False),
                         L.LSTM(2, activation="relu", recurrent_activation="sigmoid", return_sequences=False)),
         [x2(5, 3)])
    i = keras.Input((5, 3))
    o, h, c = L.LSTM(3, return_state=True, return_sequences=True, unroll=True)(i)
    case(out, "lstm_return_state", func(i, [o, h, c]), [x2(5, 3)])
    case(out, "gru", seq((5, 3), L.GRU(4, reset_after=False, return_sequences=True),
                        L.GRU(3, go_backwards=True, recurrent_activation="sigmoid", use_cudnn=False)), [x2(5, 3)])
    case(out, "simple_rnn", seq((5, 3), L.SimpleRNN(3, activation="relu", return_sequences=True, unroll=True),
                               L.SimpleRNN(2, go_backwards=True, use_bias=False)), [x2(5, 3)])
    case(out, "rnn_cells", seq((5, 3), L.RNN(L.LSTMCell(3, unit_forget_bias=False), return_sequences=True),
                              L.RNN([L.GRUCell(2, reset_after=False), L.SimpleRNNCell(3)], go_backwards=True)),
         [x2(5, 3)])
    case(out, "bidirectional", seq((5, 3), L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="concat"),
                                  L.Bidirectional(L.GRU(2), merge_mode="ave")), [x2(5, 3)])
    case(out, "bidirectional_mul_sum", seq((5, 3),
                                          L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="mul"),
                                          L.Bidirectional(L.LSTM(2), merge_mode="sum")), [x2(5, 3)])
    case(out, "time_distributed", seq((3, 6, 5, 2), L.TimeDistributed(L.Conv2D(2, 3, padding="same")),
                                     L.TimeDistributed(L.Flatten()), L.TimeDistributed(L.Dense(3))), [x2(3, 6, 5, 2)])

    # Attention.
    q = keras.Input((3, 4))
    v = keras.Input((2, 4))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, dropout=0.1, output_shape=(5,))
    o1 = mha(q, v)
    o2 = L.MultiHeadAttention(num_heads=1, key_dim=2, use_bias=False)(q, q, use_causal_mask=True)
    case(out, "multi_head_attention", func([q, v], [o1, o2]), [x2(3, 4), x2(2, 4)])
    q4 = keras.Input((2, 3, 4))
    o = L.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(1, 2))(q4, q4)
    case(out, "multi_head_attention_axes", func(q4, o), [x2(2, 3, 4)])
    o1 = L.Attention(use_scale=True, score_mode="concat")([q, v])
    o2 = L.Attention(score_mode="dot", dropout=0.2)([q, v, v], use_causal_mask=False)
    o3 = L.AdditiveAttention(use_scale=False)([q, v])
    o4 = L.AdditiveAttention()([q, v])
    case(out, "attention", func([q, v], [o1, o2, o3, o4]), [x2(3, 4), x2(2, 4)])

    # Merging.
    a = keras.Input((3, 4))
    b = keras.Input((3, 4))
    c = keras.Input((3, 2))
    case(out, "merging", func([a, b, c], [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b, a]),
                                          L.Average()([a, b]), L.Maximum()([a, b]), L.Minimum()([a, b]),
                                          L.Concatenate(axis=-1)([a, c]), L.Concatenate(axis=1)([a, b]),
                                          L.Dot(axes=(2, 2))([a, b]), L.Dot(axes=1, normalize=True)([a, b])]),
         [x2(3, 4), x2(3, 4), x2(3, 2)])

    # Reshaping and spatial.
    case(out, "reshaping", seq((4, 3), L.Reshape((2, -1)), L.Permute((2, 1)), L.Flatten(), L.RepeatVector(3),
                              L.Cropping1D((1, 0)), L.ZeroPadding1D((2, 1)), L.UpSampling1D(2)), [x2(4, 3)])
    case(out, "spatial2d", seq((5, 4, 2), L.Cropping2D(((1, 0), (0, 1))), L.ZeroPadding2D(((1, 2), (0, 1))),
                              L.UpSampling2D(size=(2, 1)), L.UpSampling2D(size=2, interpolation="bilinear")),
         [x2(5, 4, 2)])
    case(out, "spatial3d", seq((3, 4, 3, 2), L.Cropping3D(((1, 0), (0, 1), (1, 1))), L.ZeroPadding3D(((0, 1), (1, 0), (2, 1))),
                              L.UpSampling3D(size=(1, 2, 2))), [x2(3, 4, 3, 2)])

    # Activation layers and activations.
    case(out, "activation_layers", seq((6,), L.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5)), [x2(6)])
    i = keras.Input((6,))
    case(out, "activation_layers_2", func(i, [L.LeakyReLU(negative_slope=0.2)(i), L.ELU(alpha=0.5)(i),
                                              L.Softmax(axis=-1)(i), L.ReLU()(i), L.LeakyReLU()(i)]), [x2(6)])
    i = keras.Input((3, 4))
    case(out, "prelu", func(i, [L.PReLU(shared_axes=[1])(i), L.PReLU(alpha_initializer="ones")(i)]), [x2(3, 4)])
    for act in ["relu", "sigmoid", "tanh", "softmax", "softplus", "softsign", "selu", "elu", "exponential", "linear",
                "swish", "silu", "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "relu6", "leaky_relu", "mish",
                "log_softmax", "celu", "glu", "hard_tanh", "soft_shrink", "hard_shrink", "tanh_shrink", "squareplus",
                "sparse_plus", "log_sigmoid", "sparsemax"]:
        if not hasattr(keras.activations, act):
            continue
        unknown = act in ("sparsemax",)
        case(out, "activation_" + act, seq((6,), L.Dense(6, activation=act)), [x2(6) * 3],
             refuse=["Unknown activation", act] if unknown else None)

    # Noise and regularization layers in inference.
    case(out, "noise_inference", seq((4, 6), L.Dropout(0.5, noise_shape=(None, 1, 6), seed=3), L.GaussianNoise(0.3, seed=1),
                                    L.GaussianDropout(0.2, seed=2), L.AlphaDropout(0.1, seed=4),
                                    L.SpatialDropout1D(0.3, seed=5), L.ActivityRegularization(l1=0.01, l2=0.02),
                                    L.Dense(3)), [x2(4, 6)])
    case(out, "spatial_dropout_2d_3d", seq((3, 4, 2, 2), L.SpatialDropout3D(0.3, seed=1), L.Reshape((3, 8, 2)),
                                          L.SpatialDropout2D(0.2, seed=2), L.Conv2D(2, 1)), [x2(3, 4, 2, 2)])

    # Preprocessing layers Strata has.
    case(out, "preprocessing", seq((6, 8, 3), L.Rescaling(scale=1.0 / 255, offset=-1.0), L.CenterCrop(4, 6),
                                   L.Resizing(3, 5, interpolation="bilinear", crop_to_aspect_ratio=True),
                                   L.Resizing(6, 4, interpolation="nearest")),
         [RNG.uniform(0, 255, (B, 6, 8, 3)).astype("float32")])
    case(out, "rescaling_per_channel", seq((2, 3), L.Rescaling(scale=[0.5, 2.0, -1.0], offset=[0.0, 1.0, 2.0])), [x2(2, 3)])

    # Sequential get_config (Keras 3's objects: initializers, regularizers, constraints, policies).
    m = keras.Sequential([keras.Input((4,)),
                          L.Dense(6, kernel_initializer=keras.initializers.TruncatedNormal(0.1, 0.3, seed=5),
                                  kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.02, "rows"),
                                  bias_constraint=keras.constraints.MinMaxNorm(0.1, 1.5, rate=0.5, axis=0),
                                  activation="relu"),
                          L.BatchNormalization(gamma_constraint=keras.constraints.UnitNorm(axis=0),
                                               beta_initializer=keras.initializers.Constant(0.2),
                                               moving_variance_initializer=keras.initializers.Ones()),
                          L.Dense(2, kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1))],
                         name="seq_get_config")
    case(out, "sequential_get_config", m, [x2(4)], get_config=True, compile=True)
    i = keras.Input((4,))
    h = L.Dense(5, kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.3, "columns"),
                bias_regularizer=keras.regularizers.L1(0.2))(i)
    h = L.Dense(3, kernel_regularizer=keras.regularizers.L1L2(0.01, 0.05))(h)
    o = L.Conv1D(2, 2, kernel_regularizer=keras.regularizers.L2(0.1))(L.Reshape((3, 1))(h))
    case(out, "regularizers", func(i, o), [x2(4)])
    m = keras.Sequential([keras.Input((4,)),
                          L.Dense(6, kernel_initializer=keras.initializers.TruncatedNormal(0.1, 0.3, seed=5),
                                  kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02),
                                  bias_constraint=keras.constraints.MinMaxNorm(0.1, 1.5, rate=0.5, axis=0),
                                  activation="relu"),
                          L.BatchNormalization(gamma_constraint=keras.constraints.UnitNorm(axis=0),
                                               beta_initializer=keras.initializers.Constant(0.2),
                                               moving_variance_initializer=keras.initializers.Ones()),
                          L.Dense(2, kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
                                  kernel_constraint=keras.constraints.MaxNorm(3.0))],
                         name="seq_get_config_2")
    case(out, "sequential_get_config_objects", m, [x2(4)], get_config=True, compile=True)
    keras.mixed_precision.set_global_policy("mixed_float16")
    m = keras.Sequential([keras.Input((4,)), L.Dense(6, activation="relu"), L.LayerNormalization(),
                          L.Dense(2, dtype="float32")], name="seq_mixed")
    case(out, "sequential_mixed_float16", m, [x2(4)], get_config=True, tol=2e-2,
         note="Keras computes in float16, Strata in float32")
    case(out, "mixed_float16_to_json", keras.Sequential([keras.Input((4,)), L.Dense(3)]), [x2(4)], tol=2e-2)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    case(out, "mixed_bfloat16_to_json", keras.Sequential([keras.Input((4,)), L.Dense(3), L.Activation("tanh")]), [x2(4)],
         tol=5e-2, note="Keras computes in bfloat16, Strata in float32")
    keras.mixed_precision.set_global_policy("float32")

    # Keras 3 keys with non-default values.
    case(out, "channels_first_layers", seq((2, 6, 4), L.ZeroPadding2D(1, data_format="channels_first"),
                                           L.Cropping2D(((0, 1), (1, 0)), data_format="channels_first"),
                                           L.UpSampling2D(2, data_format="channels_first"),
                                           L.AveragePooling2D(2, data_format="channels_first"),
                                           L.Flatten(data_format="channels_first")), [x2(2, 6, 4)])
    i = keras.Input((2, 6, 4))
    case(out, "channels_first_global_pooling", func(i, [L.GlobalAveragePooling2D(data_format="channels_first")(i),
                                                        L.GlobalMaxPooling2D(data_format="channels_first", keepdims=True)(i)]),
         [x2(2, 6, 4)])
    case(out, "resizing_pad_to_aspect_ratio", seq((6, 8, 2), L.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=0.5)),
         [x2(6, 8, 2)],
         refuse=["resizing", "pad_to_aspect_ratio"])
    case(out, "resizing_antialias", seq((8, 8, 2), L.Resizing(3, 5, interpolation="bilinear", antialias=True)),
         [x2(8, 8, 2)], refuse=["resizing", "antialias"])
    case(out, "batch_normalization_synchronized", seq((4,), L.BatchNormalization(synchronized=True)), [x2(4)])
    case(out, "gru_hard_sigmoid", seq((4, 3), L.GRU(3, recurrent_activation="hard_sigmoid")), [x2(4, 3) * 3])
    case(out, "batch_normalization_renorm", seq((4,), L.BatchNormalization(renorm=True, renorm_momentum=0.9)), [x2(4)],
         refuse=["batch_normalization", "renorm"])
    a = keras.Input((3,))
    b = keras.Input((3,), optional=True)
    case(out, "input_optional", func([a, b], L.Add()([a, b])), [x2(3), x2(3)], refuse=["input_layer", "optional"])
    case(out, "dense_lora", seq((4,), L.Dense(3, lora_rank=2, lora_alpha=3.0)), [x2(4)], refuse=["dense", "lora_rank"])
    case(out, "embedding_lora", seq((5,), L.Embedding(10, 4, lora_rank=2), L.Flatten(), dtype="int32"), [e_in[:, :5]], refuse=["embedding", "lora_rank"])
    case(out, "einsum_dense_lora", seq((4,), L.EinsumDense("ab,bc->ac", output_shape=3, lora_rank=1)), [x2(4)], refuse=["einsum_dense", "lora_rank"])
    case(out, "conv2d_lora", seq((4, 4, 2), L.Conv2D(3, 2, lora_rank=2)), [x2(4, 4, 2)], refuse=["conv2d", "lora_rank"])
    q = keras.Input((5, 4))
    case(out, "multi_head_attention_gate", func(q, L.MultiHeadAttention(2, 2, use_gate=True)(q, q)), [x2(5, 4)],
         refuse=["multi_head_attention", "use_gate"])
    case(out, "multi_head_attention_sliding_window",
         func(q, L.MultiHeadAttention(2, 2, sliding_window=2)(q, q)), [x2(5, 4)],
         refuse=["multi_head_attention", "sliding_window"])

    # Quantized layers (model.quantize): refused by Strata, naming the layer and the mode.
    for mode in ["int8", "float8", "int4"]:
        i = keras.Input((4,), dtype="int32")
        e = L.Embedding(10, 8, name="q_embedding")(i)
        d = L.Dense(8, name="q_dense")(e)
        o = L.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d", name="q_einsum")(d)
        m = keras.Model(i, o)
        randomize(m)
        try:
            m.quantize(mode)
        except Exception as error:  # a mode this Keras cannot apply to these layers
            print("quantize(%s): %s" % (mode, error), file=sys.stderr)
            continue
        refused(out, "quantized_" + mode, m, ["quantiz", mode, "layer 'q_"])


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "--out":
        sys.exit("usage: generate_keras3_layer_sweep.py --out DIR")
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(7)
    build(out)
    INDEX["covered"] = sorted({c for e in INDEX["cases"].values() for c in e["classes"]})
    # Every layer class keras.layers exports, by the name it is exported under (aliases too).
    INDEX["keras_layers"] = {n: c.__name__ for n, c in vars(L).items()
                             if isinstance(c, type) and issubclass(c, keras.layers.Layer)}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(INDEX, f, indent=1)


if __name__ == "__main__":
    main()
