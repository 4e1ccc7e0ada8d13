"""Training state saved after every epoch, so a long run that is interrupted resumes.

A checkpoint folder holds `last.keras` (weights and the optimizer's state, written
atomically) and `state.json` (the history so far). Resuming restores both, so the epoch
after an interruption is the epoch that would have come next. Only cnnviz writes these
files, and they are loaded with Keras's safe mode on, so nothing in them is executed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from cnnviz.backend import keras
from cnnviz.errors import CnnvizError

MODEL_FILE = "last.keras"
STATE_FILE = "state.json"


def save_checkpoint(model: keras.Model, folder: str | os.PathLike, history: list[dict]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".last.", suffix=".keras", dir=folder)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, folder / MODEL_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump({"history": history}, f, indent=2)
    os.replace(tmp, folder / STATE_FILE)


def load_checkpoint(folder: str | os.PathLike) -> tuple[keras.Model, list[dict]] | None:
    """The model (compiled, with its optimizer state) and history, or None if there is none yet."""
    folder = Path(folder)
    if not (folder / MODEL_FILE).is_file():
        return None
    try:
        model = keras.models.load_model(folder / MODEL_FILE, safe_mode=True)
        history = json.loads((folder / STATE_FILE).read_text())["history"]
    except Exception as e:  # a damaged checkpoint: say so rather than train from scratch silently
        raise CnnvizError(f"The checkpoint in {folder} could not be read ({e}); delete the folder to start afresh.") from e
    return model, history
