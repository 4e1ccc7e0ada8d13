"""TensorFlow and Keras, imported once and quietly, and kept out of the garbage collector's way.

TensorFlow's C++ side prints start-up lines (oneDNN notices, "could not find cuda drivers")
before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot silence them. A workshop
CLI and app should not open with a wall of warnings, so standard error is pointed at
/dev/null for the import alone; a failed import still raises as usual.

The import leaves about 350,000 objects that live as long as the process. Every full
collection walked them all, about 0.3 s with the GIL held, and Streamlit collects twice after
every script run (its own gc.collect, then keras.backend.clear_session's): a room of
sessions queued behind one another's collections, and the server's event loop, which sends
every session its page, behind them all. Frozen after the import (gc.freeze), they are left
out of every collection; a full one then takes about 15 ms.
"""

import gc
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

gc.collect()  # first, so that no garbage of the import is frozen with it
gc.freeze()

__all__ = ["keras", "tf"]
