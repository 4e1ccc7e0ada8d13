"""Issue 6, datasets: every broken folder a workshop brings gives a clear message or a line in
the skipped-file report, and training never starts on one class.

Real files only: FIFOs, dangling and looping links, AppleDouble litter, non-ASCII and
non-UTF-8 names are made on disk; unreadable permissions are tested in a subprocess that
drops root's privileges (root reads every file whatever its mode).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.dataset import find_dataset
from cnnviz.pipeline import make_pipeline
from cnnviz.split import Split, split_dataset
from cnnviz.errors import CnnvizError

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "streamlit_app.py")


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- files that are not files ------------------------------------------------------------


# --- permissions: a real refusal, as a user who is not root ------------------------------


# --- a folder as it comes from the wild --------------------------------------------------


NAMES = {
    "Cat": ["chat_été.JPG", "Ünïcödé.PNG", unicodedata.normalize("NFD", "chaton_noël.jpeg"), "猫 1.Jpeg"],
    "Dog": ["狗.jpeg", "собака.JPEG", "perro 🐕.jpg", "hund (kopie).WEBP"],
}


def _encode(jpeg: bytes, name: str) -> bytes:
    fmt = {".png": "PNG", ".webp": "WEBP"}.get(os.path.splitext(name)[1].lower())
    if fmt is None:
        return jpeg
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, fmt)
    return out.getvalue()


# --- one class: clear messages, and training never starts ---------------------------------


# --- the same folders in the app ----------------------------------------------------------


def _only_cats(root: Path, jpegs) -> Path:
    for i in range(3):
        write(root / "Cat" / f"{i}.jpg", jpegs["cat"][i])
    return root


def _fifo_only(root: Path, jpegs) -> Path:
    (root / "Dog").mkdir(parents=True)
    _only_cats(root, jpegs)
    os.mkfifo(root / "Dog" / "0.jpg")
    return root


BAD_FOLDERS = {
    "nonexistent": (lambda root, jpegs: root / "nope", "There is no folder"),
    "a file": (lambda root, jpegs: write(root / "cat.0.jpg", jpegs["cat"][0]), "is a file, not a folder"),
    "empty": (lambda root, jpegs: root, "No cat or dog photos found"),
    "only cats": (_only_cats, "holds 3 cat photos but no dog photos"),
    "dogs only a pipe": (_fifo_only, "holds 3 cat photos but no dog photos"),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_the_data_page_says_what_is_wrong_in_one_error(tmp_path, jpegs, monkeypatch, case):
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    make, words = BAD_FOLDERS[case]
    (tmp_path / "d").mkdir()
    folder = make(tmp_path / "d", jpegs)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/data.py").run()
    at.text_input(key="folder_input").set_value(str(folder)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and words in at.error[0].value, [e.value for e in at.error]
    assert "dataset" not in at.session_state or at.session_state["dataset"] is None


@pytest.mark.timeout(300)
def test_the_training_page_offers_no_epoch_on_a_one_class_folder(tmp_path, jpegs, monkeypatch):
    folder = _only_cats(tmp_path / "cats", jpegs)
    monkeypatch.setenv("CNNVIZ_DATA", str(folder))
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/training.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.key == "training_train"]
    assert any("no usable photos were found there" in e.value for e in at.error)
    assert at.session_state["session"].job is None


def test_non_ascii_names_on_the_data_page_and_in_the_explorer(tmp_path, jpegs, monkeypatch):
    for folder, names in NAMES.items():
        for i, name in enumerate(names):
            write(tmp_path / "pets" / folder / name, _encode(jpegs[folder.lower()][i], name))
    write(tmp_path / "pets" / "Cat" / "Thumbs.db", b"\xd0\xcf\x11\xe0")
    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path / "pets"))
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert any("Found 4 cats, 4 dogs, 1 skipped" in s.value for s in at.subheader)
    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()
    options = at.selectbox(key="sample_name").options
    named = [o for o in options if "from the dataset" in o]
    assert named and all(o.split(" (a ")[0] in {n for ns in NAMES.values() for n in ns} for o in named)
    at.selectbox(key="sample_name").select(named[0]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Verdict:" in " ".join(m.value for m in at.markdown)
