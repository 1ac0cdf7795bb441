"""Writes tests/data/custom_objects/add_loss_217.h5 and add_loss_217.json with tf-keras 2.17:
the issue-19 Functional model with model.add_loss(tensor) and model.add_metric(tensor,
name="s"), compiled (SGD, mse), with fixed weights, and what tf-keras's evaluate reports on
fixed data. Run with the interop venv:
  /root/.cache/strata/interop-venv-217/bin/python tests/plugins/custom/make_add_loss_file.py
"""
import json
import os
import sys

import numpy as np
import tensorflow as tf
import tf_keras as keras

assert keras.__version__ == "2.17.0", keras.__version__
out = os.path.join(os.path.dirname(__file__), "..", "..", "data", "custom_objects")
inputs = keras.Input((3,), name="x")
x = keras.layers.Dense(2, name="dense")(inputs)
model = keras.Model(inputs, x, name="with_add_loss")
model.add_loss(tf.reduce_mean(x))
model.add_metric(tf.reduce_sum(x), name="s")
model.compile(keras.optimizers.SGD(0.1), "mse")
model.layers[1].set_weights([np.array([[0.5, -0.25], [0.125, 0.75], [-0.5, 0.25]], "float32"),
                             np.array([0.1, -0.2], "float32")])
X = np.array([[1, 2, 3], [-1, 0.5, 2], [0, -1, 1], [2, 2, -2]], "float32")
Y = np.array([[0, 1], [1, 0], [0.5, 0.5], [1, 1]], "float32")
before = model.evaluate(X, Y, batch_size=4, verbose=0, return_dict=True)
model.save(os.path.join(out, "add_loss_217.h5"))
config = model.get_config()
step = model.train_on_batch(X, Y, return_dict=True)
json.dump({"x": X.tolist(), "y": Y.tolist(), "evaluate": before, "train_on_batch": step,
           "kernel_after_step": model.layers[1].get_weights()[0].tolist(),
           "layers": [[l["class_name"], l["config"]] for l in config["layers"]]},
          open(os.path.join(out, "add_loss_217.json"), "w"), indent=1)
print(before, step)
