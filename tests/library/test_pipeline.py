"""The tf.data pipeline: unit-range float batches with matching labels, a shuffle per epoch,
augmentation of training images only, and a file gone since the scan dropped, not fatal.

Its decoded-image cache: the same pixels as the plain pipeline, no JPEG read twice, shared
between splits of the same photos as pixels only, and freed when no split holds it."""

import gc
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from cnnviz import pipeline
from cnnviz.dataset import find_dataset
from cnnviz.errors import CnnvizError
from cnnviz.pipeline import DecodedImages, cached_pipeline, decoded_images, make_pipeline
from cnnviz.split import split_dataset
from cnnviz.model import build_model, compile_model
from cnnviz.training import train
from tests.folders import reencode, write


@pytest.fixture(scope="module")
def tiny_items(tiny_kaggle):
    return find_dataset(tiny_kaggle, cache_dir=tiny_kaggle.parent / "cache").items


def _arrays(ds):
    pairs = [(x.numpy(), y.numpy()) for x, y in ds]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


# --- the tf.data pipeline -----------------------------------------------------------------


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
    png = write(tmp_path / "cat.png-inside.jpg", reencode(photo_bytes["cat"][0], "PNG"))
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


# --- the decoded-image cache --------------------------------------------------------------


def test_cached_batches_equal_the_pipelines_pixels_and_labels(tiny_items):
    reference = _arrays(make_pipeline(tiny_items, batch_size=8, cache=False))
    decoded = DecodedImages(tiny_items)
    first = _arrays(cached_pipeline(decoded, batch_size=8))  # decodes
    again = _arrays(cached_pipeline(decoded, batch_size=8))  # reads the cache only
    for got in (first, again):
        assert np.array_equal(got[0], reference[0]) and np.array_equal(got[1], reference[1])
    assert decoded.ready.all()


def test_a_training_order_is_a_permutation_that_changes_with_its_seed(tiny_items):
    decoded = DecodedImages(tiny_items)
    reference, _ = _arrays(cached_pipeline(decoded, batch_size=8))
    one, labels = _arrays(cached_pipeline(decoded, batch_size=8, order_seed=(13, 1)))
    two, _ = _arrays(cached_pipeline(decoded, batch_size=8, order_seed=(13, 2)))
    key = lambda images: sorted(images.reshape(len(images), -1).sum(axis=1).round(3).tolist())  # noqa: E731
    assert key(one) == key(two) == key(reference)
    assert not np.array_equal(one, reference) and not np.array_equal(one, two)
    assert np.array_equal(one, _arrays(cached_pipeline(decoded, batch_size=8, order_seed=(13, 1)))[0])
    assert sorted(labels.tolist()) == sorted(float(label) for _, label in tiny_items)


@pytest.mark.slow
def test_each_photo_is_decoded_once_across_epochs_and_calls(tiny_kaggle, tmp_path):
    split = split_dataset(find_dataset(tiny_kaggle, cache_dir=tmp_path), train_size=16, val_size=8)
    decoded_paths = []
    real = pipeline._decode_stream

    def counting(paths, indices):
        decoded_paths.extend(paths)
        yield from real(paths, indices)

    model = compile_model(build_model())
    with mock.patch.object(pipeline, "_decode_stream", counting):
        train(model, split, epochs=2, batch_size=8)
        train(model, split, epochs=1, batch_size=8, first_epoch=3)  # the app's next "Train one epoch"
    assert sorted(decoded_paths) == sorted(path for path, _ in split.train + split.val)


@pytest.mark.slow
def test_same_photos_share_pixels_and_nothing_else(tiny_kaggle, tmp_path):
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path)
    mine, yours = (split_dataset(dataset, train_size=16, val_size=8) for _ in range(2))
    my_model, your_model = compile_model(build_model()), compile_model(build_model())
    yours_before = [w.copy() for w in your_model.get_weights()]
    train(my_model, mine, epochs=1, batch_size=8)
    assert mine.decoded["train"] is decoded_images(yours.train)  # the same pixels, decoded once
    held = mine.decoded["train"]
    assert set(vars(held)) == {"paths", "labels", "images", "ready"}  # pixels, labels, paths: no model
    assert not any(isinstance(v, type(my_model)) for v in vars(held).values())
    assert all(np.array_equal(a, b) for a, b in zip(yours_before, your_model.get_weights()))
    other = split_dataset(dataset, train_size=16, val_size=8, seed=5)
    assert decoded_images(other.train) is not held  # another split, other photos or order


@pytest.mark.slow
def test_the_pixels_are_freed_when_no_split_holds_them(tiny_kaggle, tmp_path):
    split = split_dataset(find_dataset(shutil.copytree(tiny_kaggle, tmp_path / "own"), cache_dir=tmp_path), 16, 8)
    train(compile_model(build_model()), split, epochs=1, batch_size=8)
    gc.collect()  # splits earlier tests left for the collector go first, so only this one is counted
    key_count = len(pipeline._decoded_shared)
    assert split.decoded["train"].ready.all()
    del split
    gc.collect()
    assert len(pipeline._decoded_shared) == key_count - 2  # the training and validation sides


def test_a_photo_gone_before_decoding_is_dropped_like_the_pipeline_does(tiny_items, tmp_path):
    gone = [(str(tmp_path / "vanished.jpg"), 1)]
    mixed = tiny_items[:3] + gone + tiny_items[3:5]
    images, labels = _arrays(cached_pipeline(DecodedImages(mixed), batch_size=2))
    reference, ref_labels = _arrays(make_pipeline(mixed, batch_size=2, cache=False))
    assert images.shape[0] == 5 and np.array_equal(images, reference) and np.array_equal(labels, ref_labels)


def test_two_epochs_decoding_the_same_photos_at_once_each_get_every_photo(tiny_items, tmp_path):
    """Two sessions' first epochs on one split share its DecodedImages: each decodes what was not
    ready when it began, and finds photos the other has decoded meanwhile. One running ahead of
    the other, each still gets every photo (one used to drop all the rest of its epoch, as if they
    could no longer be read), and an unreadable photo is still left out of both."""
    items = tiny_items[:9] + [(str(tmp_path / "vanished.jpg"), 0)] + tiny_items[9:16]
    decoded = DecodedImages(items)
    first, second = decoded.batches(range(len(items)), 2), decoded.batches(range(len(items)), 2)
    got = {"first": [next(first)[0]], "second": []}
    for _ in range(3):  # the second runs ahead, decoding photos the first has already queued
        got["second"].append(next(second)[0])
    got["first"] += [images for images, _ in first]  # the first catches up, past them, to the end
    got["second"] += [images for images, _ in second]
    readable = len(items) - 1
    for name, images in got.items():
        assert sum(len(b) for b in images) == readable, name
    assert np.array_equal(np.concatenate(got["first"]), np.concatenate(got["second"]))


def test_every_epoch_pipeline_runs_without_the_autotuner(tiny_items):
    """Its thread can hold an epoch's end for seconds (benchmarks/iterator_teardown.py)."""
    decoded = DecodedImages(tiny_items)
    pipelines = [
        make_pipeline(tiny_items, training=False),
        make_pipeline(tiny_items, training=True, augment=True),
        make_pipeline(tiny_items, cache=False),
        cached_pipeline(decoded, batch_size=8),
        cached_pipeline(decoded, batch_size=8, order_seed=(13, 1), augment=True),
    ]
    assert [ds.options().autotune.enabled for ds in pipelines] == [False] * len(pipelines)
    x, y = next(iter(pipelines[1]))  # and still delivers batches
    assert x.shape == (32, 150, 150, 3) and y.shape == (32,)


def test_validation_inputs_spread_over_both_classes(tiny_kaggle):
    """A split's validation list is sorted by name, cats first: a sample of it must not be all cats."""
    split = split_dataset(find_dataset(tiny_kaggle), 16, 16, 13)
    labels = [label for _, label in split.val]
    assert labels == sorted(labels), "the list this guards against: every cat before every dog"
    sample = pipeline.validation_inputs(split, 4)
    every = pipeline.validation_inputs(split, len(split.val))
    picked = [next(i for i, image in enumerate(every) if np.array_equal(image, chosen)) for chosen in sample]
    assert {labels[i] for i in picked} == {0, 1} and picked[0] == 0 and picked[-1] == len(labels) - 1
