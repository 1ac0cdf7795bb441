"""Loads SavedModels with tf-keras's load_model (classes available) and prints, as JSON, the
optimizer state each file holds as tf-keras reads it: tf-keras 2.17's load_model does not
restore a SavedModel's optimizer state, so the optimizer is built over the model's variables
and the file's values are read into it through tf.train.Checkpoint (the object graph's
"optimizer" child of the model). MODE says which variables the optimizer was built over:
"trainable" (those trainable now) or "all" (every layer trainable, as when a layer is frozen
after the optimizer first stepped, without a new compile).
Usage: optimizer_state_in_keras.py DIR:MODE [DIR:MODE ...]"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


def state_of(directory, mode):
    model = keras.models.load_model(directory)
    if mode == "all":
        frozen = [layer for layer in model.layers if not layer.trainable]
        for layer in frozen:
            layer.trainable = True
        variables = list(model.trainable_variables)
        for layer in frozen:
            layer.trainable = False
    else:
        variables = list(model.trainable_variables)
    model.optimizer.build(variables)
    tf.train.Checkpoint(model).read(os.path.join(directory, "variables", "variables")).assert_existing_objects_matched()
    return [
        {"name": v.name.split(":")[0], "values": [float(x) for x in v.numpy().ravel()]}
        for v in model.optimizer.variables
    ]


def main():
    for arg in sys.argv[1:]:
        directory, mode = arg.rsplit(":", 1)
        print("STATE " + json.dumps(state_of(directory, mode)))


if __name__ == "__main__":
    main()
