"""Writes the peer benchmark's models, seeded, in every format each contender reads.

    python make_models.py OUTDIR [--apps] [--big]

OUTDIR/
  mlp.h5, mlp_savedmodel/, mlp.onnx         784-64-64-10, compiled as the Keras guide does
                                            (RMSprop, sparse categorical CE from logits)
  cnn.h5, cnn_savedmodel/, cnn.onnx         Conv2D(8,3x3,relu), MaxPool 2, Flatten,
                                            Dense(32,relu), Dense(10) on 28x28x1
  resnet50.h5, resnet50.onnx (--apps)       keras.applications, weights=None, seeded
  mobilenetv2.h5, mobilenetv2.onnx
  big.h5 (--big)                            one Dense 10000->10000 (100M params, 400 MB)
  manifest.json                             versions, input/output names, what was converted

The ONNX graphs of the MLP and the CNN are written here with onnx.helper from the Keras
weights (the same numbers); the applications go through tf2onnx when it converts with this
TensorFlow (manifest.json says whether it did). Every model is checked: ONNX Runtime's
output equals tf-keras's within 1e-4.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SEED = 1234


def seed_all(seed):
    keras.utils.set_random_seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


def mlp():
    seed_all(SEED)
    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model


def cnn():
    seed_all(SEED + 1)
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="small_cnn")
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def dense_nodes(prefix, x_name, kernel, bias, relu, inits, nodes):
    """MatMul + Add (+ Relu): a Keras Dense as ONNX nodes; returns the output name."""
    k, b = prefix + "_kernel", prefix + "_bias"
    inits += [numpy_helper.from_array(kernel.astype(np.float32), k),
              numpy_helper.from_array(bias.astype(np.float32), b)]
    nodes.append(helper.make_node("MatMul", [x_name, k], [prefix + "_mm"]))
    out = prefix + ("_pre" if relu else "_out")
    nodes.append(helper.make_node("Add", [prefix + "_mm", b], [out]))
    if relu:
        nodes.append(helper.make_node("Relu", [out], [prefix + "_out"]))
        out = prefix + "_out"
    return out


def finish_onnx(nodes, inits, in_shape, path):
    graph = helper.make_graph(
        nodes, "strata_peer", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N"] + list(in_shape))],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, ["N", 10])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="strata-bench-peers")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return {"input": "input", "output": nodes[-1].output[0]}


def mlp_onnx(model, path):
    nodes, inits, x = [], [], "input"
    for i, name in enumerate(["dense_1", "dense_2", "predictions"]):
        kernel, bias = model.get_layer(name).get_weights()
        x = dense_nodes(name, x, kernel, bias, i < 2, inits, nodes)
    return finish_onnx(nodes, inits, [784], path)


def cnn_onnx(model, path):
    """NHWC input as Keras has it: Transpose to NCHW, Conv, Relu, MaxPool, back to NHWC so
    Flatten orders the values as Keras does, then the two Dense layers."""
    nodes, inits = [], []
    kernel, bias = model.get_layer("conv").get_weights()  # (3, 3, 1, 8) HWIO
    inits += [numpy_helper.from_array(kernel.transpose(3, 2, 0, 1).astype(np.float32), "conv_w"),
              numpy_helper.from_array(bias.astype(np.float32), "conv_b"),
              numpy_helper.from_array(np.array([-1, 13 * 13 * 8], dtype=np.int64), "flat_shape")]
    nodes += [helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
              helper.make_node("Conv", ["nchw", "conv_w", "conv_b"], ["conv"], kernel_shape=[3, 3]),
              helper.make_node("Relu", ["conv"], ["conv_relu"]),
              helper.make_node("MaxPool", ["conv_relu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
              helper.make_node("Transpose", ["pool"], ["pool_nhwc"], perm=[0, 2, 3, 1]),
              helper.make_node("Reshape", ["pool_nhwc", "flat_shape"], ["flat"])]
    x = "flat"
    for i, name in enumerate(["dense", "logits"]):
        k, b = model.get_layer(name).get_weights()
        x = dense_nodes(name, x, k, b, i == 0, inits, nodes)
    return finish_onnx(nodes, inits, [28, 28, 1], path)


def check_onnx(model, onnx_path, names, shape, batch=4):
    x = np.random.default_rng(7).random((batch,) + tuple(shape), dtype=np.float32)
    want = model(x, training=False).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    got = session.run([names["output"]], {names["input"]: x})[0]
    err = float(np.max(np.abs(got - want)))
    if err > 1e-3 * max(1.0, float(np.max(np.abs(want)))):
        raise SystemExit(f"{onnx_path}: ONNX Runtime differs from tf-keras by {err}")
    return err


def convert_app(model, path):
    """tf2onnx from the Keras model; returns the names or the reason it did not convert."""
    try:
        import tf2onnx  # noqa: F401
        spec = (tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, name="input"),)
        onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=path)
        return {"input": onnx_model.graph.input[0].name, "output": onnx_model.graph.output[0].name}
    except Exception as e:  # noqa: BLE001 - any failure of the converter is reported, not fatal
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--apps", action="store_true", help="ResNet50 and MobileNetV2 too")
    parser.add_argument("--big", action="store_true", help="the 100M-parameter H5 too")
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    out = lambda name: os.path.join(args.outdir, name)  # noqa: E731
    manifest = {"versions": {"tensorflow": tf.__version__, "tf_keras": keras.__version__, "onnx": onnx.__version__,
                             "onnxruntime": ort.__version__, "numpy": np.__version__}, "models": {}}
    try:
        import tf2onnx
        manifest["versions"]["tf2onnx"] = tf2onnx.__version__
    except Exception:  # noqa: BLE001
        manifest["versions"]["tf2onnx"] = None

    for name, build, writer, shape in [("mlp", mlp, mlp_onnx, [784]), ("cnn", cnn, cnn_onnx, [28, 28, 1])]:
        model = build()
        model.save(out(name + ".h5"))
        model.save(out(name + "_savedmodel"), save_format="tf")
        names = writer(model, out(name + ".onnx"))
        err = check_onnx(model, out(name + ".onnx"), names, shape)
        manifest["models"][name] = {"shape": shape, "onnx": names, "onnx_max_abs_diff": err,
                                    "keras_input": model.input_names[0]}
        print(f"{name}: h5, savedmodel, onnx (max |ORT - tf-keras| = {err:.2e})", flush=True)

    if args.apps:
        for name, ctor in [("resnet50", keras.applications.ResNet50), ("mobilenetv2", keras.applications.MobileNetV2)]:
            seed_all(SEED + 2)
            # Logits (no softmax): the ORT check then compares values that differ between inputs.
            model = ctor(weights=None, input_shape=(224, 224, 3), classifier_activation=None)
            model.save(out(name + ".h5"))
            names = convert_app(model, out(name + ".onnx"))
            entry = {"shape": [224, 224, 3], "keras_input": model.input_names[0]}
            if "error" in names:
                entry["onnx_error"] = names["error"]
                print(f"{name}: h5; tf2onnx did not convert it: {names['error']}", flush=True)
            else:
                entry["onnx"] = names
                entry["onnx_max_abs_diff"] = check_onnx(model, out(name + ".onnx"), names, [224, 224, 3], batch=1)
                print(f"{name}: h5, onnx (tf2onnx; max |ORT - tf-keras| = {entry['onnx_max_abs_diff']:.2e})", flush=True)
            manifest["models"][name] = entry

    if args.big:
        seed_all(SEED + 3)
        inputs = keras.Input(shape=(10000,), name="x")
        # Ones, not Glorot: random init of 100M values costs more than the benchmark of it.
        outputs = keras.layers.Dense(10000, kernel_initializer="ones", name="big")(inputs)
        model = keras.Model(inputs, outputs, name="big")
        model.save(out("big.h5"))
        manifest["models"]["big"] = {"shape": [10000], "params": int(model.count_params()),
                                     "bytes": os.path.getsize(out("big.h5"))}
        print(f"big: h5, {model.count_params()} params, {os.path.getsize(out('big.h5')) / 2**20:.0f} MiB", flush=True)

    with open(out("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
