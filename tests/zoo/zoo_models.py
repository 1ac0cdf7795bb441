#!/usr/bin/env python3
"""The acceptance zoo (issue 18): keras.applications architectures with random weights
(weights=None, classes=10, small inputs), written by tf-keras as a Strata test reads them.

    python tests/zoo/zoo_models.py generate --out DIR --models MobileNetV2,DenseNet121
    python tests/zoo/zoo_models.py check MANIFEST.json     (tf-keras loads Strata's saves)

For each model, in DIR/<model>/:
  model.h5        the compiled model (SGD 1e-3, categorical cross-entropy) before training
  savedmodel/     the same model as a SavedModel (model.save(..., save_format="tf"))
  model.json      model.to_json();  weights.h5  model.save_weights() of the same weights
  summary.txt     model.summary(), one line per print_fn call
  x.npy y.npy     a batch of 4 inputs (in [-1, 1], or token ids with padding) and model.predict(x)
  t.npy           one-hot targets;  after.h5  save_weights() after one train_on_batch(x, t)
  after_other_kernels.h5   the same step with TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's other
                  CPU kernels): the drift between two correct implementations on this model
  meta.json       params, the two train_on_batch losses (and with the other kernels), whether
                  training is deterministic
Training is compared only for models without active randomness in training (Dropout,
EfficientNet's stochastic depth): Strata's random streams are not TensorFlow's.
Deterministic: seeded numpy inputs, seeded initializers (keras.utils.set_random_seed), one thread.
Each model's directory is written beside DIR/<model> and renamed into place when complete, so
that test processes running at the same time see a model whole or not at all. The exact
(float64) training step the test measures against is tests/zoo/zoo_reference.py's.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

# name: (application, input shape). Inputs are the smallest each architecture accepts.
MODELS = {
    "MobileNet": ("MobileNet", (32, 32, 3)),
    "MobileNetV2": ("MobileNetV2", (32, 32, 3)),
    "MobileNetV3Small": ("MobileNetV3Small", (32, 32, 3)),
    "MobileNetV3Large": ("MobileNetV3Large", (32, 32, 3)),
    "ResNet50": ("ResNet50", (32, 32, 3)),
    "ResNet50V2": ("ResNet50V2", (32, 32, 3)),
    "DenseNet121": ("DenseNet121", (32, 32, 3)),
    "InceptionV3": ("InceptionV3", (75, 75, 3)),
    "InceptionResNetV2": ("InceptionResNetV2", (75, 75, 3)),
    "Xception": ("Xception", (71, 71, 3)),
    "VGG16": ("VGG16", (32, 32, 3)),
    "NASNetMobile": ("NASNetMobile", (32, 32, 3)),
    "EfficientNetB0": ("EfficientNetB0", (32, 32, 3)),
    "EfficientNetV2B0": ("EfficientNetV2B0", (32, 32, 3)),
    "ConvNeXtTiny": ("ConvNeXtTiny", (32, 32, 3)),
    "RegNetX002": ("RegNetX002", (32, 32, 3)),
    "MobileNetV2_96": ("MobileNetV2", (96, 96, 3)),
    "TinyConv": ("tiny_conv", (8, 8, 3)),
    "TinyConvBN": ("tiny_conv_bn", (8, 8, 3)),
    "TinyConvReLU6": ("tiny_conv_relu6", (8, 8, 3)),
    "TinyDepthwise": ("tiny_depthwise", (8, 8, 3)),
    "TinyIncRes": ("tiny_incres", (8, 8, 3)),
    "TinyBN1x1": ("tiny_bn1x1", (8, 8, 3)),
    # The three hand-written architectures (built below, small sizes).
    "TransformerBlock": ("block_transformer", (16, 32)),
    "BiLSTMTagger": ("block_tagger", (12,)),
    "UNet": ("block_unet", (32, 32, 3)),
}


def tiny(kind):
    """Small models that isolate one layer family of the applications, for diagnosis."""
    def build(weights=None, input_shape=None, classes=10):
        import tf_keras as keras
        L = keras.layers
        i = keras.Input(input_shape)
        if kind == "conv_bn":
            h = L.BatchNormalization()(L.Conv2D(4, 3)(i))
        elif kind == "conv_relu6":
            h = L.ReLU(6.0)(L.Conv2D(4, 3)(i))
        elif kind == "depthwise":
            h = L.DepthwiseConv2D(3)(i)
        elif kind == "conv":
            h = L.Conv2D(4, 3, strides=2, padding="same")(i)
        elif kind == "bn1x1":
            # Batch normalization over 1x1 feature maps of a 4-sample batch (the deep end of
            # InceptionResNetV2 at 75x75): statistics of 4 values per channel.
            h = L.Conv2D(8, 8)(i)
            for _ in range(3):
                h = L.Activation("relu")(L.BatchNormalization(scale=False)(L.Conv2D(8, 1, use_bias=False)(h)))
        elif kind == "incres":
            # InceptionResNetV2's block: conv + BatchNormalization(scale=False) branches with
            # 1x3 / 3x1 kernels, concatenated, projected, added back scaled (CustomScaleLayer).
            from tf_keras.src.applications.inception_resnet_v2 import CustomScaleLayer

            def conv_bn(x, filters, kernel):
                x = L.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
                return L.Activation("relu")(L.BatchNormalization(scale=False)(x))
            x = conv_bn(i, 4, 3)
            b0 = conv_bn(x, 4, 1)
            b1 = conv_bn(conv_bn(x, 4, [1, 3]), 4, [3, 1])
            up = L.Conv2D(4, 1, use_bias=True)(L.Concatenate()([b0, b1]))
            h = L.Activation("relu")(CustomScaleLayer(0.17)([x, up]))
        o = L.Dense(classes, activation="softmax")(L.GlobalAveragePooling2D()(h))
        return keras.Model(i, o, name="tiny_" + kind)
    return build


def block(kind):
    """A transformer encoder block, a BiLSTM + TimeDistributed tagger with attention, and a
    U-Net, as a user writes them with tf-keras layers (no Python code in the model)."""
    def build(weights=None, input_shape=None, classes=10):
        import tf_keras as keras
        L = keras.layers
        if kind == "transformer":
            # Post-norm encoder block (Vaswani et al.) on a [batch, 16, 32] sequence.
            i = keras.Input(input_shape)
            a = L.MultiHeadAttention(num_heads=4, key_dim=8, name="self_attention")(i, i)
            h = L.LayerNormalization(epsilon=1e-6)(L.Add()([i, a]))
            f = L.Dense(64, activation="gelu")(h)
            f = L.Dense(input_shape[-1])(f)
            h = L.LayerNormalization(epsilon=1e-6)(L.Add()([h, f]))
            o = L.Dense(classes, activation="softmax")(L.GlobalAveragePooling1D()(h))
            return keras.Model(i, o, name="transformer_block")
        if kind == "tagger":
            # Token ids (0 = padding) -> masked embedding -> BiLSTM -> self-attention ->
            # per-token softmax over `classes` tags.
            i = keras.Input(input_shape, dtype="int32")
            e = L.Embedding(50, 16, mask_zero=True)(i)
            h = L.Bidirectional(L.LSTM(16, return_sequences=True))(e)
            a = L.Attention()([h, h])
            h = L.Concatenate()([h, a])
            o = L.TimeDistributed(L.Dense(classes, activation="softmax"))(h)
            return keras.Model(i, o, name="bilstm_tagger")
        if kind == "unet":
            # Two-level U-Net: transposed-convolution and upsampling decoders, skip concatenation,
            # per-pixel softmax.
            i = keras.Input(input_shape)
            c1 = L.Conv2D(8, 3, padding="same", activation="relu")(i)
            c1 = L.BatchNormalization()(c1)
            p1 = L.MaxPooling2D()(c1)
            c2 = L.Conv2D(16, 3, padding="same", activation="relu")(p1)
            p2 = L.MaxPooling2D()(c2)
            b = L.Conv2D(32, 3, padding="same", activation="relu")(p2)
            u2 = L.Conv2DTranspose(16, 2, strides=2, padding="same")(b)
            d2 = L.Conv2D(16, 3, padding="same", activation="relu")(L.Concatenate()([u2, c2]))
            u1 = L.UpSampling2D(interpolation="bilinear")(d2)
            d1 = L.Conv2D(8, 3, padding="same", activation="relu")(L.Concatenate()([u1, c1]))
            o = L.Conv2D(classes, 1, activation="softmax")(d1)
            return keras.Model(i, o, name="unet")
        raise ValueError(kind)
    return build


def inputs_and_targets(model, shape, rng):
    """A batch of 4: inputs as the applications' preprocess_input gives them ([-1, 1]), or
    token ids with trailing padding for an integer input; one-hot targets of the output's
    shape (4 samples, so that batch normalization's statistics in training are not
    degenerate)."""
    import numpy as np
    if model.inputs[0].dtype.is_integer:
        x = rng.randint(1, 50, size=(4,) + shape).astype(np.int32)
        for row, length in enumerate([shape[0], shape[0] - 3, shape[0] // 2, 2]):
            x[row, length:] = 0
    else:
        x = rng.uniform(-1, 1, size=(4,) + shape).astype(np.float32)
    out_shape = (4,) + tuple(model.output_shape[1:-1])
    classes = model.output_shape[-1]
    labels = rng.randint(0, classes, size=out_shape)
    t = np.eye(classes, dtype=np.float32)[labels]
    return x, t


def random_in_training(model):
    """Layers whose training call draws random numbers."""
    for layer in model.submodules:
        rate = getattr(layer, "rate", None)
        if rate is None:
            rate = getattr(layer, "drop_path_rate", None)
        if rate:
            return True
    return False


def generate(out, names):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import shutil
    import tempfile
    os.makedirs(out, exist_ok=True)
    for name in names:
        app, shape = MODELS[name]
        final = os.path.join(out, name)
        if os.path.exists(os.path.join(final, "meta.json")):
            continue  # another test process wrote it meanwhile
        # Written beside the final directory, then renamed: a reader (another test process
        # running at the same time) sees a model whole or not at all.
        d = tempfile.mkdtemp(prefix="." + name + "-", dir=out)
        keras.utils.set_random_seed(1)
        if app.startswith("tiny_"):
            factory = tiny(app[5:])
        elif app.startswith("block_"):
            factory = block(app[6:])
        else:
            factory = getattr(keras.applications, app)
        model = factory(weights=None, input_shape=shape, classes=10)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss="categorical_crossentropy")
        x, t = inputs_and_targets(model, shape, np.random.RandomState(0))
        model.save(os.path.join(d, "model.h5"))
        model.save(os.path.join(d, "savedmodel"), save_format="tf")
        model.save_weights(os.path.join(d, "weights.h5"))
        with open(os.path.join(d, "model.json"), "w") as f:
            f.write(model.to_json())
        lines = []
        model.summary(print_fn=lambda line, **kwargs: lines.append(line))
        with open(os.path.join(d, "summary.txt"), "w") as f:
            f.write("".join(line + "\n" for line in lines))
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "t.npy"), t)
        np.save(os.path.join(d, "y.npy"), model.predict(x, verbose=0))
        loss1 = float(model.train_on_batch(x, t))
        model.save_weights(os.path.join(d, "after.h5"))
        loss2 = float(model.train_on_batch(x, t))
        # The same two steps with TensorFlow's other CPU kernels (oneDNN off): how far two
        # correct implementations drift apart on this model, the yardstick of the comparison.
        import subprocess
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
        stepped = subprocess.run([sys.executable, __file__, "step", d], env=env, check=True, capture_output=True, text=True)
        alt_losses = json.loads(stepped.stdout.strip().splitlines()[-1])
        meta = {"model": name, "params": int(model.count_params()), "losses": [loss1, loss2],
                "losses_other_kernels": alt_losses,
                "deterministic_training": not random_in_training(model), "tf_keras": keras.__version__}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        if os.path.isdir(final) and not os.path.exists(os.path.join(final, "meta.json")):
            shutil.rmtree(final, ignore_errors=True)  # left incomplete by an interrupted run
        try:
            os.rename(d, final)
        except OSError:  # another process finished it first
            shutil.rmtree(d, ignore_errors=True)
        print(name, "written", meta, flush=True)


def step(d):
    """Two train_on_batch steps of DIR/model.h5 in this process's TensorFlow configuration;
    writes DIR/after_other_kernels.h5 and prints the two losses as JSON."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras
    from tf_keras.src.applications.convnext import LayerScale, StochasticDepth

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    model = keras.models.load_model(os.path.join(d, "model.h5"),
                                    custom_objects={"LayerScale": LayerScale, "StochasticDepth": StochasticDepth})
    x, t = np.load(os.path.join(d, "x.npy")), np.load(os.path.join(d, "t.npy"))
    loss1 = float(model.train_on_batch(x, t))
    model.save_weights(os.path.join(d, "after_other_kernels.h5"))
    loss2 = float(model.train_on_batch(x, t))
    print(json.dumps([loss1, loss2]))


def check(manifest_path):
    """tf-keras loads each H5 Strata saved and predicts what Strata predicted."""
    import numpy as np
    import tf_keras as keras

    from tf_keras.src.applications.convnext import LayerScale, StochasticDepth

    # tf-keras does not register ConvNeXt's two classes: loading even its own ConvNeXt H5
    # needs them as custom objects, as a tf-keras user would pass them.
    custom = {"LayerScale": LayerScale, "StochasticDepth": StochasticDepth}
    manifest = json.load(open(manifest_path))
    ok = True
    for m in manifest["models"]:
        for kind in ("h5", "savedmodel"):
            if kind not in m:
                continue
            model = keras.models.load_model(m[kind], compile=False, custom_objects=custom)
            got = model.predict(np.load(m["x"]), verbose=0)
            want = np.load(m["strata_y"])
            err = float(np.max(np.abs(got - want) / (np.abs(want) + 1e-3)))
            good = err <= 1e-4
            ok = ok and good
            print(f"{m['name']}: tf-keras loads Strata's {kind} and predicts {'the same' if good else 'DIFFERENTLY'} "
                  f"(max rel err {err:.3g})", flush=True)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    g.add_argument("--models", default=",".join(MODELS))
    c = sub.add_parser("check")
    c.add_argument("manifest")
    st = sub.add_parser("step")
    st.add_argument("dir")
    a = p.parse_args()
    if a.cmd == "generate":
        generate(a.out, [n for n in a.models.split(",") if n])
        return 0
    if a.cmd == "step":
        step(a.dir)
        return 0
    return check(a.manifest)


if __name__ == "__main__":
    sys.exit(main())
