"""Splitting a dataset: the same split for the same seed, balanced and disjoint, duplicates on one
side, scaled down (and saying so) for a small folder, and the real train/ folder at the
default sizes."""

from pathlib import Path

import pytest

from cnnviz.dataset import Dataset, find_dataset
from cnnviz.errors import CnnvizError
from cnnviz.split import split_dataset


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


def test_keys_name_the_photos_not_the_objects():
    dataset = _synthetic(500, 500)
    a, b = split_dataset(dataset, 400, 200, seed=13), split_dataset(dataset, 400, 200, seed=13)
    assert a is not b and a.key == b.key  # a memo made for one serves the other
    assert split_dataset(dataset, 400, 200, seed=14).key != a.key
    assert split_dataset(dataset, 400, 100, seed=13).key != a.key
    assert dataset.key == _synthetic(500, 500).key != _synthetic(500, 499).key


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


@pytest.mark.slow
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
