"""Finding, validating and caching datasets: every supported layout, and every broken folder a
workshop brings gives a clear message or a line in the skipped-file report.

Folders are built here from copies of a few real photos, with broken files of the kinds the
public archives contain. Real files only: FIFOs, dangling and looping links, AppleDouble
litter, non-ASCII and non-UTF-8 names are made on disk; unreadable permissions are tested in
a subprocess that drops root's privileges (root reads every file whatever its mode).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cnnviz import dataset as dataset_module
from cnnviz.dataset import Dataset, find_dataset
from cnnviz.errors import CnnvizError
from cnnviz.pipeline import make_pipeline
from cnnviz.split import split_dataset
from tests.folders import NAMES, encoded_as_named, reencode, write
from tests.library.helpers import REPO

NOBODY = 65534


def _class_folders(root: Path, photos, cat="Cat", dog="Dog") -> Path:
    for folder, label in ((cat, "cat"), (dog, "dog")):
        for i, content in enumerate(photos[label]):
            write(root / folder / f"{i}.jpg", content)
    return root


def _labels_follow_names(dataset: Dataset) -> bool:
    return all(("dog" in Path(p).as_posix().lower()) == bool(label) for p, label in dataset.items)


def class_folders(root: Path, jpegs, n: int = 3) -> Path:
    for folder, label in (("Cat", "cat"), ("Dog", "dog")):
        for i in range(n):
            write(root / folder / f"{i}.jpg", jpegs[label][i])
    return root


def reasons(dataset, root: Path) -> dict[str, str]:
    return {Path(p).relative_to(root).as_posix(): r for p, r in dataset.skipped}


def decoded_count(items) -> int:
    return sum(int(x.shape[0]) for x, _ in make_pipeline(items, batch_size=8, cache=False))


# --- layouts ------------------------------------------------------------------------------


def test_kaggle_flat_layout(tiny_kaggle, cache):
    dataset = find_dataset(tiny_kaggle, cache_dir=cache)
    assert "Kaggle flat" in dataset.layout
    assert dataset.counts() == {"cat": 24, "dog": 24}
    assert dataset.items == sorted(dataset.items)
    assert all(os.path.isabs(p) for p, _ in dataset.items)
    assert all(int(Path(p).name.startswith("dog")) == label for p, label in dataset.items)
    assert set(dataset.digests) == {p for p, _ in dataset.items}
    assert dataset.skipped == []


@pytest.mark.parametrize("names", [("Cat", "Dog"), ("cats", "dogs"), ("CATS", "Dogs")])
def test_class_folders_any_case(tmp_path, photo_bytes, cache, names):
    root = _class_folders(tmp_path / "pets", photo_bytes, *names)
    dataset = find_dataset(root, cache_dir=cache)
    assert dataset.counts() == {"cat": 3, "dog": 3}
    assert names[0] in dataset.layout and names[1] in dataset.layout
    assert _labels_follow_names(dataset)


def test_extensions_match_in_any_case(tmp_path, photo_bytes, cache):
    jpeg = photo_bytes["cat"][0]
    files = {
        "a.JPG": jpeg,
        "b.Jpeg": jpeg,
        "c.PNG": reencode(jpeg, "PNG"),
        "d.bmp": reencode(jpeg, "BMP"),
        "e.WebP": reencode(jpeg, "WEBP"),
    }
    for name, content in files.items():
        write(tmp_path / "cats" / name, content)
    write(tmp_path / "dogs" / "x.jpeg", photo_bytes["dog"][0])
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 5, "dog": 1}
    assert dataset.skipped == []


def test_kaggle_download_folder_uses_train_not_test1(tmp_path, tiny_kaggle, photo_bytes, cache):
    shutil.copytree(tiny_kaggle, tmp_path / "train")
    write(tmp_path / "test1" / "1.jpg", photo_bytes["cat"][0])
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 24, "dog": 24}
    assert "train/" in dataset.layout and "test1/" in dataset.layout
    assert not any("test1" in p for p, _ in dataset.items + dataset.skipped)


def test_folder_holding_petimages(tmp_path, photo_bytes, cache):
    _class_folders(tmp_path / "PetImages", photo_bytes)
    write(tmp_path / "readme[1].txt", b"Microsoft's readme")
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 3, "dog": 3}
    assert "PetImages/" in dataset.layout


def test_unlabelled_and_non_image_files_in_a_flat_folder_are_skipped(tmp_path, tiny_kaggle, photo_bytes, cache):
    shutil.copytree(tiny_kaggle, tmp_path / "train")
    write(tmp_path / "train" / "1234.jpg", photo_bytes["cat"][0])
    write(tmp_path / "train" / "notes.txt", b"hello")
    dataset = find_dataset(tmp_path / "train", cache_dir=cache)
    reasons = {Path(p).name: r for p, r in dataset.skipped}
    assert "label is unknown" in reasons["1234.jpg"]
    assert "not an image file" in reasons["notes.txt"]
    assert dataset.counts() == {"cat": 24, "dog": 24}


# --- broken files -------------------------------------------------------------------------


def test_broken_files_are_skipped_with_reasons(tmp_path, photo_bytes, cache):
    root = _class_folders(tmp_path, photo_bytes)
    jpeg = photo_bytes["cat"][0]
    broken = {
        "Cat/666.jpg": b"",
        "Dog/11702.jpg": b"<html>this is not a photo</html>\n" * 20,
        "Cat/truncated.jpg": jpeg[: len(jpeg) // 2],
        "Cat/Thumbs.db": b"\xd0\xcf\x11\xe0 thumbnail cache",
        "Dog/scan.jpg": reencode(jpeg, "TIFF"),
        "Dog/palette.bmp": reencode(jpeg, "BMP", mode="P"),
    }
    for name, content in broken.items():
        write(root / name, content)
    write(root / "Dog" / "png-named.jpg", reencode(jpeg, "PNG"))  # not JFIF, but decodable: kept

    dataset = find_dataset(root, cache_dir=cache)
    reasons = {Path(p).relative_to(root).as_posix(): r for p, r in dataset.skipped}
    assert set(reasons) == set(broken)
    assert "empty" in reasons["Cat/666.jpg"]
    assert "not an image" in reasons["Dog/11702.jpg"]
    assert "truncated" in reasons["Cat/truncated.jpg"]
    assert "Thumbs.db" in reasons["Cat/Thumbs.db"]
    assert "TIFF" in reasons["Dog/scan.jpg"]
    assert "BMP" in reasons["Dog/palette.bmp"]
    assert dataset.counts() == {"cat": 3, "dog": 4}


@pytest.mark.timeout(30)
def test_symlink_loops_do_not_hang(tmp_path, photo_bytes, cache):
    root = _class_folders(tmp_path / "pets", photo_bytes)
    os.symlink(root / "Cat", root / "Cat" / "again")
    os.symlink(root, root / "Dog" / "up")
    os.symlink(tmp_path, tmp_path / "train")  # a parent folder that contains itself
    dataset = find_dataset(root, cache_dir=cache)
    assert dataset.counts() == {"cat": 3, "dog": 3}
    assert {Path(p).name: "not followed" in r for p, r in dataset.skipped} == {"again": True, "up": True}
    with pytest.raises(CnnvizError):
        find_dataset(tmp_path, cache_dir=cache)


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


def test_non_ascii_names_and_upper_case_extensions_train_like_any_other(tmp_path, jpegs, cache):
    for folder, names in NAMES.items():
        label = folder.lower()
        for i, name in enumerate(names):
            write(tmp_path / folder / name, encoded_as_named(jpegs[label][i], name))
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


# --- errors -------------------------------------------------------------------------------


def test_missing_path(tmp_path, cache):
    with pytest.raises(CnnvizError, match="no folder"):
        find_dataset(tmp_path / "nope", cache_dir=cache)


def test_a_file_is_not_a_folder(tiny_kaggle, cache):
    with pytest.raises(CnnvizError, match="is a file"):
        find_dataset(tiny_kaggle / "cat.0.jpg", cache_dir=cache)


def test_empty_folder(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CnnvizError, match="No cat or dog photos"):
        find_dataset(tmp_path / "empty", cache_dir=cache)


@pytest.mark.parametrize("layout", ["flat", "folders"])
def test_only_cats_says_dogs_are_missing(tmp_path, photo_bytes, cache, layout):
    for i, content in enumerate(photo_bytes["cat"]):
        write(tmp_path / (f"cat.{i}.jpg" if layout == "flat" else f"Cat/{i}.jpg"), content)
    with pytest.raises(CnnvizError, match="no dog photos"):
        find_dataset(tmp_path, cache_dir=cache)


def test_only_broken_dogs_says_dogs_are_missing(tmp_path, photo_bytes, cache):
    _class_folders(tmp_path, {"cat": photo_bytes["cat"], "dog": [b"", b"not a jpeg"]})
    with pytest.raises(CnnvizError, match="3 cat photos but no dog photos"):
        find_dataset(tmp_path, cache_dir=cache)


@pytest.mark.parametrize("only", ["Cat", "Dog"])
def test_a_folder_with_one_class_is_refused_by_name(tmp_path, jpegs, cache, only):
    for i in range(3):
        write(tmp_path / only / f"{i}.jpg", jpegs[only.lower()][i])
    missing = "dog" if only == "Cat" else "cat"
    with pytest.raises(CnnvizError, match=f"no {missing} photos"):
        find_dataset(tmp_path, cache_dir=cache)


# --- progress and cache -------------------------------------------------------------------


@pytest.fixture()
def count_checks(monkeypatch) -> list[str]:
    checked = []
    check = dataset_module._check_file

    def counting(path):
        checked.append(path)
        return check(path)

    monkeypatch.setattr(dataset_module, "_check_file", counting)
    return checked


def test_second_scan_uses_the_cache(tiny_kaggle, cache, count_checks):
    first = find_dataset(tiny_kaggle, cache_dir=cache)
    assert len(count_checks) == 48
    count_checks.clear()
    calls = []
    second = find_dataset(tiny_kaggle, cache_dir=cache, progress=lambda d, t: calls.append((d, t)))
    assert count_checks == []
    assert second == first
    assert calls[-1] == (48, 48)
    assert [p.suffix for p in (cache / "scans").iterdir()] == [".json"]  # no temporary file left


def test_a_changed_file_is_checked_again(tmp_path, photo_bytes, cache, count_checks):
    root = _class_folders(tmp_path, photo_bytes)
    find_dataset(root, cache_dir=cache)
    count_checks.clear()
    (root / "Dog" / "2.jpg").write_bytes(b"")  # the new size invalidates its entry
    dataset = find_dataset(root, cache_dir=cache)
    assert count_checks == [str(root / "Dog" / "2.jpg")]
    assert dataset.skipped == [(str(root / "Dog" / "2.jpg"), "an empty file (0 bytes)")]


def test_a_damaged_cache_file_means_a_fresh_scan(tiny_kaggle, cache, count_checks):
    find_dataset(tiny_kaggle, cache_dir=cache)
    for f in (cache / "scans").iterdir():
        f.write_text("{not json")
    count_checks.clear()
    assert find_dataset(tiny_kaggle, cache_dir=cache).counts() == {"cat": 24, "dog": 24}
    assert len(count_checks) == 48


def test_cache_dir_defaults_to_the_environment(tiny_kaggle, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "env-cache"))
    find_dataset(tiny_kaggle)
    assert len(list((tmp_path / "env-cache" / "scans").glob("*.json"))) == 1


def test_progress_counts_up_to_the_total(tiny_kaggle, cache):
    calls = []
    find_dataset(tiny_kaggle, cache_dir=cache, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 48) and calls[-1] == (48, 48)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_many_files_are_checked_in_worker_processes(tiny_kaggle, cache, monkeypatch):
    monkeypatch.setattr(dataset_module, "_PARALLEL_FROM", 10)
    monkeypatch.setattr(dataset_module, "_CHUNK", 5)
    parallel = find_dataset(tiny_kaggle, cache_dir=cache / "a")
    monkeypatch.setattr(dataset_module, "_PARALLEL_FROM", 10**9)
    assert parallel == find_dataset(tiny_kaggle, cache_dir=cache / "b")


def test_scanning_does_not_import_tensorflow():
    code = "import sys, cnnviz.dataset, cnnviz.split; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- photo names --------------------------------------------------------------------------


def test_photos_are_named_relative_to_their_root_and_the_seen_ones_left_out(tmp_path):
    from cnnviz.dataset import photo_names, unseen

    root = tmp_path / "PetImages"
    items = [(str(root / "Cat" / "1.jpg"), 0), (str(root / "Dog" / "1.jpg"), 1), (str(root / "Dog" / "2.jpg"), 1)]
    assert photo_names(items, root) == ["Cat/1.jpg", "Dog/1.jpg", "Dog/2.jpg"]
    kept, left_out = unseen(items, root, frozenset({"Dog/1.jpg", "cat.1.jpg"}))
    assert kept == [items[0], items[2]] and left_out == 1
    assert unseen(items, root, frozenset()) == (items, 0)
