"""A training run as cnnviz.runs runs it: one rule for validation photos the weights have seen,
the card its best epoch is saved with, a resume that continues the count, the split rebuilt."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cnnviz.cards import card_path, make_card, make_recipe
from cnnviz.dataset import find_dataset, photo_names
from cnnviz.split import Split
from cnnviz.errors import CnnvizError
from cnnviz.model import build_model, save_weights
from cnnviz.runs import Run, RunOptions, check_out, exclude, unseen_validation, validation_of


def _split(root: Path) -> Split:
    train = [(str(root / f"cat.{i}.jpg"), 0) for i in range(4)] + [(str(root / f"dog.{i}.jpg"), 1) for i in range(4)]
    val = [(str(root / f"cat.{i}.jpg"), 0) for i in range(4, 7)] + [(str(root / f"dog.{i}.jpg"), 1) for i in range(4, 7)]
    return Split(train, val, seed=5, note="asked for more")


def test_unseen_validation_leaves_out_seen_validation_photos_and_says_how_many(tmp_path):
    split = _split(tmp_path)
    narrowed, left_out = unseen_validation(split, tmp_path, frozenset({"cat.4.jpg", "dog.6.jpg", "cat.0.jpg", "elsewhere.jpg"}))
    assert left_out == 2
    assert photo_names(narrowed.val, tmp_path) == ["cat.5.jpg", "cat.6.jpg", "dog.4.jpg", "dog.5.jpg"]
    assert narrowed.train == split.train  # a training photo seen before is trained on again, never validated on
    assert (narrowed.seed, narrowed.note) == (split.seed, split.note)


def test_unseen_validation_keeps_the_split_itself_when_nothing_or_nothing_known_was_seen(tmp_path):
    split = _split(tmp_path)
    assert unseen_validation(split, tmp_path, frozenset({"cat.0.jpg"})) == (split, 0)
    assert unseen_validation(split, tmp_path, frozenset())[0] is split
    unknown, left_out = unseen_validation(split, tmp_path, None)
    assert unknown is split and left_out is None


def test_out_must_be_a_weight_file_other_than_the_starting_one(tmp_path):
    with pytest.raises(CnnvizError, match="must name a .weights.h5 file"):
        check_out(RunOptions(out=tmp_path / "best.h5"))
    start = tmp_path / "start.weights.h5"
    with pytest.raises(CnnvizError, match="another file than --weights"):
        check_out(RunOptions(weights=start, out=tmp_path / "." / start.name))
    check_out(RunOptions(weights=start, out=tmp_path / "next.weights.h5"))


def test_validation_of_a_file_without_a_card_with_its_split_is_one_clear_error(tmp_path, tiny_kaggle):
    bare = tmp_path / "bare.weights.h5"
    bare.write_bytes(b"weights")
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path / "cache")
    with pytest.raises(CnnvizError, match="bare.weights.h5 has no card with its split"):
        validation_of(dataset, bare)


@pytest.mark.slow
def test_a_run_saves_its_best_epoch_with_a_full_card_and_resumes_from_its_checkpoint(tmp_path, tiny_kaggle):
    kept_for_test = tmp_path / "originals"
    kept_for_test.mkdir()
    (kept_for_test / sorted(p.name for p in tiny_kaggle.glob("cat.*"))[0]).write_bytes(b"")
    dataset, held_out = exclude(find_dataset(tiny_kaggle, cache_dir=tmp_path / "cache"), kept_for_test)
    assert len(held_out) == 1 and dataset.counts() == {"cat": 23, "dog": 24}
    out, checkpoint = tmp_path / "best.weights.h5", tmp_path / "run"
    options = RunOptions(train_samples=30, val_samples=14, batch_size=8, out=out, checkpoint=checkpoint, seed=3)
    said, epochs, batches = [], [], []
    run = Run(dataset, options, held_out=held_out, say=said.append)
    run.train(on_batch=batches.append, on_epoch=lambda result, rate: epochs.append((result.epoch, rate)))
    assert epochs == [(1, pytest.approx(1e-3))] and [b.batch for b in batches] == [1, 2, 3, 4]
    assert "training on 30 images, validating on 14 (seed 3)" in said and f"saved {out} (epoch 1)" in said

    card = json.loads(card_path(out).read_text())
    like = make_card(dataset=dataset, split=run.split, history=run.history, recipe=make_recipe(learning_rate=1e-3, batch_size=8, augment=False), trained_on=[], saved_from="")
    assert set(like) <= set(card) and {"sha256", "architecture", "parameters", "created"} <= set(card)
    assert card["best_epoch"] == 1 and card["started_from"] is None and card["data"]["held_out"] == held_out
    assert card["trained_on"] == sorted(photo_names(run.split.train, dataset.root))
    assert card["validation"]["n"] == 14 and card["recipe"]["batch_size"] == 8

    # The same run asked for 2 epochs in all trains only the second, from the checkpoint.
    said.clear()
    resumed = Run(dataset, replace(options, epochs=2), held_out=held_out, say=said.append)
    assert f"resuming from {checkpoint} after epoch 1" in said and len(resumed.history) == 1
    resumed.train(on_epoch=lambda result, rate: epochs.append((result.epoch, rate)))
    assert [e for e, _ in epochs] == [1, 2]
    assert [h["epoch"] for h in json.loads((checkpoint / "state.json").read_text())["history"]] == [1, 2]

    # validation_of rebuilds the split the file was chosen on from its card, the held-out photo included.
    rebuilt, left_out = validation_of(find_dataset(tiny_kaggle, cache_dir=tmp_path / "cache"), out)
    assert rebuilt.val == run.split.val and left_out == 0


def test_a_restart_from_weights_trained_on_every_validation_photo_is_refused_before_training(tmp_path, tiny_kaggle):
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path / "cache")
    start = tmp_path / "start.weights.h5"
    save_weights(build_model(), start, {"trained_on": photo_names(dataset.items, dataset.root)})
    said = []
    with pytest.raises(CnnvizError, match="start.weights.h5 was trained on every one of this split's validation photos"):
        Run(dataset, RunOptions(train_samples=32, val_samples=16, weights=start), say=said.append)
    assert "left out 16 of the split's 16 validation photos: start.weights.h5 was trained on them (its card lists them)" in said
