"""The Data page under streamlit.testing: photos found from the environment, a typed folder or
the download button, the split controls, and every broken folder a workshop brings (missing,
a file, empty, one class, a pipe, non-ASCII names) gives one clear error or a line in the
skipped-file report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP, assert_no_exception, open_page, plotly_array, plotly_specs, texts
from tests.folders import NAMES, encoded_as_named, only_cats, write


def test_data_page_from_env_finds_the_photos_splits_them_and_shows_samples(monkeypatch, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/data.py")
    body = texts(at)
    assert "Found 24 cats, 24 dogs, 0 skipped" in body
    split = at.session_state["split"]
    # 48 photos cannot give the tutorial's 16,000 / 6,400: the split is scaled and says so.
    assert split.note and split.note in body
    assert len(split.train) + len(split.val) <= 48 and not set(split.train) & set(split.val)
    assert at.session_state["dataset"].counts() == {"cat": 24, "dog": 24}

    grid = [image for image in at.image if image.captions and image.captions[0] in ("cat", "dog")]
    assert len(grid) == 12
    balance = plotly_specs(at)[0]
    assert [bar["name"] for bar in balance["data"]] == ["cat", "dog"]
    assert list(plotly_array(balance["data"][0]["y"])) == [24, len(split.train) // 2, len(split.val) // 2]

    before = [image.value for image in grid]
    next(b for b in at.button if b.label == "Reshuffle").click().run()
    assert_no_exception(at)
    after = [image.value for image in at.image if image.captions and image.captions[0] in ("cat", "dog")]
    assert len(after) == 12 and after != before


def test_data_split_controls_change_the_split(monkeypatch, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/data.py")
    at.number_input(key="train_size").set_value(20)
    at.number_input(key="val_size").set_value(8)
    at.number_input(key="split_seed").set_value(7).run()
    assert_no_exception(at)
    split = at.session_state["split"]
    assert (len(split.train), len(split.val), split.seed, split.note) == (20, 8, 7, None)
    assert "**20** training images (10 cats, 10 dogs)" in texts(at)


def test_the_data_pages_sentences_come_from_its_constants_and_say_what_the_split_cannot_catch(monkeypatch, tiny_kaggle):
    from cnnviz.images import IMAGE_SIZE
    from cnnviz_app import common

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    body = texts(open_page("cnnviz_app/pages/data.py"))
    assert f"The defaults are the tutorial's {common.DEFAULT_TRAIN:,} and {common.DEFAULT_VAL:,}" in body
    assert f"squashes each whole photo to {IMAGE_SIZE} × {IMAGE_SIZE}" in body
    # only byte-identical copies are grouped (by sha256): the page must not promise more
    assert "Byte-identical copies" in body and "Near-duplicates" in body and "not detected" in body
    assert "never sees a photo it trained on" not in body

    monkeypatch.setattr(common, "DEFAULT_TRAIN", 20)
    monkeypatch.setattr(common, "DEFAULT_VAL", 8)
    at = open_page("cnnviz_app/pages/data.py")
    assert "The defaults are the tutorial's 20 and 8" in texts(at)
    assert (len(at.session_state["split"].train), len(at.session_state["split"].val)) == (20, 8)


def test_data_page_typed_folder_with_broken_files_lists_what_was_skipped(tmp_path, data_root):
    folder = tmp_path / "mine"
    folder.mkdir()
    for label in ("cat", "dog"):
        for i in range(5):
            shutil.copy(data_root / "train" / f"{label}.{i}.jpg", folder)
    (folder / "cat.99.jpg").write_bytes(b"this is not a photo")
    (folder / "notes.txt").write_text("hello")

    at = open_page("cnnviz_app/pages/data.py")
    assert any(b.label == "Download the dataset" for b in at.button)
    at.text_input(key="folder_input").input(str(folder)).run()
    assert_no_exception(at)
    assert "Found 5 cats, 5 dogs, 2 skipped" in texts(at)
    skipped = at.dataframe[0].value
    assert set(skipped["file"]) == {"cat.99.jpg", "notes.txt"}
    assert all(reason for reason in skipped["reason"])
    assert not any(b.label == "Download the dataset" for b in at.button)


def test_data_page_bad_folder_shows_one_error_and_nothing_breaks(tmp_path):
    at = open_page("cnnviz_app/pages/data.py")
    at.text_input(key="folder_input").input(str(tmp_path / "nowhere")).run()
    assert_no_exception(at)
    assert len(at.error) == 1 and "There is no folder" in at.error[0].value
    assert "split" not in at.session_state


def test_download_button_fetches_unzips_and_scans_the_archive(tmp_path, monkeypatch, data_root):
    """The button downloads from $CNNVIZ_DOWNLOAD_URL (here a server on this machine: tests
    never use the internet), and the page then shows the archive's photos and broken files."""
    import functools
    import http.server
    import threading
    import zipfile

    archive = tmp_path / "served" / "pets.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for label, folder in (("cat", "Cat"), ("dog", "Dog")):
            for i in range(6):
                zf.write(data_root / "train" / f"{label}.{i}.jpg", f"PetImages/{folder}/{i}.jpg")
        zf.writestr("PetImages/Cat/666.jpg", b"")  # empty, as in Microsoft's archive
        zf.writestr("PetImages/Dog/Thumbs.db", b"junk")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CNNVIZ_DOWNLOAD_URL", f"http://127.0.0.1:{server.server_port}/pets.zip")
    try:
        at = open_page("cnnviz_app/pages/data.py")
        next(b for b in at.button if b.label == "Download the dataset").click().run()
    finally:
        server.shutdown()
    assert_no_exception(at)
    assert not at.error
    assert "Found 6 cats, 6 dogs, 2 skipped" in texts(at)
    assert at.text_input(key="folder_input").value == at.session_state["data_folder"]
    assert Path(at.session_state["data_folder"]).is_relative_to(tmp_path / "cache")


# --- broken folders: one clear error each ---------------------------------------------------


def _fifo_only(root: Path, jpegs) -> Path:
    (root / "Dog").mkdir(parents=True)
    only_cats(root, jpegs)
    os.mkfifo(root / "Dog" / "0.jpg")
    return root


BAD_FOLDERS = {
    "nonexistent": (lambda root, jpegs: root / "nope", "There is no folder"),
    "a file": (lambda root, jpegs: write(root / "cat.0.jpg", jpegs["cat"][0]), "is a file, not a folder"),
    "empty": (lambda root, jpegs: root, "No cat or dog photos found"),
    "only cats": (only_cats, "holds 3 cat photos but no dog photos"),
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


@pytest.mark.slow
def test_non_ascii_names_on_the_data_page_and_in_the_explorer(tmp_path, jpegs, monkeypatch):
    for folder, names in NAMES.items():
        for i, name in enumerate(names):
            write(tmp_path / "pets" / folder / name, encoded_as_named(jpegs[folder.lower()][i], name))
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
