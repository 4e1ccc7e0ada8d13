"""What this server process still holds: sessions' models and decoded photo sets, counted live.

A workshop server must give back what a session took once the session is gone: its Keras
model (tens of MB with its optimizer state) and the decoded pixels of its split (about 190
MB for the workshop size). Nothing in Streamlit says when a session has been forgotten, so
the objects are counted through weak references instead: a count that does not fall back
after the sessions have gone is an object something still holds, wherever that is.

Only counts leave this module, never the objects.
"""

from __future__ import annotations

import gc
import threading
import weakref

MODELS = "models"  # every model a SessionModel has held (a reset or a load replaces it)
DECODED = "decoded photo sets"  # cnnviz.pipeline.DecodedImages
KINDS = (MODELS, DECODED)

_lock = threading.Lock()
_alive: dict[str, weakref.WeakSet] = {kind: weakref.WeakSet() for kind in KINDS}


def track(kind: str, thing: object) -> None:
    """Count `thing` under `kind` for as long as it lives (the census never keeps it alive)."""
    with _lock:
        _alive[kind].add(thing)


def counts(collect: bool = False) -> dict[str, int]:
    """How many of each kind are alive now.

    `collect` first runs Python's full garbage collection: a Keras model sits in reference
    cycles (its compiled functions refer back to it), so a model nobody holds any more is
    only freed by a collection, and without one it counts as alive for a while.
    """
    if collect:
        gc.collect()
    with _lock:
        return {kind: len(things) for kind, things in _alive.items()}
