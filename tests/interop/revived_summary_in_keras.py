"""Prints tf-keras's summary of each SavedModel given, loaded with load_model and no custom
objects (a class it lacks is revived from the traces), between SUMMARY-BEGIN and
SUMMARY-END lines: issue 19's revived-summary test compares each layer's Output Shape with
Strata's revived model's. Usage: revived_summary_in_keras.py DIR [DIR ...]"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tf_keras as keras  # noqa: E402


def main():
    for directory in sys.argv[1:]:
        model = keras.models.load_model(directory)
        print("SUMMARY-BEGIN")
        model.summary(print_fn=print)
        print("SUMMARY-END")


if __name__ == "__main__":
    main()
