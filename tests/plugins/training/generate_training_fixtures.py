"""Records tf-keras 2.17's optimizers, schedules, losses and metrics into small JSON
fixtures for the training plugin's tests (tests/data/training/).

Run with the interop venv:
  TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 \
    /root/.cache/strata/interop-venv/bin/python tests/plugins/training/generate_training_fixtures.py

Every input is drawn from fixed seeds; float32 tensor values are written as the shortest
decimals that read back as the same float32 values. Tensors are {"shape": [...], "dtype": "...", "values": [flat]}.

The committed directory is tf-keras 2.17's and is written only by it. With --out DIR the
generator also runs under tf-keras 2.21.0 (the interop venv): tests/interop/
fixture_set_current_venv.sh training writes that second version into a cache outside the
repository and runs the training tests on it (ctest: training.fixtures.current_venv). It also
writes versions.json (the committed directory predates it).
"""

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras.src.losses import LossFunctionWrapper  # noqa: E402

OUT_DEFAULT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "training"))
OUT = OUT_DEFAULT


def tensor(x, dtype="float32"):
    a = np.asarray(x).astype(dtype)
    if dtype == "float32":
        # The shortest decimal that reads back as the same float32.
        values = [float(str(np.float32(v))) for v in a.reshape(-1)]  # str: numpy 2 repr says np.float32(...)
    elif dtype.startswith("float"):
        values = [float(v) for v in a.reshape(-1)]
    elif dtype == "bool":
        values = [bool(v) for v in a.reshape(-1)]
    else:
        values = [int(v) for v in a.reshape(-1)]
    return {"shape": list(a.shape), "dtype": dtype, "values": values}


def plain(value):
    """A config made JSON-able the way tf-keras writes configs into files."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return value


def f32(rng, shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype("float32")


# ---- optimizers ------------------------------------------------------------------------------

SCHEDULES = {
    "exponential": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    "exponential_staircase": (
        "ExponentialDecay",
        dict(initial_learning_rate=0.05, decay_steps=3, decay_rate=0.7, staircase=True),
    ),
    "piecewise": ("PiecewiseConstantDecay", dict(boundaries=[1, 3], values=[0.1, 0.05, 0.01])),
    "cosine": ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=4, alpha=0.1)),
    "cosine_warmup": (
        "CosineDecay",
        dict(initial_learning_rate=0.0, decay_steps=5, alpha=0.0, warmup_target=0.2, warmup_steps=3),
    ),
}


def schedule(key):
    cls, kwargs = SCHEDULES[key]
    return getattr(keras.optimizers.schedules, cls)(**kwargs)


OPTIMIZER_CASES = [
    # name, class, constructor kwargs (a "schedule" key names a SCHEDULES entry)
    ("sgd", "SGD", dict(learning_rate=0.1)),
    ("sgd_momentum", "SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("sgd_nesterov", "SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("sgd_clipnorm", "SGD", dict(learning_rate=0.1, clipnorm=0.5)),
    ("sgd_clipvalue", "SGD", dict(learning_rate=0.1, clipvalue=0.3)),
    ("sgd_global_clipnorm", "SGD", dict(learning_rate=0.1, global_clipnorm=0.7)),
    ("sgd_weight_decay", "SGD", dict(learning_rate=0.1, weight_decay=0.1)),
    ("sgd_piecewise", "SGD", dict(schedule="piecewise")),
    ("sgd_cosine_warmup", "SGD", dict(schedule="cosine_warmup", momentum=0.5)),
    ("adam", "Adam", dict(learning_rate=0.01)),
    ("adam_defaults", "Adam", dict()),
    ("adam_amsgrad", "Adam", dict(learning_rate=0.01, amsgrad=True, beta_1=0.8, beta_2=0.95)),
    ("adam_exponential", "Adam", dict(schedule="exponential")),
    ("adam_weight_decay_clipnorm", "Adam", dict(learning_rate=0.01, weight_decay=0.05, clipnorm=1.0)),
    ("adamw", "AdamW", dict(learning_rate=0.01)),
    ("adamw_amsgrad", "AdamW", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True)),
    ("rmsprop", "RMSprop", dict(learning_rate=0.01)),
    ("rmsprop_centered_momentum", "RMSprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True)),
    ("rmsprop_momentum", "RMSprop", dict(learning_rate=0.01, momentum=0.9, epsilon=1e-5)),
    ("adagrad", "Adagrad", dict(learning_rate=0.1)),
    ("adagrad_init", "Adagrad", dict(learning_rate=0.05, initial_accumulator_value=0.5, epsilon=1e-4)),
    ("adadelta", "Adadelta", dict(learning_rate=1.0)),
    ("adadelta_rho", "Adadelta", dict(learning_rate=0.5, rho=0.8, epsilon=1e-4)),
    ("adamax", "Adamax", dict(learning_rate=0.02)),
    ("nadam", "Nadam", dict(learning_rate=0.02)),
    ("nadam_betas", "Nadam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.9, epsilon=1e-5)),
    ("ftrl", "Ftrl", dict(learning_rate=0.1)),
    (
        "ftrl_regularized",
        "Ftrl",
        dict(
            learning_rate=0.2,
            learning_rate_power=-0.6,
            initial_accumulator_value=0.2,
            l1_regularization_strength=0.01,
            l2_regularization_strength=0.02,
            l2_shrinkage_regularization_strength=0.03,
            beta=0.1,
        ),
    ),
    ("ftrl_staircase", "Ftrl", dict(schedule="exponential_staircase", l1_regularization_strength=0.001)),
]

STEPS = 5


def optimizer_fixture():
    rng = np.random.RandomState(1234)
    init = [f32(rng, (3,)), f32(rng, (2, 2))]
    grads = [[f32(rng, (3,), -2, 2), f32(rng, (2, 2), -2, 2)] for _ in range(STEPS)]
    cases = []
    for name, cls, kwargs in OPTIMIZER_CASES:
        kwargs = dict(kwargs)
        config_in = dict(kwargs)
        if "schedule" in kwargs:
            key = kwargs.pop("schedule")
            kwargs["learning_rate"] = schedule(key)
            config_in.pop("schedule")
            config_in["learning_rate"] = keras.optimizers.schedules.serialize(kwargs["learning_rate"])
        opt = getattr(keras.optimizers, cls)(**kwargs)
        a = tf.Variable(init[0], name="a")
        b = tf.Variable(init[1], name="b")
        steps = []
        names = None
        for s in range(STEPS):
            lr_obj = opt._learning_rate
            if isinstance(lr_obj, keras.optimizers.schedules.LearningRateSchedule):
                lr_obj = lr_obj(opt.iterations)
            lr = float(np.float32(lr_obj))
            opt.apply_gradients(zip([tf.constant(grads[s][0]), tf.constant(grads[s][1])], [a, b]))
            if names is None:
                names = [v.name for v in opt.variables]
            steps.append(
                {
                    "learning_rate": lr,
                    "variables": [tensor(a.numpy()), tensor(b.numpy())],
                    "optimizer_variables": [tensor(v.numpy(), v.dtype.name) for v in opt.variables],
                }
            )
        cases.append(
            {
                "name": name,
                "class_name": cls,
                "config_in": plain(config_in),
                "config": plain(opt.get_config()),
                "variable_names": names,
                "steps": steps,
            }
        )
    return {
        "initial": [tensor(init[0]), tensor(init[1])],
        "gradients": [[tensor(g[0]), tensor(g[1])] for g in grads],
        "cases": cases,
    }


# Legacy OptimizerV2 classes (tf.keras.optimizers.legacy): their get_weights() order is the
# "legacy layout" files written before Keras 2.11 carry. Three steps with the legacy class,
# its weights, then the fourth step; Strata loads the weights into the current class and
# must take the same fourth step.
LEGACY_CASES = [
    ("sgd_momentum", "SGD", dict(learning_rate=0.05, momentum=0.9)),
    ("adam_amsgrad", "Adam", dict(learning_rate=0.01, amsgrad=True)),
    ("rmsprop_centered_momentum", "RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("adadelta", "Adadelta", dict(learning_rate=1.0)),
    ("adamax", "Adamax", dict(learning_rate=0.02)),
]


def legacy_optimizer_fixture():
    rng = np.random.RandomState(4321)
    init = [f32(rng, (3,)), f32(rng, (2, 2))]
    grads = [[f32(rng, (3,), -2, 2), f32(rng, (2, 2), -2, 2)] for _ in range(4)]
    cases = []
    for name, cls, kwargs in LEGACY_CASES:
        opt = getattr(keras.optimizers.legacy, cls)(**kwargs)
        a = tf.Variable(init[0], name="a")
        b = tf.Variable(init[1], name="b")
        for s in range(3):
            opt.apply_gradients(zip([tf.constant(grads[s][0]), tf.constant(grads[s][1])], [a, b]))
        before = [tensor(a.numpy()), tensor(b.numpy())]
        weights = [tensor(w, w.dtype.name) for w in opt.get_weights()]
        names = [w.name for w in opt.weights]
        opt.apply_gradients(zip([tf.constant(grads[3][0]), tf.constant(grads[3][1])], [a, b]))
        cases.append(
            {
                "name": name,
                "class_name": cls,
                "config_in": plain(kwargs),
                "variables_before": before,
                "legacy_weight_names": names,
                "legacy_weights": weights,
                "gradient": [tensor(grads[3][0]), tensor(grads[3][1])],
                "variables_after": [tensor(a.numpy()), tensor(b.numpy())],
            }
        )
    return {"cases": cases}


def schedule_fixture():
    out = []
    for key in sorted(SCHEDULES):
        s = schedule(key)
        out.append(
            {
                "name": key,
                "serialized": plain(keras.optimizers.schedules.serialize(s)),
                "values": [float(np.float32(s(step))) for step in range(12)],
            }
        )
    return {"cases": out}


# ---- losses ----------------------------------------------------------------------------------


def loss_inputs(kind, rng):
    """(y_true, y_true dtype, y_pred, sample_weight) for a kind of loss."""
    if kind == "regression":
        return f32(rng, (4, 3), -2, 2), "float32", f32(rng, (4, 3), -2, 2), f32(rng, (4,), 0, 2)
    if kind == "positive":
        return f32(rng, (4, 3), 0.1, 3), "float32", f32(rng, (4, 3), 0.1, 3), f32(rng, (4,), 0, 2)
    if kind == "binary":
        yt = rng.randint(0, 2, size=(4, 3)).astype("float32")
        return yt, "float32", f32(rng, (4, 3), 0.02, 0.98), f32(rng, (4,), 0, 2)
    if kind == "binary_column":
        yt = rng.randint(0, 2, size=(5,)).astype("float32")
        return yt, "float32", f32(rng, (5, 1), 0.02, 0.98), f32(rng, (5,), 0, 2)
    if kind == "logits":
        yt = rng.randint(0, 2, size=(4, 3)).astype("float32")
        return yt, "float32", f32(rng, (4, 3), -4, 4), f32(rng, (4,), 0, 2)
    if kind == "probabilities":
        p = f32(rng, (4, 3), 0.05, 1.0)
        p = (p / p.sum(axis=-1, keepdims=True)).astype("float32")
        yt = np.eye(3, dtype="float32")[rng.randint(0, 3, size=(4,))]
        return yt, "float32", p, f32(rng, (4,), 0, 2)
    if kind == "soft_targets":
        p = f32(rng, (4, 3), 0.05, 1.0)
        p = (p / p.sum(axis=-1, keepdims=True)).astype("float32")
        t = f32(rng, (4, 3), 0.0, 1.0)
        t = (t / t.sum(axis=-1, keepdims=True)).astype("float32")
        return t, "float32", p, f32(rng, (4,), 0, 2)
    if kind == "class_logits":
        yt = np.eye(3, dtype="float32")[rng.randint(0, 3, size=(4,))]
        return yt, "float32", f32(rng, (4, 3), -3, 3), f32(rng, (4,), 0, 2)
    if kind == "sparse":
        p = f32(rng, (5, 4), 0.05, 1.0)
        p = (p / p.sum(axis=-1, keepdims=True)).astype("float32")
        return rng.randint(0, 4, size=(5,)).astype("int64"), "int64", p, f32(rng, (5,), 0, 2)
    if kind == "sparse_column_logits":
        return rng.randint(0, 4, size=(5, 1)).astype("int32"), "int32", f32(rng, (5, 4), -3, 3), f32(rng, (5,), 0, 2)
    if kind == "sparse_sequence":
        return rng.randint(0, 3, size=(2, 3)).astype("int64"), "int64", f32(rng, (2, 3, 3), -3, 3), f32(rng, (2, 3), 0, 2)
    if kind == "hinge01":
        yt = rng.randint(0, 2, size=(4, 3)).astype("float32")
        return yt, "float32", f32(rng, (4, 3), -2, 2), f32(rng, (4,), 0, 2)
    if kind == "hinge_pm":
        yt = (rng.randint(0, 2, size=(4, 3)) * 2 - 1).astype("float32")
        return yt, "float32", f32(rng, (4, 3), -2, 2), f32(rng, (4,), 0, 2)
    raise ValueError(kind)


LOSS_CASES = [
    # name, class (or function name), constructor kwargs, input kind
    ("mse", "MeanSquaredError", {}, "regression"),
    ("mae", "MeanAbsoluteError", {}, "regression"),
    ("mape", "MeanAbsolutePercentageError", {}, "regression"),
    ("msle", "MeanSquaredLogarithmicError", {}, "positive"),
    ("bce", "BinaryCrossentropy", {}, "binary"),
    ("bce_column", "BinaryCrossentropy", {}, "binary_column"),
    ("bce_logits", "BinaryCrossentropy", {"from_logits": True}, "logits"),
    ("bce_smoothing", "BinaryCrossentropy", {"label_smoothing": 0.2}, "binary"),
    ("bce_logits_smoothing_axis0", "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": 0},
     "logits"),
    ("cce", "CategoricalCrossentropy", {}, "probabilities"),
    ("cce_logits", "CategoricalCrossentropy", {"from_logits": True}, "class_logits"),
    ("cce_smoothing", "CategoricalCrossentropy", {"label_smoothing": 0.1}, "probabilities"),
    ("cce_logits_smoothing", "CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, "class_logits"),
    ("scce", "SparseCategoricalCrossentropy", {}, "sparse"),
    ("scce_logits_column", "SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_column_logits"),
    ("scce_ignore", "SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, "sparse_column_logits"),
    ("scce_sequence", "SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_sequence"),
    ("huber", "Huber", {}, "regression"),
    ("huber_delta", "Huber", {"delta": 0.5}, "regression"),
    ("kld", "KLDivergence", {}, "soft_targets"),
    ("poisson", "Poisson", {}, "positive"),
    ("cosine", "CosineSimilarity", {}, "regression"),
    ("cosine_axis0", "CosineSimilarity", {"axis": 0}, "regression"),
    ("hinge01", "Hinge", {}, "hinge01"),
    ("hinge_pm", "Hinge", {}, "hinge_pm"),
    ("squared_hinge", "SquaredHinge", {}, "hinge01"),
    ("categorical_hinge", "CategoricalHinge", {}, "probabilities"),
    ("log_cosh", "LogCosh", {}, "regression"),
    ("named", "MeanSquaredError", {"name": "my_loss"}, "regression"),
    # Function names, as compile() wraps them: LossFunctionWrapper(fn, name=fn.__name__).
    ("fn_mse", "mse", {}, "regression"),
    ("fn_huber", "huber", {}, "regression"),
    ("fn_kld", "kld", {}, "soft_targets"),
    ("fn_bce", "binary_crossentropy", {}, "binary"),
    ("fn_scce", "sparse_categorical_crossentropy", {}, "sparse"),
    ("fn_logcosh", "logcosh", {}, "regression"),
]


def make_loss(cls, kwargs, reduction):
    if cls[0].islower():
        fn = keras.losses.get(cls)
        return LossFunctionWrapper(fn, name=fn.__name__, reduction=reduction, **kwargs)
    return getattr(keras.losses, cls)(reduction=reduction, **kwargs)


def loss_fixture():
    rng = np.random.RandomState(99)
    cases = []
    for name, cls, kwargs, kind in LOSS_CASES:
        yt, yt_dtype, yp, sw = loss_inputs(kind, rng)
        if kwargs.get("axis") == 0:
            # The per-sample losses run along the last axis then.
            sw = f32(rng, (yp.shape[-1],), 0, 2)
        results = {}
        # Tensors, as in training (LossFunctionWrapper aligns ranks only for tensors).
        tt, tp, tw = tf.constant(yt), tf.constant(yp), tf.constant(sw)
        for reduction in ["none", "sum", "sum_over_batch_size"]:
            loss = make_loss(cls, kwargs, reduction)
            results[reduction] = tensor(loss(tt, tp).numpy())
            try:
                results[reduction + "_weighted"] = tensor(loss(tt, tp, sample_weight=tw).numpy())
            except tf.errors.InvalidArgumentError:
                # bce_column: the loss is already one value for the batch, so per-sample
                # weights do not fit (fit() expands 1-D targets first).
                results[reduction + "_weighted"] = None
        cases.append(
            {
                "name": name,
                "class_name": cls,
                "config_in": plain(kwargs),
                "config": plain(make_loss(cls, kwargs, "auto").get_config()),
                "y_true": tensor(yt, yt_dtype),
                "y_pred": tensor(yp),
                "sample_weight": tensor(sw),
                "results": results,
            }
        )
    return {"cases": cases}


# ---- metrics ---------------------------------------------------------------------------------


def metric_inputs(kind, rng):
    """Two batches of (y_true, y_true dtype, y_pred, sample_weight)."""

    def one():
        if kind == "values":
            return f32(rng, (4, 2), -2, 2), "float32", None, f32(rng, (4,), 0, 2)
        if kind == "regression":
            return f32(rng, (4, 3), -2, 2), "float32", f32(rng, (4, 3), -2, 2), f32(rng, (4,), 0, 2)
        if kind == "positive":
            return f32(rng, (4, 3), 0.1, 3), "float32", f32(rng, (4, 3), 0.1, 3), f32(rng, (4,), 0, 2)
        if kind == "binary":
            yt = rng.randint(0, 2, size=(6, 1)).astype("float32")
            return yt, "float32", f32(rng, (6, 1), 0, 1), f32(rng, (6,), 0, 2)
        if kind == "binary_multi":
            yt = rng.randint(0, 2, size=(6, 3)).astype("float32")
            return yt, "float32", f32(rng, (6, 3), 0, 1), f32(rng, (6,), 0, 2)
        if kind == "logits_multi":
            yt = rng.randint(0, 2, size=(6, 3)).astype("float32")
            return yt, "float32", f32(rng, (6, 3), -3, 3), f32(rng, (6,), 0, 2)
        if kind == "labels":
            yt = rng.randint(0, 3, size=(6, 1)).astype("float32")
            return yt, "float32", np.round(f32(rng, (6, 1), 0, 2.6)).astype("float32"), f32(rng, (6,), 0, 2)
        if kind == "onehot":
            p = f32(rng, (6, 4), 0.05, 1.0)
            p = (p / p.sum(axis=-1, keepdims=True)).astype("float32")
            yt = np.eye(4, dtype="float32")[rng.randint(0, 4, size=(6,))]
            return yt, "float32", p, f32(rng, (6,), 0, 2)
        if kind == "sparse":
            p = f32(rng, (6, 4), 0.05, 1.0)
            p = (p / p.sum(axis=-1, keepdims=True)).astype("float32")
            return rng.randint(0, 4, size=(6,)).astype("int64"), "int64", p, f32(rng, (6,), 0, 2)
        if kind == "sparse_column":
            p = f32(rng, (6, 4), -2, 2)
            return rng.randint(0, 4, size=(6, 1)).astype("int32"), "int32", p, f32(rng, (6,), 0, 2)
        if kind == "ties":
            # Predictions on a coarse grid (ties at the top-k boundary and at thresholds).
            p = (rng.randint(0, 5, size=(6, 4)) / 4.0).astype("float32")
            yt = np.eye(4, dtype="float32")[rng.randint(0, 4, size=(6,))]
            return yt, "float32", p, f32(rng, (6,), 0, 2)
        raise ValueError(kind)

    return [one(), one()]


METRIC_CASES = [
    # name, class (or function name), constructor kwargs, input kind
    ("mean", "Mean", {}, "values"),
    ("sum", "Sum", {}, "values"),
    ("wrapper_binary_accuracy", "MeanMetricWrapper", {"fn": "binary_accuracy", "name": "accuracy"}, "binary"),
    ("wrapper_categorical_accuracy", "MeanMetricWrapper", {"fn": "categorical_accuracy", "name": "acc"}, "onehot"),
    ("wrapper_top_k", "MeanMetricWrapper", {"fn": "top_k_categorical_accuracy", "k": 2}, "onehot"),
    ("fn_mae", "mae", {}, "regression"),
    ("fn_mse", "mse", {}, "regression"),
    ("fn_binary_accuracy", "binary_accuracy", {}, "binary_multi"),
    ("fn_sparse_categorical_accuracy", "sparse_categorical_accuracy", {}, "sparse"),
    ("fn_sparse_top_k", "sparse_top_k_categorical_accuracy", {}, "sparse"),
    ("fn_binary_crossentropy", "binary_crossentropy", {}, "binary_multi"),
    ("fn_kld", "kullback_leibler_divergence", {}, "onehot"),
    ("fn_cosine", "cosine_proximity", {}, "regression"),
    ("accuracy", "Accuracy", {}, "labels"),
    ("binary_accuracy", "BinaryAccuracy", {}, "binary"),
    ("binary_accuracy_threshold", "BinaryAccuracy", {"threshold": 0.7}, "binary_multi"),
    ("categorical_accuracy", "CategoricalAccuracy", {}, "onehot"),
    ("sparse_categorical_accuracy", "SparseCategoricalAccuracy", {}, "sparse"),
    ("sparse_categorical_accuracy_column", "SparseCategoricalAccuracy", {}, "sparse_column"),
    ("top_k", "TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("top_k_ties", "TopKCategoricalAccuracy", {"k": 2}, "ties"),
    ("sparse_top_k", "SparseTopKCategoricalAccuracy", {"k": 2}, "sparse_column"),
    ("mae", "MeanAbsoluteError", {}, "regression"),
    ("mse", "MeanSquaredError", {}, "regression"),
    ("mape", "MeanAbsolutePercentageError", {}, "regression"),
    ("msle", "MeanSquaredLogarithmicError", {}, "positive"),
    ("rmse", "RootMeanSquaredError", {}, "regression"),
    ("bce_metric", "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits_multi"),
    ("cce_metric", "CategoricalCrossentropy", {}, "onehot"),
    ("scce_metric", "SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_column"),
    ("hinge_metric", "Hinge", {}, "logits_multi"),
    ("kld_metric", "KLDivergence", {}, "onehot"),
    ("poisson_metric", "Poisson", {}, "positive"),
    ("logcosh_metric", "LogCoshError", {}, "regression"),
    ("cosine_metric", "CosineSimilarity", {}, "regression"),
    ("auc", "AUC", {}, "binary"),
    ("auc_multi_flat", "AUC", {}, "binary_multi"),
    ("auc_pr", "AUC", {"curve": "PR"}, "binary"),
    ("auc_pr_minoring", "AUC", {"curve": "PR", "summation_method": "minoring", "num_thresholds": 7}, "binary_multi"),
    ("auc_roc_majoring", "AUC", {"summation_method": "majoring", "num_thresholds": 11}, "binary_multi"),
    ("auc_thresholds", "AUC", {"thresholds": [0.7, 0.2, 0.45]}, "binary_multi"),
    ("auc_ties", "AUC", {"num_thresholds": 5}, "ties"),
    ("auc_multi_label", "AUC", {"multi_label": True, "num_labels": 3}, "binary_multi"),
    ("auc_multi_label_weights", "AUC", {"multi_label": True, "label_weights": [1.0, 2.0, 0.5], "curve": "PR"},
     "binary_multi"),
    ("auc_logits_label_weights", "AUC", {"from_logits": True, "label_weights": [0.5, 1.0, 2.0]}, "logits_multi"),
    ("precision", "Precision", {}, "binary"),
    ("precision_thresholds", "Precision", {"thresholds": [0.3, 0.5, 0.8]}, "binary_multi"),
    ("precision_even", "Precision", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "ties"),
    ("precision_top_k", "Precision", {"top_k": 2}, "onehot"),
    ("precision_class_id", "Precision", {"class_id": 1, "thresholds": 0.4}, "binary_multi"),
    ("recall", "Recall", {}, "binary"),
    ("recall_thresholds", "Recall", {"thresholds": [0.2, 0.6]}, "binary_multi"),
    ("recall_top_k_class", "Recall", {"top_k": 2, "class_id": 2}, "onehot"),
]


def make_metric(cls, kwargs):
    if cls == "MeanMetricWrapper":
        kw = dict(kwargs)
        fn = keras.metrics.get(kw.pop("fn"))
        return keras.metrics.MeanMetricWrapper(fn, **kw)
    if cls[0].islower():
        fn = keras.metrics.get(cls)
        return keras.metrics.MeanMetricWrapper(fn, name=cls, **kwargs)
    return getattr(keras.metrics, cls)(**kwargs)


def metric_fixture():
    rng = np.random.RandomState(7)
    cases = []
    for name, cls, kwargs, kind in METRIC_CASES:
        batches = metric_inputs(kind, rng)
        results = {}
        for weighted in [False, True]:
            m = make_metric(cls, kwargs)
            for yt, _, yp, sw in batches:
                w = sw if weighted else None
                if yp is None:
                    m.update_state(yt, sample_weight=w)
                else:
                    m.update_state(yt, yp, sample_weight=w)
            results["weighted" if weighted else "unweighted"] = tensor(m.result().numpy())
        # A fresh session, so that default names are not uniquified ("auc", not "auc_2").
        keras.backend.clear_session()
        m = make_metric(cls, kwargs)
        cases.append(
            {
                "name": name,
                "class_name": cls,
                "config_in": plain(kwargs),
                "config": plain(m.get_config()),
                "state_names": [v.name.split(":")[0] for v in m.variables],
                "batches": [
                    {
                        "y_true": tensor(yt, dt),
                        "y_pred": None if yp is None else tensor(yp),
                        "sample_weight": tensor(sw),
                    }
                    for yt, dt, yp, sw in batches
                ],
                "results": results,
            }
        )
    return {"cases": cases}


def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT_DEFAULT, help="directory to write (default: tests/data/training)")
    OUT = os.path.abspath(ap.parse_args().out)
    found = (tf.__version__, keras.__version__)
    if found[1] not in ("2.17.0", "2.21.0"):
        sys.exit("generate_training_fixtures.py: needs tf-keras 2.17.0 or 2.21.0, found %s / %s" % found)
    # The committed fixtures stay 2.17's (issue 18: the venv is 2.21; its files go elsewhere with --out).
    if found[1] != "2.17.0" and os.path.realpath(OUT) == os.path.realpath(OUT_DEFAULT):
        sys.exit("generate_training_fixtures.py: tests/data/training is written by tf-keras 2.17.0, found %s / %s "
                 "(use --out DIR)" % found)
    os.makedirs(OUT, exist_ok=True)
    tf.random.set_seed(0)
    write("optimizers.json", optimizer_fixture())
    write("legacy_optimizers.json", legacy_optimizer_fixture())
    write("schedules.json", schedule_fixture())
    write("losses.json", loss_fixture())
    write("metrics.json", metric_fixture())
    write("versions.json", {"tensorflow": tf.__version__, "tf_keras": keras.__version__, "numpy": np.__version__})
    return 0


if __name__ == "__main__":
    sys.exit(main())
