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

_SAVER = """
import sys, time
import numpy as np
from cnnviz.model import build_model, save_weights
path, version = sys.argv[1], int(sys.argv[2])
model = build_model()
shapes = [w.shape for w in model.get_weights()]
while True:  # until killed; the parent kills within seconds
    model.set_weights([np.full(s, version, dtype="float32") for s in shapes])
    t = time.perf_counter()
    save_weights(model, path, {"version": version})
    print(version, time.perf_counter() - t, flush=True)
    version += 1
"""


def version_of(path: Path) -> tuple[int, dict]:
    """Load the file as the app does; every array must hold the same version number.
    Returns that version and the card that loading vouches for."""
    model = build_model()
    card = load_weights(model, path)
    values = {float(np.unique(w)[0]) for w in model.get_weights() if np.unique(w).size == 1}
    assert len(values) == 1 and all(np.unique(w).size == 1 for w in model.get_weights()), "a mixture of two saves"
    return int(values.pop()), card


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_save_killed_at_random_moments_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "shared.weights.h5"
    model = build_model()
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    save_weights(model, path, {"version": 0})
    rng = random.Random(6)
    version, kills = 0, []
    for round_ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(path), str(version + 1)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            first = child.stdout.readline().split()  # the child is now saving in a loop
            assert first, "the saving child died before its first save"
            save_seconds = float(first[1])
            time.sleep(rng.uniform(0, 3 * save_seconds))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        printed = [int(line.split()[0]) for line in [" ".join(first)] + child.stdout.read().splitlines() if line.strip()]
        found, vouched = version_of(path)  # loads, whole, every time
        # The file holds the last save reported, or one more (killed between rename and print).
        assert printed[-1] <= found <= printed[-1] + 1, (printed, found)
        card = json.loads(card_path(path).read_text())  # never half a card
        # The card is renamed into place just before the weights: at most one save ahead,
        # and loading never lets a card ahead of its weights vouch for them.
        assert card["version"] in (found, found + 1)
        assert vouched == (card if card["version"] == found else {}), (card["version"], found)
        kills.append((round_, found, sorted(p.name for p in tmp_path.iterdir())))
        version = found
    # Leftover temporary files are hidden and never offered as weights.
    assert list_weight_files(tmp_path) == [path]


# --- no code from user files ----------------------------------------------------------------


@pytest.fixture()
def booby_trapped(tmp_path) -> tuple[Path, Path]:
    """A `.keras` model whose Lambda layer writes `marker` whenever it runs."""
    marker = tmp_path / "marker-code-ran"
    # The path is a constant inside the function's own code, which Keras marshals into the file.
    code = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]")
    trap = keras.layers.Lambda(code, name="trap")
    model = keras.Sequential([keras.Input((150, 150, 3)), trap, keras.layers.Flatten(), keras.layers.Dense(1)])
    path = tmp_path / "evil.keras"
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran it once, in this test
    return path, marker


def test_the_crafted_file_really_runs_code_when_trusted(booby_trapped):
    """The trap works: only with safe mode off (which cnnviz never does) does the marker appear."""
    path, marker = booby_trapped
    loaded = keras.models.load_model(path, safe_mode=False)
    loaded(np.zeros((1, 150, 150, 3), "float32"))
    assert marker.read_text() == "ran"


def test_a_checkpoint_with_a_lambda_is_refused_and_never_run(booby_trapped, tmp_path):
    path, marker = booby_trapped
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    os.replace(path, folder / MODEL_FILE)
    (folder / STATE_FILE).write_text(json.dumps({"history": []}))
    with pytest.raises(CnnvizError, match="could not be read"):
        load_checkpoint(folder)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["evil.keras", "evil.weights.h5", "evil.h5"])
def test_load_weights_never_runs_a_keras_file_whatever_its_name(booby_trapped, tmp_path, name):
    path, marker = booby_trapped
    renamed = tmp_path / name
    renamed.write_bytes(path.read_bytes())
    model = build_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(CnnvizError):
        load_weights(model, renamed)
    assert not marker.exists()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_truncated_file_leaves_the_current_model_untouched(tmp_path):
    model = build_model()
    good = tmp_path / "good.weights.h5"
    save_weights(model, good)
    target = build_model()
    before = [w.copy() for w in target.get_weights()]
    for cut in (100, good.stat().st_size // 2, good.stat().st_size - 10):
        truncated = tmp_path / f"cut{cut}.weights.h5"
        truncated.write_bytes(good.read_bytes()[:cut])
        with pytest.raises(CnnvizError):
            load_weights(target, truncated)
        assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights()))


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
