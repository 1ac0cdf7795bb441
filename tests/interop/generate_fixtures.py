#!/usr/bin/env python3
"""Writes the Keras interop fixtures under tests/data/keras/ using real tf-keras as the oracle.

Run it with the interpreter of the venv that tests/interop/setup_venv.sh creates:

    "$(tests/interop/setup_venv.sh)/bin/python" tests/interop/generate_fixtures.py

For every model of MODELS below it writes
  <name>.config.json   the JSON that tf-keras stores as the H5 `model_config` attribute
                       (read back from a real H5 file it saved: the legacy dialect)
  <name>.to_json.json  model.to_json() (the newer dialect: module/registered_name/build_config)
  <name>.summary.txt   model.summary() text, one line per print_fn call, each ending in "\\n"
  <name>.w<i>.npy      model.get_weights()[i]
  <name>.x<i>.npy      the i-th input (a few samples, fixed seed)
  <name>.y<i>.npy      model.predict(x)[i] (inference mode)
and one index.json that lists every model with its files, shapes, parameter counts, the
layer classes it exercises and the versions used. An array identical (dtype, shape, bytes) to
one already written is not written again: index.json names the file that holds it (the
guide's transfer-learning models reuse the 784-64-64 weights; models with inputs of the same
shape share one input file). Always read file names from index.json.

Also writes nested_weight_order.json: the guide's nested-layer weight order example.

Everything is deterministic: weights and inputs come from numpy RandomState seeded with the
CRC-32 of the model name, TF runs single-threaded with op determinism, and every file is
written whole, so a re-run reproduces the directory byte for byte.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import zlib  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()

import tf_keras as keras  # noqa: E402
from tf_keras import layers as L  # noqa: E402

# The TensorFlow / tf-keras pairs this generator is run with. The committed fixtures
# (tests/data/keras) are 2.17's; 2.21's are generated into a cache by
# tests/interop/keras_fixtures_current_venv.sh (--out), never committed.
SUPPORTED_VERSIONS = {("2.17.1", "2.17.0"), ("2.21.0", "2.21.0")}
COMMITTED_VERSION = ("2.17.1", "2.17.0")
BATCH = 3
OUT_DIR_DEFAULT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "keras"))

MODELS = []  # (name, builder, description)


def fixture(name, description):
    def register(builder):
        MODELS.append((name, builder, description))
        return builder

    return register


def seed_of(name):
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


# ---- inputs and weights ------------------------------------------------------------------


def floats(rng, shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def x_floats(shape, index=0, low=-1.0, high=1.0):
    """An input array that depends only on its shape, position and range, so models with the
    same input share one file."""
    rng = np.random.RandomState(seed_of("x%d:%s:%g:%g" % (index, tuple(shape), low, high)))
    return floats(rng, shape, low, high)


def randomize_weights(model, rng, keep=()):
    """Replaces every float weight with numpy values chosen so that outputs depend on each of
    them: kernels ~ U(+-sqrt(3/fan_in)), biases/betas/means ~ U(-0.5, 0.5), gammas ~
    U(0.5, 1.5), variances ~ U(0.5, 2.0). Weights of the layers in `keep` stay as they are
    (adapted statistics)."""
    kept = {id(v) for layer in keep for v in layer.weights}
    values = []
    for layer_weight, current in zip(model.weights, model.get_weights()):
        name = layer_weight.name
        if id(layer_weight) in kept or current.dtype.kind != "f":
            values.append(current)
            continue
        leaf = name.rsplit("/", 1)[-1].split(":")[0]
        shape = current.shape
        if leaf in ("moving_variance", "variance"):
            v = rng.uniform(0.5, 2.0, size=shape)
        elif leaf == "gamma":
            v = rng.uniform(0.5, 1.5, size=shape)
        elif leaf == "embeddings":
            v = rng.uniform(-1.0, 1.0, size=shape)
        elif len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1]))
            limit = float(np.sqrt(3.0 / max(fan_in, 1)))
            v = rng.uniform(-limit, limit, size=shape)
        else:
            v = rng.uniform(-0.5, 0.5, size=shape)
        values.append(v.astype(current.dtype))
    model.set_weights(values)


# ---- the models -------------------------------------------------------------------------
# Each builder gets (rng, shared) and returns (model, inputs) where inputs is a list of numpy
# arrays (one per model input). `shared` carries state between builders (the guide's models).
# A model with several outputs names each output layer after what it checks, so a mismatch
# in output i points at one layer.


def seq(layers, name=None):
    return keras.Sequential(layers, name=name)


def xs_for(model, low=-1.0, high=1.0):
    return [x_floats((BATCH,) + tuple(t.shape[1:]), i, low, high) for i, t in enumerate(model.inputs)]


def single_layer(layer, in_shape, rng, randomize=True, low=-1.0, high=1.0):
    inp = keras.Input(in_shape)
    model = keras.Model(inp, layer(inp))
    if randomize:
        randomize_weights(model, rng)
    return model, xs_for(model, low, high)


def branches(in_shape, rng, layers, low=-1.0, high=1.0):
    """One input feeding each of `layers`; one output per layer."""
    inp = keras.Input(in_shape)
    model = keras.Model(inp, [layer(inp) for layer in layers])
    randomize_weights(model, rng)
    return model, xs_for(model, low, high)


# Model structures.


@fixture("sequential_with_input", "Sequential with an explicit Input")
def _(rng, shared):
    model = seq([keras.Input((4,)), L.Dense(5, activation="relu"), L.Dense(3)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("sequential_input_shape", "Sequential without an Input: the first layer has input_shape")
def _(rng, shared):
    model = seq([L.Dense(5, activation="tanh", input_shape=(4,)), L.Dense(2)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("sequential_deferred_build", "Sequential without any input shape, built with build((None, 4))")
def _(rng, shared):
    model = seq([L.Dense(5, activation="sigmoid"), L.Dense(2)])
    model.build((None, 4))
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("functional_two_inputs_shared", "Functional with two inputs, a shared layer and two outputs")
def _(rng, shared):
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    shared_dense = L.Dense(3, activation="tanh", name="shared")
    merged = L.Concatenate(name="concat")([shared_dense(a), shared_dense(b)])
    out = L.Dense(2, activation="softmax", name="head")(merged)
    score = L.Dense(1, activation="sigmoid", name="score")(merged)
    model = keras.Model([a, b], [out, score], name="two_inputs")
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("nested_sequential_in_functional", "a Sequential model used as a layer of a Functional model")
def _(rng, shared):
    inner = seq([keras.Input((4,)), L.Dense(3, activation="relu"), L.Dense(3)], name="inner_seq")
    inp = keras.Input((4,))
    out = L.Dense(2)(inner(inp))
    model = keras.Model(inp, out, name="outer")
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("nested_functional_in_sequential", "a Functional model used as a layer of a Sequential model")
def _(rng, shared):
    i = keras.Input((4,))
    inner = keras.Model(i, L.Dense(3, activation="elu")(i), name="inner_fn")
    model = seq([keras.Input((4,)), inner, L.Dense(2)], name="outer_seq")
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("nested_model_shared", "one Functional model called on two inputs inside another (node indices 1, 2)")
def _(rng, shared):
    i = keras.Input((3,))
    inner = keras.Model(i, L.Dense(2, activation="tanh")(i), name="encoder")
    a = keras.Input((3,), name="left")
    b = keras.Input((3,), name="right")
    out = L.Subtract()([inner(a), inner(b)])
    model = keras.Model([a, b], out, name="siamese")
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("sub_model", "Model(inputs, some_layer.output): a sub-model of a larger Functional model")
def _(rng, shared):
    inp = keras.Input((5,), name="in")
    h = L.Dense(4, activation="relu", name="hidden")(inp)
    L.Dense(3, name="out")(h)
    model = keras.Model(inp, h, name="sub_model")
    randomize_weights(model, rng)
    return model, xs_for(model)


# The Keras saving guide's models.


def guide_mlp():
    inputs = keras.Input(shape=(784,), name="digits")
    x = L.Dense(64, activation="relu", name="dense_1")(inputs)
    x = L.Dense(64, activation="relu", name="dense_2")(x)
    outputs = L.Dense(10, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")


def guide_pretrained(shared):
    inputs = keras.Input(shape=(784,), name="digits")
    x = L.Dense(64, activation="relu", name="dense_1")(inputs)
    x = L.Dense(64, activation="relu", name="dense_2")(x)
    model = keras.Model(inputs=inputs, outputs=x, name="pretrained")
    model.set_weights(shared["mlp_weights"][:4])  # the guide loads the pretrained weights
    return model


def digits():
    return x_floats((BATCH, 784), 0, 0.0, 1.0)  # pixel-like values


def new_head(model, name, rng):
    model.get_layer(name).set_weights([floats(rng, (64, 5), -0.2, 0.2), floats(rng, (5,), -0.5, 0.5)])


@fixture("3_layer_mlp", "the guide's 784-64-64-10 Functional MLP (55,050 params)")
def _(rng, shared):
    model = guide_mlp()
    randomize_weights(model, rng)
    shared["mlp_weights"] = model.get_weights()
    return model, [digits()]


@fixture("pretrained_model", "the guide's sub-model of 3_layer_mlp without its output layer")
def _(rng, shared):
    functional_model = guide_mlp()
    functional_model.set_weights(shared["mlp_weights"])
    model = keras.Model(functional_model.inputs, functional_model.layers[-1].input, name="pretrained_model")
    return model, [digits()]


@fixture("pretrained", "the guide's stand-in for the pretrained model: 784-64-64 (54,400 params)")
def _(rng, shared):
    return guide_pretrained(shared), [digits()]


@fixture("transfer_learning", "the guide's Sequential([pretrained, Dense(5)]) (54,725 params)")
def _(rng, shared):
    model = seq([guide_pretrained(shared), L.Dense(5, name="predictions")])
    new_head(model, "predictions", rng)
    return model, [digits()]


@fixture("transfer_frozen", "transfer_learning with the pretrained model frozen (trainable=False)")
def _(rng, shared):
    pretrained_model = guide_pretrained(shared)
    pretrained_model.trainable = False
    model = seq([pretrained_model, L.Dense(5, name="predictions")])
    new_head(model, "predictions", rng)
    return model, [digits()]


@fixture("transfer_extracted", "the guide's H5 transfer example: layers[:-1] of 3_layer_mlp plus Dense(5)")
def _(rng, shared):
    pretrained_model = guide_mlp()
    pretrained_model.set_weights(shared["mlp_weights"])
    extracted_layers = pretrained_model.layers[:-1]
    extracted_layers.append(L.Dense(5, name="dense_3"))
    model = seq(extracted_layers)
    new_head(model, "dense_3", rng)
    return model, [digits()]


# Layers.

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "softplus", "softsign", "elu", "selu", "gelu",
               "swish", "silu", "exponential", "hard_sigmoid", "relu6"]


@fixture("activations", "Activation(name) for every activation name, one output each (output layer = name)")
def _(rng, shared):
    inp = keras.Input((12,))
    model = keras.Model(inp, [L.Activation(act, name=act)(inp) for act in ACTIVATIONS])
    # Inputs span [-8, 8] so relu6, hard_sigmoid and the saturating ones hit every branch.
    x = x_floats((BATCH, 12), 0, -8.0, 8.0)
    x[0, :] = np.linspace(-8.0, 8.0, 12, dtype=np.float32)
    return model, [x]


@fixture("activation_layers", "the activation layers (ReLU, LeakyReLU, PReLU, ELU, ThresholdedReLU, Softmax), "
         "one output each, every branch of backend.relu")
def _(rng, shared):
    layers = [
        L.ReLU(name="relu"),
        L.ReLU(max_value=6.0, name="relu_max6"),
        L.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5, name="relu_all"),
        L.ReLU(negative_slope=0.2, name="relu_leaky"),
        L.ReLU(threshold=1.0, name="relu_threshold"),
        L.ReLU(max_value=3.0, name="relu_max3"),
        L.LeakyReLU(name="leaky_default"),
        L.LeakyReLU(alpha=1.5, name="leaky_steep"),
        L.PReLU(name="prelu"),
        L.PReLU(shared_axes=[1], name="prelu_shared"),
        L.ELU(name="elu"),
        L.ELU(alpha=0.5, name="elu_half"),
        L.ThresholdedReLU(theta=0.3, name="thresholded"),
        L.Softmax(name="softmax"),
        L.Softmax(axis=1, name="softmax_axis1"),
        L.Softmax(axis=[1, 2], name="softmax_axes"),
    ]
    return branches((4, 5), rng, layers, -8.0, 8.0)


@fixture("spatial_1d", "ZeroPadding1D, Cropping1D and UpSampling1D in their config forms")
def _(rng, shared):
    return branches((6, 3), rng, [
        L.ZeroPadding1D(name="pad_default"),
        L.ZeroPadding1D((2, 0), name="pad_pair"),
        L.Cropping1D(name="crop_default"),
        L.Cropping1D((0, 2), name="crop_end"),
        L.UpSampling1D(name="up_default"),
        L.UpSampling1D(3, name="up_3"),
    ])


@fixture("spatial_2d", "ZeroPadding2D, Cropping2D and UpSampling2D (nearest, bilinear, channels_first)")
def _(rng, shared):
    return branches((4, 5, 2), rng, [
        L.ZeroPadding2D(((1, 0), (2, 1)), name="pad_pairs"),
        L.ZeroPadding2D((1, 2), data_format="channels_first", name="pad_first"),
        L.Cropping2D(1, name="crop_int"),
        L.Cropping2D(((1, 2), (0, 1)), name="crop_pairs"),
        L.Cropping2D((1, 0), data_format="channels_first", name="crop_first"),
        L.UpSampling2D(name="up_default"),
        L.UpSampling2D((2, 3), name="up_23"),
        L.UpSampling2D((3, 2), interpolation="bilinear", name="up_bilinear"),
        L.UpSampling2D(2, data_format="channels_first", name="up_first"),
    ])


@fixture("spatial_3d", "ZeroPadding3D, Cropping3D and UpSampling3D")
def _(rng, shared):
    return branches((3, 4, 5, 2), rng, [
        L.ZeroPadding3D(name="pad_default"),
        L.ZeroPadding3D(((0, 1), (2, 0), (1, 1)), name="pad_pairs"),
        L.Cropping3D(((1, 0), (1, 1), (0, 2)), name="crop_pairs"),
        L.Cropping3D(name="crop_default", data_format="channels_last"),
        L.UpSampling3D((1, 2, 2), name="up"),
        L.UpSampling3D(2, data_format="channels_first", name="up_first"),
    ])


@fixture("unet_block", "a small U-Net: Conv2D, MaxPooling2D, UpSampling2D, Cropping2D, Concatenate")
def _(rng, shared):
    inp = keras.Input((10, 10, 2))
    c1 = L.Conv2D(4, 3, activation="relu", padding="same")(inp)
    p1 = L.MaxPooling2D()(c1)
    c2 = L.Conv2D(8, 3, activation="relu")(p1)
    u1 = L.UpSampling2D()(c2)
    crop = L.Cropping2D(2)(c1)
    m = L.Concatenate()([crop, u1])
    out = L.Conv2D(1, 1, activation="sigmoid")(L.ZeroPadding2D(2)(m))
    model = keras.Model(inp, out)
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("regularization_layers", "GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D, "
         "ActivityRegularization and Identity: the identity in inference")
def _(rng, shared):
    inp1 = keras.Input((4, 3), name="seq")
    inp2 = keras.Input((3, 4, 2), name="image")
    inp3 = keras.Input((2, 3, 2, 2), name="volume")
    d = L.Dense(3, name="dense")(inp1)
    outs = [
        L.GaussianNoise(0.5, name="gaussian_noise")(d),
        L.GaussianNoise(1, seed=7, name="gaussian_noise_int")(d),
        L.GaussianDropout(0.3, name="gaussian_dropout")(d),
        L.AlphaDropout(0.2, seed=3, name="alpha_dropout")(d),
        L.SpatialDropout1D(0.5, name="spatial_dropout_1d")(d),
        L.ActivityRegularization(l1=0.01, l2=0.5, name="activity_regularization")(d),
        L.Identity(name="identity")(d),
        L.SpatialDropout2D(0.25, name="spatial_dropout_2d")(inp2),
        L.SpatialDropout3D(0.25, name="spatial_dropout_3d")(inp3),
    ]
    model = keras.Model([inp1, inp2, inp3], outs)
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("dense_activations", "Dense(activation=...) with gelu, selu, softplus, swish, exponential")
def _(rng, shared):
    return branches((4,), rng, [L.Dense(3, activation=a, name="dense_" + a)
                                for a in ("gelu", "selu", "softplus", "swish", "exponential")], -2.0, 2.0)


@fixture("dropout", "Dropout is the identity in inference")
def _(rng, shared):
    model = seq([keras.Input((6,)), L.Dense(4), L.Dropout(0.5, seed=3), L.Dense(3)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("flatten", "Flatten of a (3, 4) input")
def _(rng, shared):
    model = seq([keras.Input((3, 4)), L.Flatten(), L.Dense(2)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("reshape", "Reshape to (3, 4) and to (-1, 2)")
def _(rng, shared):
    model = seq([keras.Input((12,)), L.Reshape((3, 4)), L.Reshape((-1, 2))])
    return model, xs_for(model)


@fixture("permute", "Permute((3, 1, 2))")
def _(rng, shared):
    model = seq([keras.Input((2, 3, 4)), L.Permute((3, 1, 2))])
    return model, xs_for(model)


@fixture("repeat_vector", "RepeatVector(4)")
def _(rng, shared):
    model = seq([keras.Input((3,)), L.RepeatVector(4)])
    return model, xs_for(model)


@fixture("conv1d_valid", "Conv1D valid padding, strides 2, relu")
def _(rng, shared):
    return single_layer(L.Conv1D(4, 3, strides=2, padding="valid", activation="relu"), (11, 3), rng)


@fixture("conv1d_same", "Conv1D same padding, dilation 2")
def _(rng, shared):
    return single_layer(L.Conv1D(4, 3, padding="same", dilation_rate=2), (10, 3), rng)


@fixture("conv1d_causal", "Conv1D causal padding, dilation 2")
def _(rng, shared):
    return single_layer(L.Conv1D(2, 2, padding="causal", dilation_rate=2), (9, 3), rng)


@fixture("conv2d_valid_strides", "Conv2D valid padding, strides 2")
def _(rng, shared):
    return single_layer(L.Conv2D(3, (3, 3), strides=2, padding="valid"), (7, 7, 2), rng)


@fixture("conv2d_same_strides", "Conv2D 3x2 kernel, same padding, strides 2 on odd sizes (asymmetric padding), tanh")
def _(rng, shared):
    return single_layer(L.Conv2D(3, (3, 2), strides=(2, 2), padding="same", activation="tanh"), (7, 5, 2), rng)


@fixture("conv2d_dilation", "Conv2D same padding, dilation 2, no bias")
def _(rng, shared):
    return single_layer(L.Conv2D(2, (3, 3), padding="same", dilation_rate=2, use_bias=False), (6, 6, 3), rng)


@fixture("depthwise_conv2d", "DepthwiseConv2D depth_multiplier 2, same padding")
def _(rng, shared):
    return single_layer(L.DepthwiseConv2D((3, 3), depth_multiplier=2, padding="same"), (5, 5, 3), rng)


@fixture("depthwise_conv2d_strides", "DepthwiseConv2D valid padding, strides 2, relu")
def _(rng, shared):
    return single_layer(L.DepthwiseConv2D((2, 2), strides=2, activation="relu"), (6, 5, 2), rng)


@fixture("pooling1d", "MaxPooling1D and AveragePooling1D: valid pool 2; same pool 3 strides 2 (pads excluded)")
def _(rng, shared):
    return branches((9, 2), rng, [
        L.MaxPooling1D(2, name="max_valid"),
        L.MaxPooling1D(3, strides=2, padding="same", name="max_same"),
        L.AveragePooling1D(2, name="avg_valid"),
        L.AveragePooling1D(3, strides=2, padding="same", name="avg_same"),
    ])


@fixture("pooling2d", "MaxPooling2D and AveragePooling2D: valid 2x2; same 3x3 strides 2 (pads excluded)")
def _(rng, shared):
    return branches((5, 6, 2), rng, [
        L.MaxPooling2D((2, 2), name="max_valid"),
        L.MaxPooling2D((3, 3), strides=2, padding="same", name="max_same"),
        L.AveragePooling2D((2, 2), name="avg_valid"),
        L.AveragePooling2D((3, 3), strides=2, padding="same", name="avg_same"),
    ])


@fixture("global_pooling", "GlobalAverage/MaxPooling1D/2D (keepdims on two of them)")
def _(rng, shared):
    a = keras.Input((5, 3))
    b = keras.Input((4, 3, 2))
    model = keras.Model([a, b], [
        L.GlobalAveragePooling1D(name="gap1d")(a),
        L.GlobalMaxPooling1D(keepdims=True, name="gmp1d_keepdims")(a),
        L.GlobalAveragePooling2D(keepdims=True, name="gap2d_keepdims")(b),
        L.GlobalMaxPooling2D(name="gmp2d")(b),
    ])
    return model, xs_for(model)


@fixture("zero_padding2d", "ZeroPadding2D(((1, 2), (0, 1)))")
def _(rng, shared):
    model = seq([keras.Input((3, 2, 2)), L.ZeroPadding2D(((1, 2), (0, 1)))])
    return model, xs_for(model)


@fixture("batch_normalization_dense", "BatchNormalization after Dense, non-trivial moving statistics")
def _(rng, shared):
    model = seq([keras.Input((5,)), L.Dense(4), L.BatchNormalization(), L.Dense(2)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("batch_normalization_conv", "BatchNormalization of Conv2D channels, epsilon 0.01, momentum 0.9")
def _(rng, shared):
    model = seq([keras.Input((4, 4, 2)), L.Conv2D(3, 2), L.BatchNormalization(epsilon=0.01, momentum=0.9)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("batch_normalization_no_scale", "BatchNormalization(axis=1, center=False, scale=False) on a sequence")
def _(rng, shared):
    model = seq([keras.Input((3, 4)), L.BatchNormalization(axis=1, center=False, scale=False)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("layer_normalization", "LayerNormalization over the last axis; over axes [1, 2] with epsilon 0.1")
def _(rng, shared):
    return branches((3, 4), rng, [L.LayerNormalization(name="last_axis"),
                                  L.LayerNormalization(axis=[1, 2], epsilon=0.1, name="axes_1_2")], -2.0, 2.0)


def padded_ids(vocab, steps):
    ids = np.random.RandomState(seed_of("ids%d:%d" % (vocab, steps))).randint(1, vocab, size=(BATCH, steps))
    ids = ids.astype(np.int32)
    for row in range(BATCH):
        ids[row, steps - row:] = 0  # row r ends with r pads
    ids[2, 1] = 0  # and one in the middle
    return ids


@fixture("embedding_mask_zero", "Embedding(mask_zero=True) then masked GlobalAveragePooling1D")
def _(rng, shared):
    inp = keras.Input((6,), dtype="int32", name="ids")
    e = L.Embedding(10, 4, mask_zero=True)(inp)
    out = L.Dense(2)(L.GlobalAveragePooling1D()(e))
    model = keras.Model(inp, out)
    randomize_weights(model, rng)
    return model, [padded_ids(10, 6)]


@fixture("embedding_lstm", "Embedding(mask_zero=True) feeding an LSTM (masked steps carry the state)")
def _(rng, shared):
    model = seq([keras.Input((6,), dtype="int32"), L.Embedding(8, 3, mask_zero=True), L.LSTM(4)])
    randomize_weights(model, rng)
    return model, [padded_ids(8, 6)]


def masked_sequence(steps, features):
    x = x_floats((BATCH, steps, features))
    x[0, -1, :] = 0.0
    x[1, -2:, :] = 0.0
    x[2, 1, :] = 0.0
    return x


@fixture("masking_simple_rnn", "Masking(0.0) then SimpleRNN(return_sequences=True)")
def _(rng, shared):
    model = seq([keras.Input((5, 3)), L.Masking(0.0), L.SimpleRNN(4, return_sequences=True)])
    randomize_weights(model, rng)
    return model, [masked_sequence(5, 3)]


@fixture("merges", "Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate (axis -1 and 1) of two inputs")
def _(rng, shared):
    a = keras.Input((3, 4), name="a")
    b = keras.Input((3, 4), name="b")
    model = keras.Model([a, b], [
        L.Add(name="add")([a, b]),
        L.Subtract(name="subtract")([a, b]),
        L.Multiply(name="multiply")([a, b]),
        L.Average(name="average")([a, b]),
        L.Maximum(name="maximum")([a, b]),
        L.Minimum(name="minimum")([a, b]),
        L.Concatenate(name="concatenate")([a, b]),
        L.Concatenate(axis=1, name="concatenate_axis1")([a, b]),
    ])
    return model, xs_for(model)


@fixture("merge_three_inputs", "Add and Concatenate of three inputs of different widths")
def _(rng, shared):
    ins = [keras.Input((w,)) for w in (2, 3, 2)]
    out = L.Concatenate(name="concat3")(ins)
    total = L.Add(name="add3")([ins[0], ins[2], L.Dense(2)(ins[1])])
    model = keras.Model(ins, [out, total])
    randomize_weights(model, rng)
    return model, xs_for(model)


def rnn_fixture(make_layer, steps=5, features=3, masked=False, initial_states=0, units=4):
    def build(rng, shared):
        x_in = keras.Input((steps, features), name="sequence")
        t = L.Masking(0.0)(x_in) if masked else x_in
        state_in = [keras.Input((units,), name="state_%d" % i) for i in range(initial_states)]
        layer = make_layer()
        out = layer(t, initial_state=state_in) if state_in else layer(t)
        model = keras.Model([x_in] + state_in, out)
        randomize_weights(model, rng)
        x = masked_sequence(steps, features) if masked else x_floats((BATCH, steps, features))
        return model, [x] + [x_floats((BATCH, units), i + 1) for i in range(initial_states)]

    return build


RNNS = [
    ("simple_rnn", "SimpleRNN(return_sequences=True)", lambda: L.SimpleRNN(4, return_sequences=True), {}),
    ("simple_rnn_state_backwards", "SimpleRNN(return_state=True, go_backwards=True, activation='relu')",
     lambda: L.SimpleRNN(4, return_state=True, go_backwards=True, activation="relu"), {}),
    ("simple_rnn_initial_state", "SimpleRNN with initial_state as an extra input",
     lambda: L.SimpleRNN(4), {"initial_states": 1}),
    ("lstm", "LSTM(4)", lambda: L.LSTM(4), {}),
    ("lstm_sequences_state", "LSTM(return_sequences=True, return_state=True)",
     lambda: L.LSTM(4, return_sequences=True, return_state=True), {}),
    ("lstm_go_backwards", "LSTM(go_backwards=True, return_sequences=True)",
     lambda: L.LSTM(4, go_backwards=True, return_sequences=True), {}),
    ("lstm_initial_state", "LSTM with initial_state [h, c] as extra inputs",
     lambda: L.LSTM(4, return_sequences=True), {"initial_states": 2}),
    ("lstm_masked", "Masking then LSTM(return_sequences=True)",
     lambda: L.LSTM(4, return_sequences=True), {"masked": True}),
    ("lstm_activations", "LSTM(activation='relu', recurrent_activation='hard_sigmoid', unit_forget_bias=False)",
     lambda: L.LSTM(4, activation="relu", recurrent_activation="hard_sigmoid", unit_forget_bias=False), {}),
    ("gru_reset_after", "GRU(reset_after=True) (the default)", lambda: L.GRU(4), {}),
    ("gru_reset_before", "GRU(reset_after=False, return_sequences=True)",
     lambda: L.GRU(4, reset_after=False, return_sequences=True), {}),
    ("gru_sequences_state", "GRU(return_sequences=True, return_state=True)",
     lambda: L.GRU(4, return_sequences=True, return_state=True), {}),
    ("gru_go_backwards", "GRU(go_backwards=True, reset_after=False)",
     lambda: L.GRU(4, go_backwards=True, reset_after=False), {}),
    ("gru_initial_state", "GRU with initial_state as an extra input",
     lambda: L.GRU(4, return_sequences=True), {"initial_states": 1}),
    ("gru_masked", "Masking then GRU(return_sequences=True, return_state=True)",
     lambda: L.GRU(4, return_sequences=True, return_state=True), {"masked": True}),
    ("gru_masked_reset_before", "Masking then GRU(reset_after=False, go_backwards=True)",
     lambda: L.GRU(4, reset_after=False, go_backwards=True), {"masked": True}),
]

for _rnn_name, _rnn_desc, _rnn_make, _rnn_kwargs in RNNS:
    fixture(_rnn_name, _rnn_desc)(rnn_fixture(_rnn_make, **_rnn_kwargs))


@fixture("stacked_rnn", "LSTM(return_sequences=True) then GRU then Dense")
def _(rng, shared):
    model = seq([keras.Input((5, 3)), L.LSTM(4, return_sequences=True), L.GRU(3), L.Dense(2)])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("rescaling", "Rescaling(1/127.5, offset=-1)")
def _(rng, shared):
    model = seq([keras.Input((2, 3)), L.Rescaling(1.0 / 127.5, offset=-1.0)])
    return model, xs_for(model, 0.0, 255.0)


@fixture("normalization_adapted", "Normalization adapted to data (mean, variance, int64 count weights)")
def _(rng, shared):
    norm = L.Normalization(axis=-1)
    model = seq([keras.Input((3,)), norm, L.Dense(2)])  # built in the model: weights named normalization/...
    norm.adapt(rng.normal(2.0, 3.0, size=(40, 3)).astype(np.float32))
    randomize_weights(model, rng, keep=(norm,))
    return model, xs_for(model, -4.0, 8.0)


@fixture("initializers", "every initializer in layer configs (kernel and bias)")
def _(rng, shared):
    I = keras.initializers  # noqa: E741
    inits = [
        (I.Zeros(), I.Ones()),
        (I.Ones(), I.Constant(0.25)),
        (I.Constant(-0.5), I.Zeros()),
        (I.RandomNormal(mean=0.1, stddev=0.2, seed=1), I.RandomUniform(-0.3, 0.4, seed=2)),
        (I.RandomUniform(minval=-0.1, maxval=0.2, seed=3), I.TruncatedNormal(mean=0.0, stddev=0.3, seed=4)),
        (I.TruncatedNormal(stddev=0.5, seed=5), I.RandomNormal()),
        (I.GlorotUniform(seed=6), I.Zeros()),
        (I.GlorotNormal(seed=7), I.Zeros()),
        (I.HeNormal(seed=8), I.Zeros()),
        (I.HeUniform(seed=9), I.Zeros()),
        (I.LecunNormal(seed=10), I.Zeros()),
        (I.LecunUniform(seed=11), I.Zeros()),
        (I.Orthogonal(gain=1.5, seed=12), I.Zeros()),
        (I.Identity(gain=0.5), I.Zeros()),
        (I.VarianceScaling(scale=2.0, mode="fan_avg", distribution="uniform", seed=13), I.Zeros()),
    ]
    layers = [keras.Input((4,))]
    for k, b in inits:
        layers.append(L.Dense(2 if len(layers) == len(inits) else 4, kernel_initializer=k, bias_initializer=b))
    model = seq(layers)
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("regularizers_constraints", "L1/L2/L1L2 regularizers and MaxNorm/NonNeg/UnitNorm/MinMaxNorm constraints")
def _(rng, shared):
    R = keras.regularizers
    C = keras.constraints
    model = seq([
        keras.Input((4,)),
        L.Dense(4, kernel_regularizer=R.L1(0.01), bias_regularizer=R.L2(0.02),
                activity_regularizer=R.L1L2(l1=0.001, l2=0.002),
                kernel_constraint=C.MaxNorm(max_value=2.0, axis=0), bias_constraint=C.NonNeg()),
        L.Dense(3, kernel_regularizer=R.L1L2(l1=0.0, l2=0.0005),
                kernel_constraint=C.UnitNorm(axis=0),
                bias_constraint=C.MinMaxNorm(min_value=0.1, max_value=1.5, rate=0.9, axis=0)),
        L.Reshape((3, 1)),
        L.Conv1D(2, 1, kernel_regularizer=R.L2(0.1), kernel_constraint=C.NonNeg()),
    ])
    randomize_weights(model, rng)
    return model, xs_for(model)


# ---- issue 18, volumetric layers: Conv3D, Conv3DTranspose, 3-D pooling ------------------


@fixture("conv3d", "Conv3D: valid/same, strides, dilation, groups, no bias, activation; the Convolution3D alias")
def _(rng, shared):
    return branches((4, 5, 5, 2), rng, [
        L.Conv3D(3, 2, name="valid"),
        L.Conv3D(4, (3, 2, 3), strides=(2, 1, 2), padding="same", activation="relu", name="same_strided"),
        L.Conv3D(2, 2, dilation_rate=(2, 1, 2), padding="same", use_bias=False, name="same_dilated"),
        L.Conv3D(2, (2, 2, 3), dilation_rate=(1, 2, 1), name="valid_dilated"),
        L.Conv3D(4, (2, 3, 1), strides=(1, 2, 1), groups=2, name="grouped"),
        L.Convolution3D(2, (1, 2, 2), strides=(3, 2, 2), padding="same", name="alias"),
    ])


@fixture("conv3d_transpose", "Conv3DTranspose: valid/same, strides, output_padding, stride > kernel; the alias")
def _(rng, shared):
    return branches((3, 4, 3, 2), rng, [
        L.Conv3DTranspose(3, 2, name="valid"),
        L.Conv3DTranspose(2, 3, strides=2, padding="same", name="same_strided"),
        L.Conv3DTranspose(2, (2, 3, 2), strides=(2, 1, 3), output_padding=(1, 0, 2), name="valid_output_padding"),
        L.Conv3DTranspose(3, 3, strides=(1, 2, 2), padding="same", output_padding=(0, 1, 1),
                          activation="tanh", use_bias=False, name="same_output_padding"),
        L.Conv3DTranspose(2, (1, 2, 1), strides=(2, 3, 2), name="stride_beyond_kernel"),
        L.Convolution3DTranspose(2, (2, 1, 2), strides=(2, 2, 1), padding="same", name="alias"),
        L.Conv3DTranspose(2, 2, groups=2, name="groups_ignored"),  # tf-keras writes groups, applies none
    ])


@fixture("pooling_3d", "MaxPooling3D/AveragePooling3D valid and same, channels_first, global 3-D poolings; aliases")
def _(rng, shared):
    return branches((4, 5, 5, 2), rng, [
        L.MaxPooling3D(name="max_default"),
        L.MaxPooling3D((2, 3, 2), strides=(1, 2, 2), padding="same", name="max_same"),
        L.AveragePooling3D((3, 2, 2), strides=(2, 2, 1), padding="same", name="avg_same"),
        L.AveragePooling3D(2, strides=1, name="avg_valid"),
        L.MaxPool3D((2, 2, 3), data_format="channels_first", padding="same", name="max_first"),
        L.AvgPool3D((3, 2, 2), strides=(2, 1, 1), name="avg_alias"),
        L.GlobalMaxPooling3D(name="gmax"),
        L.GlobalAveragePooling3D(keepdims=True, name="gavg_keep"),
        L.GlobalMaxPool3D(data_format="channels_first", keepdims=True, name="gmax_first"),
        L.GlobalAvgPool3D(name="gavg_alias"),
    ])


@fixture("volumetric_model", "Conv3D, MaxPooling3D, Conv3DTranspose, GlobalAveragePooling3D, Dense")
def _(rng, shared):
    model = seq([
        keras.Input((4, 6, 6, 2)),
        L.Conv3D(4, 3, padding="same", activation="relu"),
        L.MaxPooling3D(2),
        L.Conv3DTranspose(3, 2, strides=2, activation="relu"),
        L.GlobalAveragePooling3D(),
        L.Dense(2),
    ])
    randomize_weights(model, rng)
    return model, xs_for(model)


# ---- issue 18: separable, depthwise 1-D and transposed convolutions ----------------------

@fixture("separable_conv_1d", "SeparableConv1D: causal, same with strides 2 and depth_multiplier 2, "
         "dilated valid with relu and no bias")
def _(rng, shared):
    return branches((9, 3), rng, [
        L.SeparableConv1D(4, 3, padding="causal", name="causal"),
        L.SeparableConv1D(2, 2, strides=2, padding="same", depth_multiplier=2, name="strided_same"),
        L.SeparableConvolution1D(3, 3, dilation_rate=2, activation="relu", use_bias=False, name="dilated"),
    ])


@fixture("separable_conv_2d", "SeparableConv2D: valid, same with strides 2 and depth_multiplier 3, "
         "dilated same with tanh and no bias")
def _(rng, shared):
    return branches((7, 6, 2), rng, [
        L.SeparableConv2D(3, 3, name="valid"),
        L.SeparableConv2D(4, (2, 3), strides=2, padding="same", depth_multiplier=3, name="strided_same"),
        L.SeparableConvolution2D(2, 2, dilation_rate=(2, 1), padding="same", activation="tanh", use_bias=False,
                                 name="dilated"),
    ])


@fixture("depthwise_conv_1d", "DepthwiseConv1D: valid, same with strides 2 and depth_multiplier 2, "
         "dilated with relu and no bias")
def _(rng, shared):
    return branches((8, 3), rng, [
        L.DepthwiseConv1D(3, name="valid"),
        L.DepthwiseConv1D(2, strides=2, padding="same", depth_multiplier=2, name="strided_same"),
        L.DepthwiseConv1D(3, dilation_rate=2, activation="relu", use_bias=False, name="dilated"),
    ])


@fixture("conv_1d_transpose", "Conv1DTranspose: valid, same with strides 2, output_padding 1 with strides 3, "
         "dilated with relu and no bias")
def _(rng, shared):
    return branches((5, 3), rng, [
        L.Conv1DTranspose(2, 3, name="valid"),
        L.Conv1DTranspose(3, 4, strides=2, padding="same", name="strided_same"),
        L.Conv1DTranspose(2, 3, strides=3, output_padding=1, name="output_padding"),
        L.Convolution1DTranspose(2, 3, dilation_rate=2, padding="same", activation="relu", use_bias=False,
                                 name="dilated"),
    ])


@fixture("conv_2d_transpose", "Conv2DTranspose: valid, same with strides (2, 3), output_padding with strides 2, "
         "dilated valid with relu and no bias")
def _(rng, shared):
    return branches((4, 3, 2), rng, [
        L.Conv2DTranspose(3, 3, name="valid"),
        L.Conv2DTranspose(2, (3, 2), strides=(2, 3), padding="same", name="strided_same"),
        L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=(0, 1), name="output_padding"),
        L.Convolution2DTranspose(2, 2, dilation_rate=2, activation="relu", use_bias=False, name="dilated"),
    ])


@fixture("unet_transpose", "a small U-Net: Conv2D and MaxPooling2D down, Conv2DTranspose up, Concatenate skips")
def _(rng, shared):
    inp = keras.Input((8, 8, 2))
    c1 = L.Conv2D(4, 3, activation="relu", padding="same")(inp)
    p1 = L.MaxPooling2D()(c1)
    c2 = L.SeparableConv2D(8, 3, activation="relu", padding="same")(p1)
    p2 = L.MaxPooling2D()(c2)
    b = L.Conv2D(8, 3, activation="relu", padding="same")(p2)
    u2 = L.Conv2DTranspose(8, 2, strides=2, padding="same")(b)
    d2 = L.Conv2D(8, 3, activation="relu", padding="same")(L.Concatenate()([u2, c2]))
    u1 = L.Conv2DTranspose(4, 3, strides=2, padding="same")(d2)
    d1 = L.Conv2D(4, 3, activation="relu", padding="same")(L.Concatenate()([u1, c1]))
    out = L.Conv2D(1, 1, activation="sigmoid")(d1)
    model = keras.Model(inp, out)
    randomize_weights(model, rng)
    return model, xs_for(model)


# ---- issue 18: recurrent wrappers (Bidirectional, TimeDistributed) --------------------------


@fixture("bilstm_tagger", "Embedding(mask_zero=True), Bidirectional(LSTM(return_sequences=True)), "
         "TimeDistributed(Dense): a sequence tagger")
def _(rng, shared):
    model = seq([keras.Input((6,), dtype="int32"), L.Embedding(8, 3, mask_zero=True),
                 L.Bidirectional(L.LSTM(3, return_sequences=True)), L.TimeDistributed(L.Dense(2))])
    randomize_weights(model, rng)
    return model, [padded_ids(8, 6)]


@fixture("bidirectional_merge_modes", "Masking then Bidirectional with merge_mode sum (SimpleRNN), mul (GRU), "
         "ave (LSTM, sequences), concat (GRU, sequences) and None (SimpleRNN, sequences)")
def _(rng, shared):
    x_in = keras.Input((5, 3), name="sequence")
    t = L.Masking(0.0)(x_in)
    outs = [
        L.Bidirectional(L.SimpleRNN(2), merge_mode="sum", name="bi_sum")(t),
        L.Bidirectional(L.GRU(2), merge_mode="mul", name="bi_mul")(t),
        L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="ave", name="bi_ave")(t),
        L.Bidirectional(L.GRU(2, return_sequences=True), name="bi_concat")(t),
    ] + L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode=None, name="bi_none")(t)
    model = keras.Model(x_in, outs)
    randomize_weights(model, rng)
    return model, [masked_sequence(5, 3)]


@fixture("bidirectional_return_state", "Bidirectional(LSTM(return_sequences, return_state)) and "
         "Bidirectional(GRU(return_state), merge_mode=None): outputs then forward and backward states")
def _(rng, shared):
    x_in = keras.Input((4, 3), name="sequence")
    outs = L.Bidirectional(L.LSTM(2, return_sequences=True, return_state=True), name="bi_lstm")(x_in)
    outs += L.Bidirectional(L.GRU(2, return_state=True), merge_mode=None, name="bi_gru")(x_in)
    model = keras.Model(x_in, outs)
    randomize_weights(model, rng)
    return model, xs_for(model)


# ---- issue 18, attention layers: EinsumDense ------------------------------------------


@fixture("einsum_dense", "EinsumDense with several equations, bias_axes and an ellipsis")
def _(rng, shared):
    inp = keras.Input((3, 4))
    a = L.EinsumDense("abc,cde->abde", output_shape=(3, 2, 2), bias_axes="de", activation="tanh")(inp)
    b = L.EinsumDense("abcd,cde->abe", output_shape=(3, 5))(a)
    c = L.EinsumDense("...b,bc->...c", output_shape=4, bias_axes="c")(b)
    d = L.EinsumDense("ab...,bc->ac...", output_shape=2, bias_axes="c")(c)
    model = keras.Model(inp, [c, d])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("bidirectional_backward_layer", "Bidirectional(GRU(3), backward_layer=LSTM(2, go_backwards=True)) "
         "over masked steps")
def _(rng, shared):
    x_in = keras.Input((5, 3), name="sequence")
    t = L.Masking(0.0)(x_in)
    out = L.Bidirectional(L.GRU(3, return_sequences=True),
                          backward_layer=L.LSTM(2, return_sequences=True, go_backwards=True))(t)
    model = keras.Model(x_in, out)
    randomize_weights(model, rng)
    return model, [masked_sequence(5, 3)]


@fixture("bidirectional_initial_state", "Bidirectional(GRU) with forward and backward initial states as inputs")
def _(rng, shared):
    x_in = keras.Input((4, 3), name="sequence")
    states = [keras.Input((2,), name="forward_h"), keras.Input((2,), name="backward_h")]
    out = L.Bidirectional(L.GRU(2))(x_in, initial_state=states)
    model = keras.Model([x_in] + states, out)
    randomize_weights(model, rng)
    return model, xs_for(model)
@fixture("transformer_encoder", "MultiHeadAttention self-attention with an attention mask, LayerNormalization, Dense feed-forward, residual Adds")
def _(rng, shared):
    x = keras.Input((4, 6))
    m = keras.Input((4, 4))
    a = L.MultiHeadAttention(num_heads=2, key_dim=3)(x, x, attention_mask=m)
    h = L.LayerNormalization()(L.Add()([x, a]))
    f = L.Dense(6)(L.Dense(8, activation="relu")(h))
    out = L.LayerNormalization()(L.Add()([h, f]))
    model = keras.Model([x, m], out)
    randomize_weights(model, rng)
    xs = xs_for(model)
    xs[1] = (rng.uniform(size=(xs[1].shape)) > 0.3).astype(np.float32)
    return model, xs


@fixture("mha_attention_axes", "MultiHeadAttention over axes (1, 2) of 4-D inputs, separate key, value_dim, output_shape")
def _(rng, shared):
    q = keras.Input((2, 3, 4))
    v = keras.Input((2, 2, 5))
    k = keras.Input((2, 2, 3))
    out = L.MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3, attention_axes=(1, 2), output_shape=(2, 3))(q, v, key=k)
    model = keras.Model([q, v, k], out)
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("time_distributed_conv", "TimeDistributed(Conv2D), TimeDistributed(Flatten), TimeDistributed(Dense)")
def _(rng, shared):
    model = seq([keras.Input((3, 4, 4, 2)), L.TimeDistributed(L.Conv2D(2, 3)), L.TimeDistributed(L.Flatten()),
                 L.TimeDistributed(L.Dense(3, activation="tanh"))])
    randomize_weights(model, rng)
    return model, xs_for(model)
@fixture("dense_attention_masked", "Attention (use_scale, concat scores) and AdditiveAttention on Masking-masked query and value")
def _(rng, shared):
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    qm = L.Masking(0.0)(q)
    vm = L.Masking(0.0)(v)
    a = L.Attention(use_scale=True)([qm, vm])
    b = L.Attention(score_mode="concat", use_scale=True)([qm, vm, vm])
    c = L.AdditiveAttention()([qm, vm])
    d = L.AdditiveAttention(use_scale=False)([q, v])
    model = keras.Model([q, v], [a, b, c, d])
    randomize_weights(model, rng)
    xs = xs_for(model)
    xs[0][0, 2, :] = 0.0
    xs[1][1, 3:, :] = 0.0
    return model, xs


@fixture("dot", "Dot over the last axes with normalize, over axes (1, 1), and of two vectors")
def _(rng, shared):
    x = keras.Input((3, 4))
    y = keras.Input((3, 4))
    u = keras.Input((4,))
    w = keras.Input((4,))
    a = L.Dot(axes=-1, normalize=True)([x, y])
    b = L.Dot(axes=(1, 1))([x, y])
    c = L.Dot(axes=1)([u, w])
    model = keras.Model([x, y, u, w], [a, b, c])
    return model, xs_for(model)


@fixture("convnext_block", "a ConvNeXt-like block: DepthwiseConv2D, LayerNormalization, Dense, gelu, LayerScale, StochasticDepth, residual Add")
def _(rng, shared):
    from tf_keras.src.applications.convnext import LayerScale, StochasticDepth

    x = keras.Input((5, 5, 8))
    h = L.DepthwiseConv2D(3, padding="same")(x)
    h = L.LayerNormalization(epsilon=1e-6)(h)
    h = L.Dense(16)(h)
    h = L.Activation("gelu")(h)
    h = L.Dense(8)(h)
    h = LayerScale(1e-6, 8)(h)
    h = StochasticDepth(0.1)(h)
    model = keras.Model(x, L.Add()([x, h]))
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("rnn_cells", "Masking then RNN(SimpleRNNCell, return_sequences), RNN(LSTMCell, return_state), "
         "RNN(GRUCell(reset_after=False), go_backwards)")
def _(rng, shared):
    x_in = keras.Input((5, 3), name="sequence")
    t = L.Masking(0.0)(x_in)
    outs = [L.RNN(L.SimpleRNNCell(2, activation="relu"), return_sequences=True)(t)]
    outs += L.RNN(L.LSTMCell(2), return_state=True)(t)
    outs.append(L.RNN(L.GRUCell(2, reset_after=False), go_backwards=True)(t))
    model = keras.Model(x_in, outs)
    randomize_weights(model, rng)
    return model, [masked_sequence(5, 3)]


# ---- issue 18: TensorFlow functions on Keras tensors (TFOpLambda, SlicingOpLambda) -------
# tf-keras wraps each tf function called on a Keras tensor in a TFOpLambda (a slice in a
# SlicingOpLambda); the call's constants and tensor arguments go into the inbound nodes.


@fixture("tf_op_lambda_math", "element-wise tf.math/tf.nn functions, operators and reductions on Keras tensors "
         "(TFOpLambda), constants on either side, tensor keyword arguments")
def _(rng, shared):
    a = keras.Input((4, 6), name="a")
    b = keras.Input((4, 6), name="b")
    d = L.Dense(6, name="dense")(a)
    c = d - 1.0
    u1 = (tf.nn.relu(c) + tf.nn.relu6(c * 8.0) + tf.nn.gelu(c) + tf.nn.silu(c) + tf.math.erf(c)
          + tf.math.abs(c) + tf.math.negative(c) + tf.math.square(c) + tf.math.tanh(c) + tf.math.sigmoid(c))
    u2 = (tf.math.sqrt(a) * tf.math.rsqrt(b) + tf.math.exp(c) - tf.math.log(a) / b + tf.math.pow(a, b)
          + tf.maximum(a, b) - tf.minimum(a, 0.7) + (2.0 - a) + 1.0 / b + tf.math.add(a, 1) + tf.math.truediv(b, 3))
    outs = [u1, u2, tf.nn.softmax(c, axis=1), tf.nn.softmax(u2),
            tf.math.reduce_mean(u1, axis=1, keepdims=True), tf.math.reduce_sum(u2, axis=[1, 2]),
            tf.math.reduce_max(u2, -1), tf.math.reduce_min(u1, axis=1)]
    model = keras.Model([a, b], outs)
    randomize_weights(model, rng)
    return model, xs_for(model, 0.2, 2.0)


@fixture("tf_op_lambda_shapes", "slicing (SlicingOpLambda: ranges, negative steps, ellipsis, newaxis, an index), "
         "tf.reshape, concat, stack, transpose, expand_dims, squeeze, cast and matmul on Keras tensors")
def _(rng, shared):
    a = keras.Input((4, 6), name="a")
    b = keras.Input((4, 6), name="b")
    s1 = a[:, 1:3]
    outs = [tf.reshape(s1, (-1, 12)), a[..., None, ::2], a[:, -1], a[:, ::-1, 2:],
            tf.concat([a, b * 2.0], axis=-1), tf.stack([a, b], axis=1), tf.transpose(a, perm=[0, 2, 1]),
            tf.expand_dims(b, 1), tf.squeeze(tf.math.reduce_mean(a, axis=1, keepdims=True), axis=1),
            tf.cast(tf.cast(a * 10.0, "int32"), "float32"), tf.matmul(a, b, transpose_b=True),
            a @ tf.transpose(b, [0, 2, 1])]
    model = keras.Model([a, b], outs)
    return model, xs_for(model)


@fixture("tf_op_lambda_resize", "tf.image.resize on Keras tensors: bilinear and nearest, up and down, "
         "integer and fractional factors")
def _(rng, shared):
    img = keras.Input((5, 7, 3), name="image")
    outs = [tf.image.resize(img, (3, 4)), tf.image.resize(img, (8, 11)),
            tf.image.resize(img, (10, 14), method="nearest"), tf.image.resize(img, (3, 5), method="nearest")]
    model = keras.Model(img, outs)
    return model, xs_for(model)


@fixture("resizing_center_crop", "Resizing (bilinear, nearest, crop_to_aspect_ratio) and CenterCrop (cropping, "
         "and smart-resizing an image smaller than the target)")
def _(rng, shared):
    img = keras.Input((6, 9, 2), name="image")
    outs = [L.Resizing(4, 5, name="resize_down")(img),
            L.Resizing(8, 12, interpolation="nearest", name="resize_up_nearest")(img),
            L.Resizing(4, 4, crop_to_aspect_ratio=True, name="resize_crop")(img),
            L.Resizing(5, 3, interpolation="nearest", crop_to_aspect_ratio=True, name="resize_crop_nearest")(img),
            L.CenterCrop(4, 5, name="center_crop")(img),
            L.CenterCrop(8, 5, name="center_crop_upsize")(img)]
    model = keras.Model(img, outs)
    return model, xs_for(model)


# ---- keras.applications internals (lead) ----------------------------------------------------


@fixture("inception_resnet_scale", "InceptionResNetV2's residual scaling: Custom>CustomScaleLayer over two conv branches")
def _(rng, shared):
    from tf_keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    x = keras.Input((5, 5, 4))
    branch = L.Conv2D(4, 1, name="branch")(x)
    up = L.Conv2D(4, 3, padding="same", name="up")(branch)
    y = CustomScaleLayer(0.17)([x, up])
    model = keras.Model(x, L.Activation("relu")(y))
    randomize_weights(model, rng)
    return model, xs_for(model)


# ---- unknown spatial sizes (lead) ------------------------------------------------------------


@fixture("conv_transpose_any_size", "a fully convolutional model of any input size: Conv2DTranspose "
         "(same with strides, valid, output_padding) and Conv1DTranspose on None spatial dimensions")
def _(rng, shared):
    image = keras.Input((None, None, 2))
    h = L.Conv2D(3, 3, padding="same")(image)
    a = L.Conv2DTranspose(2, 3, strides=2, padding="same", name="same_strided")(h)
    b = L.Conv2DTranspose(2, (2, 3), strides=(1, 2), name="valid")(h)
    c = L.Conv2DTranspose(2, 3, strides=2, output_padding=1, name="output_padding")(h)
    series = keras.Input((None, 3))
    d = L.Conv1DTranspose(2, 3, strides=2, padding="same", name="series")(series)
    model = keras.Model([image, series], [a, b, c, d])
    randomize_weights(model, rng)
    return model, [x_floats((BATCH, 6, 5, 2), 0, -1.0, 1.0), x_floats((BATCH, 7, 3), 1, -1.0, 1.0)]


# ---- issue 18, recurrent (second part): stacked cells, stateful layers ----------------------


@fixture("rnn_stacked_cells", "Masking then RNN([LSTMCell, GRUCell, SimpleRNNCell], return_sequences), "
         "RNN(StackedRNNCells([GRUCell(reset_after=False), LSTMCell]), go_backwards), Bidirectional(RNN([cells])), "
         "RNN([GRUCell, SimpleRNNCell], return_state)")
def _(rng, shared):
    x_in = keras.Input((5, 3), name="sequence")
    t = L.Masking(0.0)(x_in)
    # return_state on a stack whose cells have one state each (written before Strata's summary
    # nested an LSTMCell's (h, c); fixture cells_as_layers has that case)
    a = L.RNN([L.LSTMCell(3), L.GRUCell(2), L.SimpleRNNCell(2, activation="relu")], return_sequences=True)(t)
    b = L.RNN(L.StackedRNNCells([L.GRUCell(2, reset_after=False), L.LSTMCell(2)]), go_backwards=True)(t)
    c = L.Bidirectional(L.RNN([L.SimpleRNNCell(2), L.GRUCell(2)], return_sequences=True), merge_mode="sum")(t)
    d = L.RNN([L.GRUCell(3), L.SimpleRNNCell(2)], return_state=True)(t)
    model = keras.Model(x_in, [a, b, c] + list(d))
    randomize_weights(model, rng)
    return model, [masked_sequence(5, 3)]


@fixture("rnn_stateful", "stateful LSTM, GRU, RNN([cells]), Bidirectional(SimpleRNN), GRU(return_state, go_backwards) with batch size %d, "
         "predicted on two consecutive batches (the states carry over)" % BATCH)
def _(rng, shared):
    x_in = keras.Input(batch_shape=(BATCH, 4, 2), name="sequence")
    h = L.LSTM(3, stateful=True, return_sequences=True)(x_in)
    a = L.GRU(2, stateful=True)(h)
    b = L.RNN([L.LSTMCell(2), L.SimpleRNNCell(2)], stateful=True)(x_in)
    c = L.Bidirectional(L.SimpleRNN(2, stateful=True))(x_in)
    d = L.GRU(2, stateful=True, return_state=True, go_backwards=True)(x_in)
    model = keras.Model(x_in, [a, b, c] + list(d))
    randomize_weights(model, rng)
    x = x_floats((2 * BATCH, 4, 2))
    return model, [x]


@fixture("time_distributed_masked", "Masking then TimeDistributed(Dense) then LSTM; Masking on 4-D steps then "
         "TimeDistributed(LSTM, return_sequences) and TimeDistributed(GRU) (the wrapped layers take the folded mask), "
         "TimeDistributed(GlobalAveragePooling1D), LSTM")
def _(rng, shared):
    x_in = keras.Input((5, 3), name="sequence")
    a = L.LSTM(2)(L.TimeDistributed(L.Dense(3, activation="tanh"))(L.Masking(0.0)(x_in)))
    y_in = keras.Input((3, 4, 2), name="nested")
    m = L.Masking(0.0)(y_in)
    h = L.TimeDistributed(L.LSTM(2, return_sequences=True))(m)
    b = L.LSTM(2)(L.TimeDistributed(L.GRU(2))(h))
    c = L.LSTM(2)(L.TimeDistributed(L.GlobalAveragePooling1D())(m))
    model = keras.Model([x_in, y_in], [a, b, c])
    randomize_weights(model, rng)
    y = x_floats((BATCH, 3, 4, 2))
    y[0, 2, :, :] = 0.0  # a whole outer step masked
    y[1, 1, 2:, :] = 0.0  # trailing inner steps masked
    y[2, 0, 1, :] = 0.0  # an inner step in the middle
    return model, [masked_sequence(5, 3), y]


# ---- issue 18: attention call arguments (use_causal_mask, return_attention_scores, masks) ----


@fixture("mha_causal_scores", "MultiHeadAttention self-attention with use_causal_mask=True and "
         "return_attention_scores=True (outputs: attention output and scores [B, heads, T, S])")
def _(rng, shared):
    x = keras.Input((4, 3))
    out, scores = L.MultiHeadAttention(num_heads=2, key_dim=2)(x, x, use_causal_mask=True,
                                                                 return_attention_scores=True)
    model = keras.Model(x, [out, scores])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("mha_called_twice", "One MultiHeadAttention called twice: plain (query, value) and with key, "
         "use_causal_mask and return_attention_scores; each node keeps its own call arguments")
def _(rng, shared):
    q = keras.Input((3, 4))
    v = keras.Input((3, 4))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=2, name="shared_mha")
    plain = mha(q, v)
    causal, scores = mha(v, q, key=v, use_causal_mask=True, return_attention_scores=True)
    model = keras.Model([q, v], [plain, causal, scores])
    randomize_weights(model, rng)
    return model, xs_for(model)


@fixture("mha_keras_masks", "MultiHeadAttention on a Masking-masked query and an Embedding(mask_zero=True) value, "
         "with an attention_mask and a causal mask, returning scores")
def _(rng, shared):
    q = keras.Input((4, 3))
    ids = keras.Input((4,), dtype="int32")
    m = keras.Input((4, 4))
    qm = L.Masking(0.0)(q)
    v = L.Embedding(6, 3, mask_zero=True)(ids)
    out, scores = L.MultiHeadAttention(num_heads=2, key_dim=2)(qm, v, attention_mask=m, use_causal_mask=True,
                                                               return_attention_scores=True)
    model = keras.Model([q, ids, m], [out, scores])
    randomize_weights(model, rng)
    xs = xs_for(model)
    xs[0][1, 2, :] = 0.0
    xs[1] = padded_ids(6, 4)
    xs[2] = (np.random.RandomState(seed_of("mha_keras_masks")).uniform(size=xs[2].shape) > 0.3).astype(np.float32)
    xs[2][:, :, 0] = 1.0  # every query keeps one key: rows of -1e9 only differ from tf-keras by rounding
    return model, xs


@fixture("mha_axes_scores", "MultiHeadAttention over axes (1, 2) of 4-D inputs returning its scores, "
         "with an attention mask over both axes")
def _(rng, shared):
    q = keras.Input((2, 3, 4))
    v = keras.Input((2, 2, 4))
    m = keras.Input((2, 3, 2, 2))
    out, scores = L.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(1, 2))(
        q, v, attention_mask=m, return_attention_scores=True)
    model = keras.Model([q, v, m], [out, scores])
    randomize_weights(model, rng)
    xs = xs_for(model)
    xs[2] = (np.random.RandomState(seed_of("mha_axes_scores")).uniform(size=xs[2].shape) > 0.3).astype(np.float32)
    xs[2][..., 0, 0] = 1.0
    return model, xs


@fixture("dense_attention_causal_scores", "Attention and AdditiveAttention with use_causal_mask=True and "
         "return_attention_scores=True on a Masking-masked value, and Attention with scores only")
def _(rng, shared):
    q = keras.Input((4, 3))
    v = keras.Input((5, 3))
    vm = L.Masking(0.0)(v)
    a, a_scores = L.Attention(use_scale=True)([q, vm], use_causal_mask=True, return_attention_scores=True)
    b, b_scores = L.AdditiveAttention()([q, vm, vm], use_causal_mask=True, return_attention_scores=True)
    c, c_scores = L.Attention(score_mode="concat")([q, v], return_attention_scores=True)
    model = keras.Model([q, v], [a, a_scores, b, b_scores, c, c_scores])
    randomize_weights(model, rng)
    xs = xs_for(model)
    xs[1][1, 3:, :] = 0.0
    return model, xs


# ---- issue 18, trace ops: resizing images of unknown height and width (h-ops) ---------------


@fixture("resize_unknown_size", "Resizing, UpSampling2D bilinear and tf.image.resize on images whose height and "
         "width are unknown when the model is built (Input((None, None, 3)))")
def _(rng, shared):
    img = keras.Input((None, None, 3), name="image")
    up = L.UpSampling2D((2, 3), interpolation="bilinear", name="up_bilinear")(img)
    outs = [L.Resizing(4, 5, name="resize")(img),
            L.Resizing(3, 2, interpolation="nearest", name="resize_nearest")(up),
            up,
            tf.image.resize(img, (6, 4))]
    model = keras.Model(img, outs)
    return model, [x_floats((BATCH, 5, 3, 3))]
# Keys that only newer tf-keras has (2.17 refuses them): these models exist only in the
# fixtures a newer venv writes (tests/interop/keras_fixtures_current_venv.sh), not in the
# committed 2.17 ones.
if tuple(int(p) for p in keras.__version__.split(".")[:2]) >= (2, 21):

    @fixture("mha_robust_masking", "MultiHeadAttention with softmax_robust_masking (tf-keras 2.21), a fully "
             "masked query row and large scores, where replacing masked scores differs from adding -1e9")
    def _(rng, shared):
        x = keras.Input((4, 6))
        m = keras.Input((4, 4))
        a = L.MultiHeadAttention(num_heads=2, key_dim=3, softmax_robust_masking=True)(x, x, attention_mask=m)
        model = keras.Model([x, m], a)
        randomize_weights(model, rng)
        # Scores in the hundreds: score - 1e9 then rounds (float32) to different values per key,
        # so the additive mask does not give the robust mask's uniform weights on a masked row.
        model.layers[2]._query_dense.kernel.assign(model.layers[2]._query_dense.kernel * 40.0)
        xs = xs_for(model)
        xs[0] = xs[0] * 4.0
        mask = (rng.uniform(size=xs[1].shape) > 0.3).astype(np.float32)
        mask[:, 1, :] = 0.0
        xs[1] = mask
        return model, xs


# ---- issue 18: volumetric of unknown size ----------------------------------------------------


@fixture("volumetric_any_size", "Conv3D (same strided, valid dilated, grouped), Conv3DTranspose (same strided, "
         "valid, output_padding), MaxPooling3D/AveragePooling3D and the global 3-D poolings on "
         "Input((None, None, None, 2))")
def _(rng, shared):
    volume = keras.Input((None, None, None, 2))
    h = L.Conv3D(4, 3, strides=2, padding="same", activation="relu", name="same_strided")(volume)
    outputs = [
        h,
        L.Conv3D(2, (2, 2, 3), dilation_rate=(2, 1, 1), name="valid_dilated")(volume),
        L.Conv3D(4, 2, groups=2, padding="same", name="grouped")(volume),
        L.Conv3DTranspose(2, 3, strides=2, padding="same", name="t_same_strided")(h),
        L.Conv3DTranspose(3, (2, 3, 2), strides=(1, 2, 3), name="t_valid")(volume),
        L.Conv3DTranspose(2, 3, strides=(2, 1, 2), output_padding=(1, 0, 1), name="t_output_padding")(h),
        L.MaxPooling3D((2, 3, 2), strides=(1, 2, 2), padding="same", name="max_same")(volume),
        L.AveragePooling3D(2, name="avg_valid")(volume),
        L.GlobalMaxPooling3D(name="gmax")(h),
        L.GlobalAveragePooling3D(keepdims=True, name="gavg_keep")(volume),
    ]
    model = keras.Model(volume, outputs)
    randomize_weights(model, rng)
    return model, [x_floats((BATCH, 5, 4, 6, 2), 0, -1.0, 1.0)]


@fixture("time_distributed_fixed_batch", "Masking then TimeDistributed(Dense) then LSTM(return_sequences) on an "
         "Input with batch_shape (%d, 5, 3): tf-keras takes the reshape path for its built-in layers whatever the "
         "batch size" % BATCH)
def _(rng, shared):
    x_in = keras.Input(batch_shape=(BATCH, 5, 3), name="sequence")
    t = L.TimeDistributed(L.Dense(3, activation="tanh"))(L.Masking(0.0)(x_in))
    a = L.LSTM(2, return_sequences=True)(t)
    model = keras.Model(x_in, [t, a])
    randomize_weights(model, rng)
    return model, [masked_sequence(5, 3)]
# ---- issue 18: call arguments in nodes ----------------------------------------------------
# tf-keras writes an RNN called with initial_state as the node [x, *initial_state], nested as
# the call nested the states (one element per cell of a stack).


@fixture("rnn_nested_initial_states", "initial states nested per cell: RNN([LSTMCell, GRUCell]) on a masked sequence "
         "with [[h, c], g], RNN(StackedRNNCells) with [[[h], [c]], [g]], Bidirectional(RNN([cells])) and "
         "Bidirectional(LSTM) with four states")
def _(rng, shared):
    x_in = keras.Input((4, 3), name="sequence")
    h = keras.Input((3,), name="h0")
    c = keras.Input((3,), name="c0")
    g = keras.Input((2,), name="g0")
    t = L.Masking(0.0)(x_in)
    a = L.RNN([L.LSTMCell(3), L.GRUCell(2)])(t, initial_state=[[h, c], g])
    b = L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2)]), return_sequences=True)(x_in, initial_state=[[[h], [c]], [g]])
    d = L.Bidirectional(L.RNN([L.LSTMCell(3), L.GRUCell(2)]), merge_mode="sum")(x_in, initial_state=[[h, c], g, [c, h], g])
    e = L.Bidirectional(L.LSTM(3, return_sequences=True))(t, initial_state=[h, c, c, h])
    model = keras.Model([x_in, h, c, g], [a, b, d, e])
    randomize_weights(model, rng)
    xs = xs_for(model)
    xs[0] = masked_sequence(4, 3)
    return model, xs


@fixture("cells_as_layers", "LSTMCell, GRUCell (states one tensor) and SimpleRNNCell (states a list of one) called "
         "on states; RNN([LSTMCell, GRUCell], return_state) and Bidirectional of it: summaries nest the states")
def _(rng, shared):
    step = keras.Input((2,), name="step")
    h = keras.Input((3,), name="h")
    c = keras.Input((3,), name="c")
    g = keras.Input((2,), name="g")
    seq = keras.Input((4, 2), name="sequence")
    lo, (lh, lc) = L.LSTMCell(3)(step, states=[h, c])
    go, gs = L.GRUCell(2)(step, states=g)
    so, (ss,) = L.SimpleRNNCell(2)(step, states=[g])
    r = L.RNN([L.LSTMCell(3), L.GRUCell(2)], return_state=True)(seq)
    b = L.Bidirectional(L.RNN([L.LSTMCell(2), L.GRUCell(2)], return_state=True), merge_mode="sum")(seq)
    outs = [lo, lh, lc, go, gs, so, ss] + tf.nest.flatten(r) + tf.nest.flatten(b)
    model = keras.Model([step, h, c, g, seq], outs)
    randomize_weights(model, rng)
    return model, xs_for(model)


# ---- writing ----------------------------------------------------------------------------


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.by_digest = {}
        self.written = []

    def _write_bytes(self, filename, data):
        with open(os.path.join(self.out_dir, filename), "wb") as f:
            f.write(data)
        self.written.append(filename)

    def text(self, filename, text):
        self._write_bytes(filename, text.encode("utf-8"))

    def array(self, filename, array):
        """Writes `array` as a version 1.0 .npy file unless an identical one (dtype, shape,
        bytes) was written before; returns the name of the file that holds it."""
        array = np.array(array, order="C", copy=True)  # (np.ascontiguousarray would make a scalar 1-D)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        digest = hashlib.sha256(
            (str(array.dtype.str) + str(array.shape)).encode("ascii") + array.tobytes()).hexdigest()
        if digest in self.by_digest:
            return self.by_digest[digest]
        path = os.path.join(self.out_dir, filename)
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, version=(1, 0), allow_pickle=False)
        self.written.append(filename)
        self.by_digest[digest] = filename
        return filename


def h5_model_config(model, tmp_dir):
    """The `model_config` attribute of a real H5 file that tf-keras writes for `model`."""
    path = os.path.join(tmp_dir, "model.h5")
    model.save(path, save_format="h5", include_optimizer=False)
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
    os.remove(path)
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


def summary_text(model):
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    return "".join(line + "\n" for line in lines)


def layer_classes(config):
    """The layer classes a model config names, nested models included (sorted)."""
    found = set()

    def walk(model_config):
        for layer in model_config["config"]["layers"]:
            found.add(layer["class_name"])
            if layer["class_name"] in ("Sequential", "Functional", "Model"):
                walk(layer)

    walk(config)
    return sorted(found)


def tensor_entry(filename, array):
    return {"file": filename, "dtype": str(array.dtype), "shape": list(array.shape)}


def count(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


def generate(out_dir):
    found = (tf.__version__, keras.__version__)
    if found not in SUPPORTED_VERSIONS:
        sys.exit("generate_fixtures.py: expected tensorflow/tf-keras %s, found %s; run it with the venv "
                 "made by tests/interop/setup_venv.sh"
                 % (" or ".join("%s/%s" % v for v in sorted(SUPPORTED_VERSIONS)), "%s/%s" % found))
    if os.path.realpath(out_dir) == os.path.realpath(OUT_DIR_DEFAULT) and found != COMMITTED_VERSION:
        sys.exit("generate_fixtures.py: the committed fixtures in %s are tensorflow/tf-keras %s's; write %s's "
                 "elsewhere with --out DIR" % (out_dir, "%s/%s" % COMMITTED_VERSION, "%s/%s" % found))
    if os.path.isdir(out_dir):
        for entry in os.listdir(out_dir):
            full = os.path.join(out_dir, entry)
            if os.path.isfile(full):
                os.remove(full)
    os.makedirs(out_dir, exist_ok=True)
    writer = Writer(out_dir)
    shared = {}
    entries = []
    tmp_dir = tempfile.mkdtemp(prefix="strata-fixtures-")
    try:
        for name, builder, description in MODELS:
            keras.backend.clear_session()
            seed = seed_of(name)
            keras.utils.set_random_seed(seed)
            rng = np.random.RandomState(seed)
            model, inputs = builder(rng, shared)
            print("  %s" % name, file=sys.stderr)
            entries.append(write_model(writer, name, description, model, inputs, tmp_dir))
        writer.text("nested_weight_order.json", index_text(nested_weight_order()))
    finally:
        shutil.rmtree(tmp_dir)
    index = {
        "generator": "tests/interop/generate_fixtures.py",
        "versions": {
            "tensorflow": tf.__version__,
            "tf_keras": keras.__version__,
            "numpy": np.__version__,
            "h5py": h5py.__version__,
            "python": platform.python_version(),
        },
        "comparison": {"rtol": 1e-5, "atol": 1e-5},
        "models": entries,
        "extra_fixtures": ["nested_weight_order.json"],
    }
    writer.text("index.json", index_text(index))


def index_text(index):
    """index.json: indented down to each model's keys; shorter values (a tensor entry, a list
    of class names) on one line, so the file stays small and diffs stay readable."""

    def dump(value, indent):
        flat = json.dumps(value)
        if len(flat) + indent <= 140 or not isinstance(value, (dict, list)) or not value:
            return flat
        pad = " " * (indent + 1)
        if isinstance(value, dict):
            items = ["%s%s: %s" % (pad, json.dumps(k), dump(v, indent + 1)) for k, v in value.items()]
            return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
        items = [pad + dump(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"

    return dump(index, 0) + "\n"


def write_model(writer, name, description, model, inputs, tmp_dir):
    outputs = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0, batch_size=BATCH)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    h5_config = h5_model_config(model, tmp_dir)
    writer.text(name + ".config.json", h5_config)
    writer.text(name + ".to_json.json", model.to_json())
    writer.text(name + ".summary.txt", summary_text(model))
    weights = []
    trainable_ids = {id(v) for v in model.trainable_weights}  # a frozen layer's variables stay trainable
    for i, (variable, value) in enumerate(zip(model.weights, model.get_weights())):
        entry = tensor_entry(writer.array("%s.w%d.npy" % (name, i), value), value)
        entry["name"] = variable.name
        entry["trainable"] = id(variable) in trainable_ids
        weights.append(entry)
    xs = [tensor_entry(writer.array("%s.x%d.npy" % (name, i), x), x) for i, x in enumerate(inputs)]
    ys = [tensor_entry(writer.array("%s.y%d.npy" % (name, i), np.asarray(y)), np.asarray(y))
          for i, y in enumerate(outputs)]
    return {
        "name": name,
        "description": description,
        "class_name": json.loads(h5_config)["class_name"],
        "model_name": model.name,
        "config": name + ".config.json",
        "to_json": name + ".to_json.json",
        "summary": name + ".summary.txt",
        "num_inputs": len(xs),
        "num_outputs": len(ys),
        "num_weights": len(weights),
        "params": {
            "total": model.count_params(),
            "trainable": count(model.trainable_weights),
            "non_trainable": count(model.non_trainable_weights),
        },
        "layer_classes": layer_classes(json.loads(h5_config)),
        "inputs": xs,
        "outputs": ys,
        "weights": weights,
    }


def nested_weight_order():
    """The guide's "trainable-flag ordering in nested layers" example, names as tf-keras gives them."""

    class NestedDenseLayer(keras.layers.Layer):
        def __init__(self, units, name=None):
            super().__init__(name=name)
            self.dense_1 = keras.layers.Dense(units, name="dense_1")
            self.dense_2 = keras.layers.Dense(units, name="dense_2")

        def call(self, inputs):
            return self.dense_2(self.dense_1(inputs))

    keras.backend.clear_session()
    nested_model = keras.Sequential([keras.Input((784,)), NestedDenseLayer(10, "nested")])
    before = [v.name for v in nested_model.weights]
    nested_model.get_layer("nested").dense_1.trainable = False
    after = [v.name for v in nested_model.weights]
    return {
        "description": "Sequential([Input((784,)), NestedDenseLayer(10, 'nested')]); then "
                       "get_layer('nested').dense_1.trainable = False (the Keras saving guide)",
        "layer": {"class_name": "NestedDenseLayer", "config": {"units": 10, "name": "nested"}},
        "input_shape": [None, 784],
        "weights_before": before,
        "weights_after": after,
        "trainable_weights_after": [v.name for v in nested_model.trainable_weights],
        "non_trainable_weights_after": [v.name for v in nested_model.non_trainable_weights],
        "shapes_after": [list(v.shape) for v in nested_model.weights],
        "ordering_changed": before != after,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=OUT_DIR_DEFAULT, help="output directory (default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    args = parser.parse_args()
    if args.list:
        for name, _, description in MODELS:
            print("%-32s %s" % (name, description))
        return
    generate(args.out)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print("wrote %d models, %d files, %.1f KiB to %s" % (len(MODELS), len(os.listdir(args.out)), total / 1024.0,
                                                        args.out))


if __name__ == "__main__":
    main()
