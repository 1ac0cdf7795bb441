#!/usr/bin/env python3
"""TensorFlow checkpoints written by real TensorFlow 2.17.1 / tf-keras 2.17.0, for Strata's
checkpoint tests (tests/data/checkpoint/), and the check of checkpoints Strata wrote.

    VENV=/root/.cache/strata/interop-venv   # or $STRATA_INTEROP_VENV (tests/interop/setup_venv.sh)
    TF_USE_LEGACY_KERAS=1 "$VENV/bin/python" tests/plugins/checkpoint/generate_checkpoint_fixtures.py
    ... --verify DIR     # checks the checkpoints Strata wrote into DIR (see below)

Writes one directory per case under tests/data/checkpoint/:
  <case>/ckpt.index, ckpt.data-00000-of-00001, checkpoint   model.save_weights("<case>/ckpt")
  <case>/model.json       model.to_json() (Strata builds the same architecture from it)
  <case>/x.npy, y.npy     inputs and Keras's predictions (inference mode)
  <case>/keys.json        {key: [dtype, shape]} as tf.train.load_checkpoint lists them
and for the optimizer cases also xt.npy/yt.npy (the training batch), the weights after
RESUME_STEPS more train_on_batch steps taken after saving (after_<i>.npy) and the iteration
count then. `custom_layer/` is the saving guide's tf.train.Checkpoint(layer=CustomLayer(5)).save,
`guide_pieces/` the guide's Checkpoint(dense=..., kernel=..., bias=...).save of a 784-64-64-10
model, `guide_pretrained/` the guide's sub-model save_weights. `snappy/` is `sequential/` with
its index rewritten with a Snappy-compressed data block (python3-snappy, i.e. libsnappy, run by
the system python3) and checked to load in TensorFlow.

--verify DIR: DIR holds <case>/ckpt (+ strata_y.npy: Strata's predictions) that Strata wrote for
the same cases. For each, tf.train.load_checkpoint must list exactly the keys, dtypes and shapes
of the fixture, and tf-keras's load_weights must restore them (assert_existing_objects_matched)
so that the model predicts what Strata predicted. Prints one line per case and exits 1 on any
difference.

Everything is seeded; only the checkpoint timestamps of nothing here vary (no
CheckpointManager is used), so a re-run gives the same bytes.

The committed directory is TensorFlow 2.17.1 / tf-keras 2.17.0's and is written only by them.
With --out DIR the generator also runs under 2.21.0 / 2.21.0 (the interop venv):
tests/interop/fixture_set_current_venv.sh checkpoint writes that second version into a cache
outside the repository and runs the checkpoint tests on it (ctest:
checkpoint.fixtures.current_venv). There `snappy/` is left out when the system python3 has no
snappy module (the tests that need it skip, saying so).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()

import tf_keras as keras  # noqa: E402
from tf_keras import layers as L  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DEFAULT = os.path.normpath(os.path.join(HERE, "..", "..", "data", "checkpoint"))
RESUME_STEPS = 2


def rng_for(name):
    return np.random.RandomState(zlib.crc32(name.encode()) & 0x7FFFFFFF)


def randomize(model, rng):
    values = []
    for w, current in zip(model.weights, model.get_weights()):
        leaf = w.name.rsplit("/", 1)[-1].split(":")[0]
        if current.dtype.kind != "f":
            values.append(current)
        elif leaf == "moving_variance":
            values.append(rng.uniform(0.5, 2.0, size=current.shape).astype(current.dtype))
        elif leaf == "gamma":
            values.append(rng.uniform(0.5, 1.5, size=current.shape).astype(current.dtype))
        elif current.ndim >= 2:
            limit = np.sqrt(3.0 / max(int(np.prod(current.shape[:-1])), 1))
            values.append(rng.uniform(-limit, limit, size=current.shape).astype(current.dtype))
        else:
            values.append(rng.uniform(-0.5, 0.5, size=current.shape).astype(current.dtype))
    model.set_weights(values)


# ---- the cases: each returns (model, x) ----------------------------------------------------------

def case_sequential(rng):
    m = keras.Sequential([L.Dense(5, activation="relu", input_shape=(4,)), L.Dropout(0.5), L.Dense(3)])
    return m, rng.uniform(-1, 1, size=(3, 4)).astype("float32")


def case_dense(rng):
    """For training: no Dropout, whose random masks TensorFlow and Strata draw differently."""
    m = keras.Sequential([L.Dense(5, activation="relu", input_shape=(4,)), L.Dense(3)])
    return m, rng.uniform(-1, 1, size=(3, 4)).astype("float32")


def case_functional(rng):
    i = keras.Input((4,), name="features")
    x = L.Dense(6, activation="tanh")(i)
    x = L.BatchNormalization()(x)
    o = L.Dense(2)(x)
    return keras.Model(i, o, name="functional"), rng.uniform(-1, 1, size=(3, 4)).astype("float32")


def case_nested(rng):
    inner = keras.Sequential([L.Dense(5, activation="relu", input_shape=(4,)), L.Dense(5)], name="inner")
    i = keras.Input((4,))
    o = L.Dense(2)(inner(i))
    return keras.Model(i, o, name="outer"), rng.uniform(-1, 1, size=(3, 4)).astype("float32")


def case_rnn(rng):
    m = keras.Sequential([L.LSTM(4, input_shape=(5, 3)), L.Dense(2)])
    return m, rng.uniform(-1, 1, size=(3, 5, 3)).astype("float32")


def guide_mlp(output_dim=10, name="3_layer_mlp"):
    inputs = keras.Input(shape=(784,), name="digits")
    x = L.Dense(64, activation="relu", name="dense_1")(inputs)
    x = L.Dense(64, activation="relu", name="dense_2")(x)
    outputs = L.Dense(output_dim, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def case_guide_pretrained(rng):
    functional_model = guide_mlp()
    randomize(functional_model, rng)
    pretrained = keras.Model(functional_model.inputs, functional_model.layers[-1].input, name="pretrained_model")
    return pretrained, rng.uniform(0, 1, size=(2, 784)).astype("float32")


CASES = {
    "sequential": case_sequential,
    "functional": case_functional,
    "nested": case_nested,
    "rnn": case_rnn,
    "guide_pretrained": case_guide_pretrained,
}
# Compiled models trained a few steps: (builder, optimizer factory).
OPTIMIZER_CASES = {
    "adam": (case_dense, lambda: keras.optimizers.Adam(learning_rate=0.01)),
    "legacy_adam": (case_dense, lambda: keras.optimizers.legacy.Adam(learning_rate=0.01)),
}


def build(name):
    keras.backend.clear_session()
    tf.keras.utils.set_random_seed(1)
    if name in CASES:
        return CASES[name](rng_for(name))
    builder, _ = OPTIMIZER_CASES[name]
    return builder(rng_for(name))


def keys_of(prefix):
    r = tf.train.load_checkpoint(prefix)
    shapes = r.get_variable_to_shape_map()
    dtypes = r.get_variable_to_dtype_map()
    return {k: [dtypes[k].name, list(shapes[k])] for k in sorted(shapes)}


def save_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")


def write_model_case(out, name):
    d = os.path.join(out, name)
    os.makedirs(d)
    model, x = build(name)
    if name != "guide_pretrained":
        randomize(model, rng_for(name + "/w"))
    model.save_weights(os.path.join(d, "ckpt"))
    with open(os.path.join(d, "model.json"), "w") as f:
        f.write(model.to_json())
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), model.predict(x, verbose=0))
    save_json(os.path.join(d, "keys.json"), keys_of(os.path.join(d, "ckpt")))


def write_optimizer_case(out, name):
    d = os.path.join(out, name)
    os.makedirs(d)
    model, x = build(name)
    randomize(model, rng_for(name + "/w"))
    _, make_optimizer = OPTIMIZER_CASES[name]
    model.compile(optimizer=make_optimizer(), loss="mse")
    rng = rng_for(name + "/train")
    xt = rng.uniform(-1, 1, size=(6, 4)).astype("float32")
    yt = rng.uniform(-1, 1, size=(6, 3)).astype("float32")
    for _ in range(3):
        model.train_on_batch(xt, yt)
    model.save_weights(os.path.join(d, "ckpt"))
    with open(os.path.join(d, "model.json"), "w") as f:
        f.write(model.to_json())
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), model.predict(x, verbose=0))
    np.save(os.path.join(d, "xt.npy"), xt)
    np.save(os.path.join(d, "yt.npy"), yt)
    for _ in range(RESUME_STEPS):
        model.train_on_batch(xt, yt)
    for i, w in enumerate(model.get_weights()):
        np.save(os.path.join(d, "after_%d.npy" % i), w)
    save_json(os.path.join(d, "keys.json"), keys_of(os.path.join(d, "ckpt")))
    save_json(os.path.join(d, "resume.json"), {"steps": RESUME_STEPS, "learning_rate": 0.01, "loss": "mse",
                                              "iterations_after": int(model.optimizer.iterations.numpy())})


class CustomLayer(keras.layers.Layer):
    """The saving guide's layer: a variable attribute `var` whose variable is named `var_a`."""

    def __init__(self, a):
        super().__init__()
        self.var = tf.Variable(a, name="var_a")


def write_custom_layer(out):
    d = os.path.join(out, "custom_layer")
    os.makedirs(d)
    keras.backend.clear_session()
    layer = CustomLayer(5)
    path = tf.train.Checkpoint(layer=layer).save(os.path.join(d, "custom_layer"))
    assert os.path.basename(path) == "custom_layer-1", path
    save_json(os.path.join(d, "keys.json"), keys_of(path))


def write_guide_pieces(out):
    """The guide: Checkpoint(dense=first_dense, kernel=last_dense.kernel, bias=last_dense.bias).save."""
    d = os.path.join(out, "guide_pieces")
    os.makedirs(d)
    keras.backend.clear_session()
    functional_model = guide_mlp()
    randomize(functional_model, rng_for("guide_pieces"))
    first_dense = functional_model.layers[1]
    last_dense = functional_model.layers[-1]
    path = tf.train.Checkpoint(dense=first_dense, kernel=last_dense.kernel, bias=last_dense.bias).save(
        os.path.join(d, "ckpt"))
    assert os.path.basename(path) == "ckpt-1", path
    save_json(os.path.join(d, "keys.json"), keys_of(path))
    np.save(os.path.join(d, "dense_kernel.npy"), first_dense.kernel.numpy())
    np.save(os.path.join(d, "dense_bias.npy"), first_dense.bias.numpy())
    np.save(os.path.join(d, "kernel.npy"), last_dense.kernel.numpy())
    np.save(os.path.join(d, "bias.npy"), last_dense.bias.numpy())


def snappy_available():
    return subprocess.run(["/usr/bin/python3", "-c", "import snappy"], capture_output=True).returncode == 0


def write_snappy(out):
    """sequential/ with a Snappy-compressed data block in its index (made by libsnappy)."""
    if os.path.realpath(out) != os.path.realpath(OUT_DEFAULT) and not snappy_available():
        print("snappy/ left out: /usr/bin/python3 has no snappy module (python3-snappy)")
        return
    src = os.path.join(out, "sequential")
    d = os.path.join(out, "snappy")
    os.makedirs(d)
    shutil.copy(os.path.join(src, "ckpt.data-00000-of-00001"), os.path.join(d, "ckpt.data-00000-of-00001"))
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "snappy_index.py"), os.path.join(src, "ckpt.index"),
                    os.path.join(d, "ckpt.index")], check=True)
    # TensorFlow must read it (its table reader decompresses Snappy blocks).
    got = keys_of(os.path.join(d, "ckpt"))
    want = keys_of(os.path.join(src, "ckpt"))
    assert got == want, (got, want)
    r1, r2 = tf.train.load_checkpoint(os.path.join(d, "ckpt")), tf.train.load_checkpoint(os.path.join(src, "ckpt"))
    for k in want:
        if k != "_CHECKPOINTABLE_OBJECT_GRAPH":
            assert np.array_equal(r1.get_tensor(k), r2.get_tensor(k)), k


def generate(out):
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for name in CASES:
        write_model_case(out, name)
    for name in OPTIMIZER_CASES:
        write_optimizer_case(out, name)
    write_custom_layer(out)
    write_guide_pieces(out)
    write_snappy(out)
    save_json(os.path.join(out, "versions.json"), {"tensorflow": tf.__version__, "tf_keras": keras.__version__,
                                                  "numpy": np.__version__})


def verify(strata_dir, fixtures):
    """Checks what Strata wrote: same keys/dtypes/shapes as TensorFlow's, loadable by tf-keras."""
    failures = 0
    # Strata writes tf-keras 2.11+ optimizer state only, so legacy_adam has no counterpart.
    names = list(CASES) + ["adam", "custom_layer"]
    for name in names:
        d = os.path.join(strata_dir, name)
        if not os.path.isdir(d):
            print("MISSING %s: Strata wrote no checkpoint" % name)
            failures += 1
            continue
        want = json.load(open(os.path.join(fixtures, name, "keys.json")))
        prefix = os.path.join(d, "custom_layer-1" if name == "custom_layer" else "ckpt")
        got = keys_of(prefix)
        want.pop("_CHECKPOINTABLE_OBJECT_GRAPH", None)
        got_graph = got.pop("_CHECKPOINTABLE_OBJECT_GRAPH", None)
        if got != want or got_graph != ["string", []]:
            print("FAIL %s: keys differ\n  tensorflow: %s\n  strata:     %s" % (name, sorted(want.items()),
                                                                               sorted(got.items())))
            failures += 1
            continue
        if name == "custom_layer":
            keras.backend.clear_session()
            layer = CustomLayer(0)
            tf.train.Checkpoint(layer=layer).restore(prefix).assert_consumed()
            if int(layer.var.numpy()) != 5:
                print("FAIL custom_layer: var restored as %s" % layer.var.numpy())
                failures += 1
                continue
            print("OK %s: %d keys; var = 5" % (name, len(got) + 1))
            continue
        keras.backend.clear_session()
        with open(os.path.join(fixtures, name, "model.json")) as f:
            model = keras.models.model_from_json(f.read())
        if name in OPTIMIZER_CASES:
            model.compile(optimizer=OPTIMIZER_CASES[name][1](), loss="mse")
            model.optimizer.build(model.trainable_variables)
        status = model.load_weights(prefix)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            print("FAIL %s: tf-keras load_weights did not match every object: %s" % (name, e))
            failures += 1
            continue
        x = np.load(os.path.join(fixtures, name, "x.npy"))
        y_strata = np.load(os.path.join(d, "strata_y.npy"))
        y = model.predict(x, verbose=0)
        if not np.allclose(y, y_strata, rtol=1e-5, atol=1e-5):
            print("FAIL %s: tf-keras predicts %s, Strata predicted %s" % (name, y, y_strata))
            failures += 1
            continue
        extra = ""
        if name in OPTIMIZER_CASES:
            extra = "; optimizer iterations = %d" % int(model.optimizer.iterations.numpy())
        print("OK %s: %d keys identical; tf-keras predicts what Strata predicted%s" % (name, len(got) + 1, extra))
    print("%d passed, %d failed" % (len(names) - failures, failures))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT_DEFAULT)
    ap.add_argument("--verify", metavar="DIR")
    args = ap.parse_args()
    found = (tf.__version__, keras.__version__)
    # --verify (TensorFlow reads Strata's checkpoints) runs with the interop venv, 2.17 or 2.21;
    # the committed fixtures are 2.17's and are written only by it.
    if args.verify:
        if found not in {("2.17.1", "2.17.0"), ("2.21.0", "2.21.0")}:
            sys.exit("--verify needs tensorflow/tf-keras 2.17.1/2.17.0 or 2.21.0/2.21.0, found %s / %s" % found)
        sys.exit(verify(args.verify, args.out))
    # The committed fixtures stay 2.17's; 2.21's go elsewhere (--out, the second version).
    committed = os.path.realpath(args.out) == os.path.realpath(OUT_DEFAULT)
    if committed and found != ("2.17.1", "2.17.0"):
        sys.exit("tests/data/checkpoint needs tensorflow 2.17.1 and tf-keras 2.17.0, found %s / %s "
                 "(use --out DIR)" % found)
    if found not in {("2.17.1", "2.17.0"), ("2.21.0", "2.21.0")}:
        sys.exit("needs tensorflow/tf-keras 2.17.1/2.17.0 or 2.21.0/2.21.0, found %s / %s" % found)
    generate(args.out)


if __name__ == "__main__":
    main()
