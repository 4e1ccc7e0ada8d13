"""Finding, validating, caching and splitting datasets, and the tf.data pipeline.

Folders of every supported layout are built here from copies of a few real photos, with
broken files of the kinds the public archives contain.
"""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz import dataset as dataset_module
from cnnviz.dataset import Dataset, find_dataset
from cnnviz.pipeline import make_pipeline
from cnnviz.split import split_dataset
from cnnviz.errors import CnnvizError


@pytest.fixture(scope="module")
def photo_bytes(data_root) -> dict[str, list[bytes]]:
    """Three real JPEGs per class."""
    train = data_root / "train"
    return {c: [(train / f"{c}.{i}.jpg").read_bytes() for i in range(3)] for c in ("cat", "dog")}


@pytest.fixture()
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _class_folders(root: Path, photos, cat="Cat", dog="Dog") -> Path:
    for folder, label in ((cat, "cat"), (dog, "dog")):
        for i, content in enumerate(photos[label]):
            _write(root / folder / f"{i}.jpg", content)
    return root


def _reencode(jpeg: bytes, fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert(mode).save(out, fmt)
    return out.getvalue()


def _labels_follow_names(dataset: Dataset) -> bool:
    return all(("dog" in Path(p).as_posix().lower()) == bool(label) for p, label in dataset.items)


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
        "c.PNG": _reencode(jpeg, "PNG"),
        "d.bmp": _reencode(jpeg, "BMP"),
        "e.WebP": _reencode(jpeg, "WEBP"),
    }
    for name, content in files.items():
        _write(tmp_path / "cats" / name, content)
    _write(tmp_path / "dogs" / "x.jpeg", photo_bytes["dog"][0])
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 5, "dog": 1}
    assert dataset.skipped == []


def test_kaggle_download_folder_uses_train_not_test1(tmp_path, tiny_kaggle, photo_bytes, cache):
    shutil.copytree(tiny_kaggle, tmp_path / "train")
    _write(tmp_path / "test1" / "1.jpg", photo_bytes["cat"][0])
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 24, "dog": 24}
    assert "train/" in dataset.layout and "test1/" in dataset.layout
    assert not any("test1" in p for p, _ in dataset.items + dataset.skipped)


def test_folder_holding_petimages(tmp_path, photo_bytes, cache):
    _class_folders(tmp_path / "PetImages", photo_bytes)
    _write(tmp_path / "readme[1].txt", b"Microsoft's readme")
    dataset = find_dataset(tmp_path, cache_dir=cache)
    assert dataset.counts() == {"cat": 3, "dog": 3}
    assert "PetImages/" in dataset.layout


def test_unlabelled_and_non_image_files_in_a_flat_folder_are_skipped(tmp_path, tiny_kaggle, photo_bytes, cache):
    shutil.copytree(tiny_kaggle, tmp_path / "train")
    _write(tmp_path / "train" / "1234.jpg", photo_bytes["cat"][0])
    _write(tmp_path / "train" / "notes.txt", b"hello")
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
        "Dog/scan.jpg": _reencode(jpeg, "TIFF"),
        "Dog/palette.bmp": _reencode(jpeg, "BMP", mode="P"),
    }
    for name, content in broken.items():
        _write(root / name, content)
    _write(root / "Dog" / "png-named.jpg", _reencode(jpeg, "PNG"))  # not JFIF, but decodable: kept

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


# Unreadable files and folders: tests/test_robustness_data.py, as a user who is not root.


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
        _write(tmp_path / (f"cat.{i}.jpg" if layout == "flat" else f"Cat/{i}.jpg"), content)
    with pytest.raises(CnnvizError, match="no dog photos"):
        find_dataset(tmp_path, cache_dir=cache)


def test_only_broken_dogs_says_dogs_are_missing(tmp_path, photo_bytes, cache):
    _class_folders(tmp_path, {"cat": photo_bytes["cat"], "dog": [b"", b"not a jpeg"]})
    with pytest.raises(CnnvizError, match="3 cat photos but no dog photos"):
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


# --- splitting ----------------------------------------------------------------------------


def _synthetic(cats: int, dogs: int, duplicates: dict[str, str] | None = None) -> Dataset:
    """A Dataset without files: split_dataset only reads items and digests."""
    items = [(f"/d/cat.{i}.jpg", 0) for i in range(cats)] + [(f"/d/dog.{i}.jpg", 1) for i in range(dogs)]
    digests = {p: f"sha-{p}" for p, _ in items}
    for copy, original in (duplicates or {}).items():
        digests[copy] = digests[original]
    return Dataset(Path("/d"), "synthetic", sorted(items), [], digests)


def _per_class(items):
    return [sum(1 for _, label in items if label == c) for c in (0, 1)]


def test_split_is_deterministic_per_seed():
    dataset = _synthetic(500, 500)
    a, b = split_dataset(dataset, 400, 200, seed=13), split_dataset(dataset, 400, 200, seed=13)
    assert a == b
    assert split_dataset(dataset, 400, 200, seed=14).train != a.train


def test_split_is_balanced_and_disjoint():
    split = split_dataset(_synthetic(700, 300), 400, 160)
    assert _per_class(split.train) == [200, 200]
    assert _per_class(split.val) == [80, 80]
    assert not {p for p, _ in split.train} & {p for p, _ in split.val}
    assert split.note is None and split.seed == 13


def test_duplicates_stay_on_one_side():
    # Forty photos with a byte-identical copy each, and one photo filed as both cat and dog.
    duplicates = {f"/d/cat.{i + 100}.jpg": f"/d/cat.{i}.jpg" for i in range(20)}
    duplicates |= {f"/d/dog.{i + 100}.jpg": f"/d/dog.{i}.jpg" for i in range(20)}
    duplicates["/d/dog.150.jpg"] = "/d/cat.150.jpg"
    dataset = _synthetic(200, 200, duplicates)
    for seed in range(30):
        split = split_dataset(dataset, 200, 140, seed=seed)
        train = {dataset.digests[p] for p, _ in split.train}
        val = {dataset.digests[p] for p, _ in split.val}
        assert not train & val
        assert _per_class(split.train) == [100, 100] and _per_class(split.val) == [70, 70]


def test_small_folder_scales_both_sizes_and_says_so():
    split = split_dataset(_synthetic(10_000, 10_000))
    assert (len(split.train), len(split.val)) == (14_284, 5_714)
    assert split.note == (
        "The folder holds 10,000 cats and 10,000 dogs; using 14,284 train and 5,714 validation "
        "images (asked for 16,000 and 6,400)."
    )


def test_the_smaller_class_sets_the_scale():
    split = split_dataset(_synthetic(30, 9), 20, 10)
    assert _per_class(split.train) == [6, 6] and _per_class(split.val) == [3, 3]
    assert "30 cats and 9 dogs" in split.note


def test_split_errors():
    with pytest.raises(CnnvizError, match="at least 2"):
        split_dataset(_synthetic(10, 10), 1, 4)
    with pytest.raises(CnnvizError, match="no dog photos"):
        split_dataset(_synthetic(10, 0))
    with pytest.raises(CnnvizError, match="too few"):
        split_dataset(_synthetic(10, 1))


def test_real_train_folder_at_default_sizes(data_root, request, tmp_path):
    # The pytest cache keeps the scan between runs: only the first run checks 20,000 files.
    pytest_cache = getattr(request.config, "cache", None)
    data_root = data_root.resolve()
    dataset = find_dataset(data_root, cache_dir=Path(pytest_cache.mkdir("cnnviz-scans")) if pytest_cache else tmp_path)
    assert dataset.counts() == {"cat": 10_000, "dog": 10_000}
    assert "train/" in dataset.layout
    split = split_dataset(dataset)
    assert (len(split.train), len(split.val)) == (14_284, 5_714)
    assert _per_class(split.train) == [7_142, 7_142] and _per_class(split.val) == [2_857, 2_857]
    assert "using 14,284 train and 5,714 validation images" in split.note
    sides = {Path(p).name: side for side, items in (("t", split.train), ("v", split.val)) for p, _ in items}
    for a, b in (("cat.6143.jpg", "cat.6204.jpg"), ("dog.2027.jpg", "dog.3082.jpg")):
        assert dataset.digests[str(data_root / "train" / a)] == dataset.digests[str(data_root / "train" / b)]
        assert sides.get(a, "unused") == sides.get(b, "unused")


# --- the tf.data pipeline -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_items(tiny_kaggle) -> list[tuple[str, int]]:
    return find_dataset(tiny_kaggle, cache_dir=tiny_kaggle.parent / "cache").items


def _arrays(ds):
    pairs = [(x.numpy(), y.numpy()) for x, y in ds]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def test_batches_are_unit_range_float_with_matching_labels(tiny_items):
    batch, labels = next(iter(make_pipeline(tiny_items, batch_size=8)))
    assert batch.shape == (8, 150, 150, 3) and batch.dtype.name == "float32"
    assert labels.shape == (8,) and labels.dtype.name == "float32"
    assert float(batch.numpy().min()) >= 0 and float(batch.numpy().max()) <= 1
    images, labels = _arrays(make_pipeline(tiny_items, batch_size=8))
    assert images.shape[0] == 48
    assert labels.tolist() == [float(label) for _, label in tiny_items]
    assert labels.tolist() == [float(Path(p).name.startswith("dog")) for p, _ in tiny_items]


def test_training_shuffles_every_photo_once_per_epoch(tiny_items):
    reference, _ = _arrays(make_pipeline(tiny_items, batch_size=8))
    ds = make_pipeline(tiny_items, batch_size=8, training=True)
    first, second = _arrays(ds)[0], _arrays(ds)[0]
    key = lambda images: sorted(images.reshape(len(images), -1).sum(axis=1).round(3).tolist())  # noqa: E731
    assert key(first) == key(second) == key(reference)
    assert not np.array_equal(first, reference) and not np.array_equal(first, second)


def test_augmentation_alters_training_images_only(tiny_items):
    plain = _arrays(make_pipeline(tiny_items, batch_size=8, training=True, seed=5))[0]
    augmented = _arrays(make_pipeline(tiny_items, batch_size=8, training=True, augment=True, seed=5))[0]
    assert augmented.shape == plain.shape
    assert np.abs(augmented - plain).mean() > 0.02
    assert float(augmented.min()) >= 0 and float(augmented.max()) <= 1
    validation = _arrays(make_pipeline(tiny_items, batch_size=8, augment=True))[0]
    assert np.array_equal(validation, _arrays(make_pipeline(tiny_items, batch_size=8))[0])


def test_without_the_memory_cache_the_pixels_are_the_same(tiny_items):
    cached = _arrays(make_pipeline(tiny_items[:10], batch_size=4))[0]
    assert np.array_equal(cached, _arrays(make_pipeline(tiny_items[:10], batch_size=4, cache=False))[0])


def test_a_file_gone_since_the_scan_is_dropped_not_fatal(tiny_items, tmp_path, photo_bytes):
    png = _write(tmp_path / "cat.png-inside.jpg", _reencode(photo_bytes["cat"][0], "PNG"))
    items = [(str(png), 0), (str(tmp_path / "vanished.jpg"), 1)] + tiny_items[:2]
    images, labels = _arrays(make_pipeline(items, batch_size=2))
    assert images.shape[0] == 3 and labels.tolist() == [0.0] + [float(label) for _, label in tiny_items[:2]]


def test_no_items_is_a_clear_error():
    with pytest.raises(CnnvizError, match="no images"):
        make_pipeline([])


def test_pipeline_pixels_match_the_single_photo_path(cat_photo):
    images = pytest.importorskip("cnnviz.images")
    expected = images.load_photo(cat_photo).network_input
    batch, _ = next(iter(make_pipeline([(str(cat_photo), 0)], batch_size=1)))
    assert np.abs(batch.numpy()[0] - expected).mean() < 0.03


def test_photos_are_named_relative_to_their_root_and_the_seen_ones_left_out(tmp_path):
    from cnnviz.dataset import photo_names, unseen

    root = tmp_path / "PetImages"
    items = [(str(root / "Cat" / "1.jpg"), 0), (str(root / "Dog" / "1.jpg"), 1), (str(root / "Dog" / "2.jpg"), 1)]
    assert photo_names(items, root) == ["Cat/1.jpg", "Dog/1.jpg", "Dog/2.jpg"]
    kept, left_out = unseen(items, root, frozenset({"Dog/1.jpg", "cat.1.jpg"}))
    assert kept == [items[0], items[2]] and left_out == 1
    assert unseen(items, root, frozenset()) == (items, 0)

