"""The server process: `python -m cnnviz_app [streamlit options]` starts the app after loading
TensorFlow, and `keep_keras_state()` stops Streamlit resetting Keras after every script run.

Why a launcher and not only `streamlit run streamlit_app.py` (which works too, slower):

- Once Keras is imported, Streamlit runs two full garbage collections after every script run,
  fragments included: its own `runner.postScriptGC` and the `gc.collect()` inside
  `keras.backend.clear_session()`, which it calls to clear the state of apps that rebuild their
  models at each run. Each walks the ~445,000 objects TensorFlow and Keras create at import:
  217-346 ms of held GIL each, measured here, so about half a second of server time for every
  click by anyone, and the new page's elements wait behind it.
- `gc.freeze()` right after the import moves those objects out of the collector's sight for
  good (they live as long as the process anyway). It must run before the first session exists:
  frozen, a session's own objects would never be collected, nor anything they later hold (its
  model, its decoded photos). Under `streamlit run` the first import happens inside a session's
  script run, too late; so this launcher imports, freezes, then hands over to Streamlit's CLI.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def keep_keras_state() -> None:
    """Make Streamlit's per-run `keras.backend.clear_session()` a no-op, once Keras is imported.

    cnnviz names every layer and sets every dtype itself, so it has no Keras global state to
    clear; and a reset at the end of one session's run lands while another session's epoch is
    training in its thread: it replaces Keras' thread-local state (the autocast scope of a
    bfloat16 step among it) under that thread's feet, and its full collection holds the GIL.
    """
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.clear_session is not _kept:
        keras.backend.clear_session = _kept


def _kept(free_memory: bool = True) -> None:
    """Streamlit's call to `keras.backend.clear_session()` lands here: nothing to clear (see above)."""


def load_tensorflow() -> None:
    """Import TensorFlow and Keras with one inter-op thread, and freeze them out of the garbage
    collector's walks (see above); `main` calls it before Streamlit starts.

    One inter-op thread: TensorFlow's oneDNN kernels keep memory for every thread of its pools
    that has run them, so epochs of several sessions at once left +832 MB behind with the
    default pool and +477 MB with one thread; one session's epoch runs 1% slower
    (benchmarks/concurrent_epochs.py, README "Speed"). Set before TensorFlow reads it.
    """
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    import cnnviz.backend  # noqa: F401  (TensorFlow and Keras: the objects to freeze)

    keep_keras_state()
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    """`load_tensorflow()`, then `streamlit run streamlit_app.py` with `argv` (Streamlit's own
    options, e.g. --server.port)."""
    load_tensorflow()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()
