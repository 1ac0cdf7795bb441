"""Loads a SavedModel with tf-keras's load_model and no custom objects (a class it lacks is
revived from the traces) and prints, as JSON, what issue 19's revived-model test compares
with Strata's revived model: the model's class, its layers' names, classes, trainable flags
and weight names, and its weights' names. Usage: revived_in_keras.py SAVEDMODEL_DIR"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tf_keras as keras  # noqa: E402


def main():
    model = keras.models.load_model(sys.argv[1])
    out = {
        "class_name": model.__class__.__name__,
        "layers": [
            {
                "name": layer.name,
                "class_name": layer.__class__.__name__,
                "trainable": bool(layer.trainable),
                "weights": [w.name.split(":")[0] for w in layer.weights],
            }
            for layer in model.layers
        ],
        "weights": [w.name.split(":")[0] for w in model.weights],
    }
    print("REVIVED " + json.dumps(out))


if __name__ == "__main__":
    main()
