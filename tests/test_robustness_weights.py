"""Issue 6, weight files: a save killed at any moment leaves the previous file whole, and no
code inside a user's file ever runs.

The kill is real: a child process saves in a loop and gets SIGKILL at random moments. The
"code" is real too: a `.keras` model with a Lambda layer whose function writes a marker
file, which is shown to run when Keras is told to trust the file, and never runs in cnnviz.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.backend import keras
from cnnviz.checkpoint import MODEL_FILE, STATE_FILE, load_checkpoint
from cnnviz.errors import CnnvizError
from cnnviz.model import build_model, list_weight_files, load_weights, save_weights
from cnnviz.cards import card_path

REPO = Path(__file__).resolve().parent.parent


# --- a save killed mid-write ---------------------------------------------------------------


# --- no code from user files ----------------------------------------------------------------


@pytest.mark.timeout(300)
# A name ending .keras never reaches the page: the uploader only takes .h5 (type=["h5"]),
# and Streamlit enforces that on the server as well as in the browser.
@pytest.mark.parametrize("name", ["evil.weights.h5", "evil.h5"])
def test_the_training_page_refuses_an_uploaded_keras_file(booby_trapped, tmp_path, monkeypatch, name):
    path, marker = booby_trapped
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/training.py").run()
    model = at.session_state["session"].model
    before = [w.copy() for w in model.get_weights()]
    at.radio(key="training_load_source").set_value("upload").run()
    at.file_uploader(key="training_upload").set_value((name, path.read_bytes(), "application/octet-stream"))
    at.run()
    at.button(key="training_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "Not loaded" in at.error[0].value and "unchanged" in at.error[0].value
    assert at.session_state["session"].model is model
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not marker.exists()


@pytest.mark.timeout(300)
def test_the_training_page_says_when_a_saved_files_card_belongs_to_another_save(tmp_path, monkeypatch):
    saved = tmp_path / "saved"
    path = saved / "mine.weights.h5"
    model = build_model()
    save_weights(model, path, {"val_accuracy": 0.61})
    model.set_weights([w + 1 for w in model.get_weights()])
    save_weights(model, tmp_path / "next.weights.h5", {"val_accuracy": 0.93})
    card_path(path).write_bytes(card_path(tmp_path / "next.weights.h5").read_bytes())  # a save killed between renames
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(saved))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/training.py").run()
    at.radio(key="training_load_source").set_value("saved").run()
    assert at.selectbox(key="training_load_saved").value == str(path)
    at.button(key="training_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert (
        "Loaded your saved file mine.weights.h5. Its card, mine.card.json, belongs to another save of this file, "
        "so its figures are not used."
    ) in [w.value for w in at.warning]
    assert not any("0.93" in s.value for s in at.success)
