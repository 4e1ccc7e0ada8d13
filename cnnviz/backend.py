"""TensorFlow and Keras, imported once and quietly.

TensorFlow's C++ side prints start-up lines (oneDNN notices, "could not find cuda drivers")
before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot silence them. A workshop
CLI and app should not open with a wall of warnings, so standard error is pointed at
/dev/null for the import alone; a failed import still raises as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_quietly():
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


tf = _import_quietly()
import keras  # noqa: E402  (after TensorFlow, so Keras finds its backend already loaded)

__all__ = ["keras", "tf"]
