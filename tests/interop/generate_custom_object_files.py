#!/usr/bin/env python3
"""tf-keras files with a custom object of every kind (issue 19, label interop).

    generate_custom_object_files.py OUT_DIR

One cell per kind, each a small model that uses one custom class registered the way Keras
users do (`keras.utils.register_keras_serializable(package="Interop")`, so it serialises as
`Interop>Name`):
  layer        Functional: Input(4) -> Interop>MxLayer(units=3)    relu(x @ w + b)
  model        Interop>MxModel(units=3), subclassed, get_config    tanh(inner_dense(x))
  activation   Dense(3, activation=Interop>mx_activation)          x * sigmoid(x)
  loss         Dense(3), loss Interop>MxLoss(scale=3)              scale * mean(|y_pred - y_true|, -1)
  metric       Dense(3), metrics [Interop>MxMetric(name="worst")]  the largest |y_pred - y_true| seen
  initializer  Dense(3, kernel_initializer=Interop>MxInitializer(value=0.125))   a constant
  regularizer  Dense(3, kernel_regularizer=Interop>MxRegularizer(l=0.03))        l * sum(|w|^3)
  constraint   Dense(3, kernel_constraint=Interop>MxConstraint(limit=0.2))       clip to [-limit, limit]
  optimizer    Interop>MxOptimizer(learning_rate=0.2)              v = 0.5 v + g; w -= lr v
  schedule     SGD(learning_rate=Interop>MxSchedule(initial=0.3))  initial / (1 + step)
The math is that of tests/plugins/custom/matrix_objects.hpp. Each model is compiled (the
cell's custom loss / metric / optimizer / schedule, else SGD(0.1), mse, ["mae"]), trained two
steps on fixed data and written as
  <kind>.h5            model.save(h5)         (not for `model`: tf-keras refuses subclassed H5)
  <kind>_sm/           model.save(SavedModel)
  <kind>.json          model.to_json()        (not for the training-config kinds)
  <kind>.w<i>.npy      model.get_weights()
  <kind>.next<i>.npy   the weights after one more train_on_batch from the saved state
  <kind>.pred.npy      model.predict(x)
  <kind>.ref.json      evaluate's loss and metrics (before the extra step), the custom
                       object's registered name and one config value
and x.npy / y.npy. A file OUT_DIR/done is written last. The classes are imported by
custom_objects_load_in_keras.py, which loads Strata's files with them.
"""
import json
import warnings
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

PACKAGE = "Interop"
register = keras.utils.register_keras_serializable(package=PACKAGE)


@register
class MxLayer(keras.layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(int(input_shape[-1]), self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        super().build(input_shape)

    def call(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


@register
class MxModel(keras.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner_dense = keras.layers.Dense(units, name="inner_dense")

    def call(self, x):
        return tf.tanh(self.inner_dense(x))

    def get_config(self):
        return {"name": self.name, "units": self.units}


@register
def mx_activation(x):
    return x * tf.sigmoid(x)


@register
class MxLoss(keras.losses.Loss):
    def __init__(self, scale=2.0, name="mx_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return tf.reduce_mean(tf.abs(y_pred - y_true), axis=-1) * self.scale

    def get_config(self):
        config = super().get_config()
        config["scale"] = self.scale
        return config


@register
class MxMetric(keras.metrics.Metric):
    def __init__(self, name="mx_metric", **kwargs):
        super().__init__(name=name, **kwargs)
        self.worst = self.add_weight(name="worst", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.worst.assign(tf.maximum(self.worst, tf.reduce_max(tf.abs(y_pred - y_true))))

    def result(self):
        return tf.identity(self.worst)


@register
class MxInitializer(keras.initializers.Initializer):
    def __init__(self, value=0.25):
        self.value = value

    def __call__(self, shape, dtype=None, **kwargs):
        return tf.fill(shape, tf.cast(self.value, dtype or tf.float32))

    def get_config(self):
        return {"value": self.value}


@register
class MxRegularizer(keras.regularizers.Regularizer):
    def __init__(self, l=0.01):  # noqa: E741
        self.l = l

    def __call__(self, w):
        return self.l * tf.reduce_sum(tf.abs(w) ** 3)

    def get_config(self):
        return {"l": self.l}


@register
class MxConstraint(keras.constraints.Constraint):
    def __init__(self, limit=0.1):
        self.limit = limit

    def __call__(self, w):
        return tf.clip_by_value(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


@register
class MxOptimizer(keras.optimizers.Optimizer):
    def __init__(self, learning_rate=0.05, name="MxOptimizer", **kwargs):
        super().__init__(name=name, **kwargs)
        self._learning_rate = self._build_learning_rate(learning_rate)

    def build(self, var_list):
        super().build(var_list)
        if getattr(self, "_mx_built", False):
            return
        self._mx_built = True
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in var_list]

    def update_step(self, gradient, variable):
        lr = tf.cast(self.learning_rate, variable.dtype)
        v = self.velocities[self._index_dict[self._var_key(variable)]]
        v.assign(0.5 * v + gradient)
        variable.assign_sub(lr * v)

    def get_config(self):
        config = super().get_config()
        config["learning_rate"] = self._serialize_hyperparameter(self._learning_rate)
        return config


@register
class MxSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial=0.1):
        self.initial = initial

    def __call__(self, step):
        return self.initial / (1.0 + tf.cast(step, tf.float32))

    def get_config(self):
        return {"initial": self.initial}


CUSTOM_OBJECTS = {
    "Interop>MxLayer": MxLayer, "Interop>MxModel": MxModel, "Interop>mx_activation": mx_activation,
    "Interop>MxLoss": MxLoss, "Interop>MxMetric": MxMetric, "Interop>MxInitializer": MxInitializer,
    "Interop>MxRegularizer": MxRegularizer, "Interop>MxConstraint": MxConstraint,
    "Interop>MxOptimizer": MxOptimizer, "Interop>MxSchedule": MxSchedule,
}

KINDS = ["layer", "model", "activation", "loss", "metric", "initializer", "regularizer", "constraint",
         "optimizer", "schedule"]
TRAINING_ONLY = {"loss", "metric", "optimizer", "schedule"}


def ramp(rows, cols, scale, offset):
    i = np.arange(rows * cols) + offset
    return (scale * ((i % 11) - 5)).astype("float32").reshape(rows, cols)


X = ramp(6, 4, 0.1, 0)
Y = ramp(6, 3, 0.07, 3)

# (registered name, config key, value) of the custom object of each kind.
CHECKED = {
    "layer": ("Interop>MxLayer", "units", 3), "model": ("Interop>MxModel", "units", 3),
    "activation": ("Interop>mx_activation", None, None), "loss": ("Interop>MxLoss", "scale", 3.0),
    "metric": ("Interop>MxMetric", "name", "worst"), "initializer": ("Interop>MxInitializer", "value", 0.125),
    "regularizer": ("Interop>MxRegularizer", "l", 0.03), "constraint": ("Interop>MxConstraint", "limit", 0.2),
    "optimizer": ("Interop>MxOptimizer", "learning_rate", 0.2), "schedule": ("Interop>MxSchedule", "initial", 0.3),
}


def build(kind):
    """The compiled model of one cell (weights from the fixed seed)."""
    keras.utils.set_random_seed(19)
    dense = {"units": 3, "name": "dense"}
    if kind == "layer":
        inputs = keras.Input((4,), name="x")
        model = keras.Model(inputs, MxLayer(3, name="mx_layer")(inputs), name="cell")
    elif kind == "model":
        model = MxModel(3, name="cell")
        model(X)
    else:
        if kind == "activation":
            dense["activation"] = mx_activation
        elif kind == "initializer":
            dense["kernel_initializer"] = MxInitializer(0.125)
        elif kind == "regularizer":
            dense["kernel_regularizer"] = MxRegularizer(0.03)
        elif kind == "constraint":
            dense["kernel_constraint"] = MxConstraint(0.2)
        inputs = keras.Input((4,), name="x")
        model = keras.Model(inputs, keras.layers.Dense(**dense)(inputs), name="cell")
    optimizer = keras.optimizers.SGD(0.1)
    loss, metrics = "mse", ["mae"]
    if kind == "optimizer":
        optimizer = MxOptimizer(0.2)
    elif kind == "schedule":
        optimizer = keras.optimizers.SGD(MxSchedule(0.3))
    elif kind == "loss":
        loss = MxLoss(3.0)
    elif kind == "metric":
        metrics = [MxMetric(name="worst")]
    model.compile(optimizer, loss, metrics)
    return model


def main(out):
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "x.npy"), X)
    np.save(os.path.join(out, "y.npy"), Y)
    for kind in KINDS:
        model = build(kind)
        model.train_on_batch(X, Y)
        model.train_on_batch(X, Y)
        formats = ["savedmodel"]
        if kind != "model":
            model.save(os.path.join(out, kind + ".h5"))
            formats.append("h5")
        model.save(os.path.join(out, kind + "_sm"), save_format="tf")
        if kind not in TRAINING_ONLY:
            with open(os.path.join(out, kind + ".json"), "w") as f:
                f.write(model.to_json())
            formats.append("json")
        for i, w in enumerate(model.get_weights()):
            np.save(os.path.join(out, "%s.w%d.npy" % (kind, i)), w)
        np.save(os.path.join(out, kind + ".pred.npy"), model.predict(X, verbose=0))
        evaluate = model.evaluate(X, Y, batch_size=6, verbose=0, return_dict=True)
        model.train_on_batch(X, Y)
        for i, w in enumerate(model.get_weights()):
            np.save(os.path.join(out, "%s.next%d.npy" % (kind, i)), w)
        name, key, value = CHECKED[kind]
        ref = {"evaluate": {k: float(v) for k, v in evaluate.items()}, "class_name": name, "key": key,
               "value": value, "formats": formats, "weights": len(model.get_weights())}
        with open(os.path.join(out, kind + ".ref.json"), "w") as f:
            json.dump(ref, f, indent=1)
    open(os.path.join(out, "done"), "w").close()


if __name__ == "__main__":
    main(sys.argv[1])
