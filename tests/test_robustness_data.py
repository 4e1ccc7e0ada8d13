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
NOBODY = 65534


@pytest.fixture(scope="module")
def jpegs(data_root) -> dict[str, list[bytes]]:
    """Twelve real JPEGs per class."""
    train = data_root / "train"
    return {c: [(train / f"{c}.{i}.jpg").read_bytes() for i in range(12)] for c in ("cat", "dog")}


@pytest.fixture()
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def class_folders(root: Path, jpegs, n: int = 3) -> Path:
    for folder, label in (("Cat", "cat"), ("Dog", "dog")):
        for i in range(n):
            write(root / folder / f"{i}.jpg", jpegs[label][i])
    return root


def reasons(dataset, root: Path) -> dict[str, str]:
    return {Path(p).relative_to(root).as_posix(): r for p, r in dataset.skipped}


def decoded_count(items) -> int:
    return sum(int(x.shape[0]) for x, _ in make_pipeline(items, batch_size=8, cache=False))


# --- files that are not files ------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_named_pipe_under_a_photos_name_is_skipped_not_waited_on(tmp_path, jpegs, cache):
    root = class_folders(tmp_path / "pets", jpegs)
    os.mkfifo(root / "Cat" / "pipe.jpg")  # reading it would wait forever for a writer
    dataset = find_dataset(root, cache_dir=cache)
    assert reasons(dataset, root) == {"Cat/pipe.jpg": "not a regular file (a named pipe, socket or device under a photo's name)"}
    assert dataset.counts() == {"cat": 3, "dog": 3}


def test_dangling_and_self_looping_links_are_skipped_with_reasons(tmp_path, jpegs, cache):
    root = class_folders(tmp_path / "pets", jpegs)
    os.symlink(tmp_path / "gone.jpg", root / "Dog" / "dangling.jpg")
    os.symlink("loop.jpg", root / "Cat" / "loop.jpg")  # a link to itself: ELOOP
    dataset = find_dataset(root, cache_dir=cache)
    why = reasons(dataset, root)
    assert why["Dog/dangling.jpg"] == "a broken link, or the file was removed during the scan"
    assert why["Cat/loop.jpg"] == "could not be read (Too many levels of symbolic links)"
    assert dataset.counts() == {"cat": 3, "dog": 3}


# --- permissions: a real refusal, as a user who is not root ------------------------------

_SCAN = """
import json, os, sys
from PIL import Image
from cnnviz.dataset import find_dataset
from cnnviz.errors import CnnvizError
Image.init()  # load Pillow's plugins while still able to read anything
if os.geteuid() == 0:
    os.setgroups([]); os.setgid({nobody}); os.setuid({nobody})
try:
    d = find_dataset(sys.argv[1], cache_dir=sys.argv[2])
    print(json.dumps({{"counts": d.counts(), "skipped": d.skipped}}))
except CnnvizError as e:
    print(json.dumps({{"error": str(e)}}))
""".format(nobody=NOBODY)


def scan_without_privileges(folder: Path, cache: Path) -> dict:
    """find_dataset in a child process that has dropped root's privileges (if it had them)."""
    out = subprocess.run(
        [sys.executable, "-c", _SCAN, str(folder), str(cache)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(cache)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture()
def shared_tmp():
    """A folder the unprivileged child can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="cnnviz-perm-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder)


def test_unreadable_files_and_folders_are_reported_as_permission_errors(shared_tmp, jpegs):
    root = class_folders(shared_tmp / "pets", jpegs)
    write(root / "Dog" / "more" / "7.jpg", jpegs["dog"][7])
    cache = shared_tmp / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "Cat" / "1.jpg").chmod(0o000)
    (root / "Dog" / "more").chmod(0o000)

    result = scan_without_privileges(root, cache)
    assert "error" not in result, result
    why = {Path(p).relative_to(root).as_posix(): r for p, r in result["skipped"]}
    assert why == {
        "Cat/1.jpg": "could not be read (Permission denied)",
        "Dog/more": "a folder that could not be read (Permission denied)",
    }
    assert result["counts"] == {"cat": 2, "dog": 3}

    root.chmod(0o000)  # the folder itself: one sentence, naming permissions
    result = scan_without_privileges(root, cache)
    assert "could not be read (Permission denied): check its permissions" in result["error"]


# --- a folder as it comes from the wild --------------------------------------------------


def test_a_quarter_corrupt_files_are_skipped_and_never_reach_the_network(tmp_path, jpegs, cache):
    root = class_folders(tmp_path / "PetImages", jpegs, n=12)
    broken = {  # 4 per class: a quarter of the 32 files named as photos
        "Cat/e.jpg": b"",
        "Cat/t.jpg": jpegs["cat"][0][:3000],
        "Cat/h.jpg": b"<html><body>404 Not Found</body></html>",
        "Cat/r.jpg": os.urandom(5000),
        "Dog/e.jpg": b"",
        "Dog/t.jpg": jpegs["dog"][0][: len(jpegs["dog"][0]) // 3],
        "Dog/z.jpg": b"PK\x03\x04 a zip under a photo's name",
        "Dog/g.png": b"\x89PNG\r\n\x1a\n" + os.urandom(200),
    }
    for name, content in broken.items():
        write(root / name, content)
    dataset = find_dataset(root, cache_dir=cache)
    why = reasons(dataset, root)
    assert set(why) == set(broken)
    assert all(why[name] for name in broken)
    assert "empty" in why["Cat/e.jpg"] and "truncated" in why["Dog/t.jpg"]
    assert dataset.counts() == {"cat": 12, "dog": 12}
    split = split_dataset(dataset, train_size=16, val_size=8)
    assert decoded_count(split.train + split.val) == 24  # every kept file decodes in TensorFlow


def test_thumbs_db_mac_litter_and_nested_folders(tmp_path, jpegs, cache):
    """A PetImages zip unpacked on a Mac and sorted by hand: __MACOSX/, ._ files, Thumbs.db,
    photos in subfolders of Cat/ (they are cats too), and extra folders beside the classes."""
    pets = class_folders(tmp_path / "PetImages", jpegs)
    write(pets / "Cat" / "Thumbs.db", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 thumbnails")
    write(pets / "Cat" / "._0.jpg", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    write(pets / "Cat" / "2019" / "holiday" / "beach.jpg", jpegs["cat"][5])
    write(pets / "Dog" / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(pets / "Dog" / "old" / "notes.txt", b"my dogs")
    write(tmp_path / "__MACOSX" / "PetImages" / "Cat" / "._1.jpg", b"\x00\x05\x16\x07")
    write(tmp_path / "PetImages" / "Birds" / "robin.jpg", jpegs["cat"][6])  # another class: not used
    dataset = find_dataset(tmp_path, cache_dir=cache)
    why = reasons(dataset, pets)
    assert set(why) == {"Cat/Thumbs.db", "Cat/._0.jpg", "Dog/.DS_Store", "Dog/old/notes.txt"}
    assert "Thumbs.db" in why["Cat/Thumbs.db"]
    assert "not an image Pillow can read" in why["Cat/._0.jpg"]
    assert dataset.counts() == {"cat": 4, "dog": 3}
    assert any(p.endswith("holiday/beach.jpg") for p, _ in dataset.items)
    assert not any("__MACOSX" in p or "Birds" in p for p, _ in dataset.items + dataset.skipped)


def test_a_nested_folder_in_a_kaggle_folder_is_not_mixed_in(tmp_path, tiny_kaggle, jpegs, cache):
    train = shutil.copytree(tiny_kaggle, tmp_path / "train")
    write(train / "extra" / "cat.999.jpg", jpegs["dog"][0])  # a copy someone put aside
    dataset = find_dataset(train, cache_dir=cache)
    assert dataset.counts() == {"cat": 24, "dog": 24}
    assert not any("extra" in p for p, _ in dataset.items)


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


def test_non_ascii_names_and_upper_case_extensions_train_like_any_other(tmp_path, jpegs, cache):
    for folder, names in NAMES.items():
        label = folder.lower()
        for i, name in enumerate(names):
            write(tmp_path / folder / name, _encode(jpegs[label][i], name))
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.skipped == []
    assert dataset.counts() == {"cat": 4, "dog": 4}
    assert {Path(p).name for p, _ in dataset.items} == {n for names in NAMES.values() for n in names}
    assert find_dataset(tmp_path, cache_dir=cache).items == dataset.items  # the cache round-trips the names
    assert decoded_count(dataset.items) == 8


def test_a_file_name_that_is_not_utf8_is_still_read(tmp_path, jpegs, cache):
    """Linux allows any bytes in a name (an old Windows zip writes Latin-1); TensorFlow's
    string tensors must get the bytes, not a str it cannot encode."""
    class_folders(tmp_path, jpegs)
    latin1 = os.fsdecode(b"chat_\xe9t\xe9.jpg")
    write(tmp_path / "Cat" / latin1, jpegs["cat"][9])
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 4, "dog": 3} and dataset.skipped == []
    assert find_dataset(tmp_path, cache_dir=cache).items == dataset.items
    assert decoded_count(dataset.items) == 7


# --- one class: clear messages, and training never starts ---------------------------------


@pytest.mark.parametrize("only", ["Cat", "Dog"])
def test_a_folder_with_one_class_is_refused_by_name(tmp_path, jpegs, cache, only):
    for i in range(3):
        write(tmp_path / only / f"{i}.jpg", jpegs[only.lower()][i])
    missing = "dog" if only == "Cat" else "cat"
    with pytest.raises(CnnvizError, match=f"no {missing} photos"):
        find_dataset(tmp_path, cache_dir=cache)


def one_class_splits(dataset):
    cats = [item for item in dataset.items if item[1] == 0]
    dogs = [item for item in dataset.items if item[1] == 1]
    return {
        "training all cats": Split(train=cats[:4], val=cats[4:5] + dogs[:1], seed=1),
        "training all dogs": Split(train=dogs[:4], val=cats[:1] + dogs[4:5], seed=1),
        "validation all dogs": Split(train=cats[:2] + dogs[:2], val=dogs[4:6], seed=1),
        "no training photos": Split(train=[], val=cats[:1] + dogs[:1], seed=1),
    }


def test_training_never_starts_on_a_split_with_one_class(tiny_kaggle, tmp_path):
    import threading

    from cnnviz.jobs import TrainingJob
    from cnnviz.model import build_model, compile_model
    from cnnviz.training import train

    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path)
    model = compile_model(build_model())
    before = [w.copy() for w in model.get_weights()]
    threads = threading.active_count()
    for what, split in one_class_splits(dataset).items():
        words = "are missing" if what.startswith("no") else f"are all {what.split()[-1]}"
        with pytest.raises(CnnvizError, match=words):
            TrainingJob(model, split).start()
        with pytest.raises(CnnvizError, match=words):
            train(model, split)
    assert threading.active_count() == threads  # no epoch thread was started
    assert int(model.optimizer.iterations.numpy()) == 0
    assert all((a == b).all() for a, b in zip(before, model.get_weights()))


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
