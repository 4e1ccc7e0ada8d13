"""The session's model without Streamlit: its rules, its epochs, and the card a save writes."""

import re

import numpy as np
import pytest

from cnnviz import cli
from cnnviz.cards import card_epochs, card_trained_on, read_card
from cnnviz.dataset import find_dataset, photo_names
from cnnviz.split import split_dataset
from cnnviz.errors import CnnvizError
from cnnviz.model import build_model, frozen_parameters, load_default_model, save_weights
from cnnviz.compare import run_table
from cnnviz.session import RESET, UNTRAINED, EpochRunning, SessionModel, clean_name
from cnnviz.training import EpochResult


@pytest.fixture(scope="module")
def tiny(tiny_kaggle, tmp_path_factory):
    """(dataset, split): 32 training and 8 validation photos, seed 13."""
    dataset = find_dataset(tiny_kaggle, cache_dir=tmp_path_factory.mktemp("scan-cache"))
    return dataset, split_dataset(dataset, 32, 8, 13)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """A session after one real epoch, and the file it saved."""
    dataset, split = tiny
    session = SessionModel.untrained()
    assert session.start_epoch(split, dataset, batch_size=16).join(300)
    assert session.record()
    return session, session.save(tmp_path_factory.mktemp("saved"), "mine")


def weights(model):
    return [w.copy() for w in model.get_weights()]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_session_starts_untrained_and_resets_to_untrained():
    session = SessionModel.untrained()
    assert session.description == UNTRAINED and session.own is False and session.model.optimizer is not None
    assert session.trained_on == frozenset() and session.rows == [] and session.job is None
    assert session.next_epoch() == 1 and [s.label for s in session.snapshots()] == ["start"]

    session.own, session.trained_on, before = True, frozenset({"cat.1.jpg"}), session.model
    session.reset()
    assert session.model is not before and session.description == RESET
    assert session.own is False and session.trained_on == frozenset() and session.next_epoch() == 1


def test_loading_a_file_counts_on_from_its_card_and_a_bad_file_leaves_the_model(tmp_path):
    path = tmp_path / "parent.weights.h5"
    save_weights(build_model(), path, {"epochs": 3, "trained_on": ["cat.1.jpg", "dog.2.jpg"]})
    session = SessionModel.untrained()
    card = session.load(path, "the file parent.weights.h5")
    assert card["epochs"] == 3 and session.own is True
    assert session.description == "loaded from the file parent.weights.h5"
    assert session.next_epoch() == 4 and session.trained_on == {"cat.1.jpg", "dog.2.jpg"}
    assert session.started_from["file"] == "parent.weights.h5" and session.started_from["epochs"] == 3

    model, before = session.model, weights(session.model)
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"this is not HDF5")
    with pytest.raises(CnnvizError):
        session.load(bad, "bad")
    assert session.model is model and same(before, weights(model))
    assert session.description == "loaded from the file parent.weights.h5" and session.next_epoch() == 4


def test_the_next_epoch_validates_only_on_photos_the_model_never_trained_on(tiny):
    dataset, split = tiny
    session = SessionModel.untrained()
    assert session.epoch_split(split, dataset.root) == (split, 0)

    session.trained_on = frozenset(photo_names(split.val[:3], dataset.root))
    narrowed, left_out = session.epoch_split(split, dataset.root)
    assert left_out == 3 and narrowed.val == split.val[3:] and narrowed.train == split.train
    assert session.epoch_split(split, dataset.root)[0] is narrowed  # kept: its decoded photos are reused

    session.trained_on = None  # a file whose card does not say
    assert session.epoch_split(split, dataset.root) == (split, None)

    session.trained_on = frozenset(photo_names(split.val, dataset.root))
    with pytest.raises(CnnvizError, match="every validation photo"):
        session.start_epoch(split, dataset)
    assert session.job is None and session.own is False


def test_a_file_name_to_save_under_is_checked():
    assert clean_name(" my-cnn ") == "my-cnn.weights.h5"
    assert clean_name("v1.2_b.weights.h5") == "v1.2_b.weights.h5"
    for bad in ("", "../up", "a/b", ".hidden", "x" * 65, "spaced name"):
        with pytest.raises(CnnvizError, match="cannot be a file name"):
            clean_name(bad)


@pytest.mark.slow
def test_epochs_are_recorded_once_grow_the_trained_on_set_and_roll_back(tiny, tmp_path):
    dataset, split = tiny
    session = SessionModel.untrained()
    start = weights(session.model)
    job = session.start_epoch(split, dataset, batch_size=16)
    assert session.own and session.description == "being trained: epoch 1 is running"
    assert session.trained_on == frozenset(photo_names(split.train, dataset.root))  # from the start: a stop may follow
    if job.is_alive():
        for change in (lambda: session.load(tmp_path / "x.weights.h5", "x"), session.reset, lambda: session.save(tmp_path, "x")):
            with pytest.raises(EpochRunning):
                change()
        assert not session.record()
    assert job.join(300)
    assert session.record() and not session.record()  # polled again: not added twice
    (row,) = session.rows
    assert set(row) == set(EpochResult.__dataclass_fields__) | {"learning_rate", "state", "kept"} | {
        "optimizer", "batch_size", "augment", "photos"}
    assert (row["optimizer"], row["batch_size"], row["augment"], row["photos"]) == ("rmsprop", 16, False, 32)
    assert row["epoch"] == 1 and row["state"] == "finished" and row["kept"] and row["val_accuracy"] is not None
    assert row["learning_rate"] == pytest.approx(1e-3)
    assert session.description == "after epoch 1 (all 2 batches)" and session.next_epoch() == 2
    after = weights(session.model)
    assert same(session.start_first_layer, start[:2]) and same(session.first_layers[0], after[:2])

    stopped = session.start_epoch(split, dataset, batch_size=2)
    while stopped.status().batches_done < 1 and stopped.is_alive():
        stopped.join(0.01)
    stopped.stop()
    assert stopped.join(60)
    session.roll_back()  # records the stopped epoch first
    assert [r["kept"] for r in session.rows] == [True, False] and session.rows[1]["state"] == "stopped"
    assert same(after, weights(session.model))
    assert session.next_epoch() == 2 and session.description == "as it was at the start of epoch 2"
    assert [s.label for s in session.snapshots()] == ["start", "epoch 1"]  # the rolled-back epoch is left out

    # The run comparison keeps this run's curves, the rolled-back epoch's left out of what it draws.
    (run,) = session.runs
    assert [len(curve) for curve in run.curves] == [2, session.rows[1]["batches_done"]]
    assert run.curves[0][-1][0] == pytest.approx(1.0) and 1 < run.curves[1][0][0] < 2
    assert [row["epoch"] for row, _ in run.kept()] == [1]
    session.reset()  # a start that never trains is not a run to compare ...
    session.reset(1e-4)
    assert len(session.runs) == 2 and session.runs[-1].number == 2 and not session.rows
    assert session.start_epoch(split, dataset, batch_size=8).join(300) and session.record()
    first, second = run_table(session.runs)  # ... and one that did is kept beside the first
    assert (first["run"], first["learning rate"], first["batch size"], first["epochs"]) == (1, "1e-3", "16", 1)
    assert (second["run"], second["learning rate"], second["batch size"], second["epochs"]) == (2, "1e-4", "8", 1)
    assert second["best val_accuracy"] == session.rows[0]["val_accuracy"] and second["network"] == "tutorial"
    session.set_optimizer("adam")
    assert session.start_epoch(split, dataset, batch_size=8).join(300) and session.record()
    assert run_table(session.runs)[1]["optimizer"] == "RMSprop → Adam", "a setting changed within a run shows as a change"


@pytest.mark.slow
def test_a_saved_card_is_the_clis_and_evaluate_checks_its_validation_photos(trained, tiny, tiny_kaggle, capsys, monkeypatch, tmp_path):
    dataset, split = tiny
    session, path = trained
    card = read_card(path)
    assert card["data"]["seed"] == 13 and card["data"]["held_out"] == [] and card["split"] == {"train": 32, "val": 8}
    assert card["trained_on"] == sorted(photo_names(split.train, dataset.root))
    assert card["epochs"] == 1 and [h["epoch"] for h in card["history"]] == [1]
    assert "state" not in card["history"][0] and "kept" not in card["history"][0]
    assert card["recipe"]["batch_size"] == 16 and card["saved_from"] == "the cnnviz app's Training page"
    assert card["description"] == session.description and session.last_saved == path

    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    capsys.readouterr()
    assert cli.main(["evaluate", "--data", str(tiny_kaggle), "--validation-of", str(path), "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    assert "the validation side of mine.weights.h5's split: 8 photos (seed 13)" in out
    assert re.search(r"^accuracy: \d\.\d{4} \(n=8\)$", out, re.M), out
    assert f"accuracy: {session.rows[0]['val_accuracy']:.4f} (n=8)" in out  # the epoch's own figure


@pytest.mark.slow
def test_a_loaded_file_counts_its_epochs_in_the_next_card(trained, tiny, tmp_path):
    dataset, split = tiny
    _, path = trained
    session = SessionModel.untrained()
    session.load(path, "mine")
    assert session.next_epoch() == 2 and session.trained_on == set(read_card(path)["trained_on"])
    card = session.card(dataset, split)
    assert card["started_from"]["file"] == "mine.weights.h5" and card_epochs(card) == 1 and card["history"] == []
    with pytest.raises(CnnvizError, match="already exists"):  # another session's file
        session.save(path.parent, "mine", dataset, split)


@pytest.mark.slow
def test_the_apps_card_and_the_clis_have_the_same_keys(trained, tiny_kaggle, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cli.weights.h5"
    args = ["--train-samples", "32", "--val-samples", "8", "--batch-size", "16", "--epochs", "1", "--out", str(out)]
    assert cli.main(["train", "--data", str(tiny_kaggle), *args]) == 0
    app, cli_card = read_card(trained[1]), read_card(out)
    assert set(app["history"][0]) == set(cli_card["history"][0])
    assert set(app) == set(cli_card)



def test_a_finished_epochs_notes_explain_lagging_training_accuracy():
    from cnnviz.session import epoch_notes
    from cnnviz.training import EpochResult

    def result(accuracy, val_accuracy, val_loss):
        return EpochResult(1, 0.7, accuracy, val_loss, val_accuracy, 64, 10.0, 6.4, False, 2, 2)

    lagging = epoch_notes(result(0.61, 0.728, 0.55))
    assert len(lagging) == 1 and "61.0%" in lagging[0] and "72.8%" in lagging[0] and "dropout" in lagging[0]
    assert epoch_notes(result(0.8, 0.75, 0.5)) == []  # nothing to explain
    # a collapse is not guessed from the figures: SessionModel.stall measures it (tests/library/test_stall.py)
    assert epoch_notes(result(0.5, 0.5, 0.6931)) == []
    assert epoch_notes(result(0.5, None, None)) == []  # stopped before validation


def test_an_epochs_measured_rates_estimate_another_size_and_a_loaded_files_rate_is_compared():
    from cnnviz.model import compile_model

    mine = SessionModel(compile_model(build_model(), 1e-3), "test")
    assert mine.epoch_seconds(16_000, 6_400) is None  # nothing measured yet
    mine.split = split_dataset(_synthetic_dataset(), 8, 4, 13)
    mine.rows = [{"epoch": 3, "images": 100, "images_per_second": 50.0, "seconds": 4.0, "val_accuracy": 0.6, "kept": True}]
    # 2 s training 100 photos, 2 s validating 4: 1,000 / 50 + 10 x 0.5
    assert mine.epoch_seconds(1_000, 10) == (pytest.approx(25.0), 3)
    assert mine.rate_jump() is None  # no parent: nothing to compare with
    mine.started_from = {"epochs": 1, "history": [{"epoch": 1, "learning_rate": 1e-4}, {"epoch": 2, "learning_rate": 1e-5}]}
    assert mine.rate_jump() == (pytest.approx(1e-3), pytest.approx(1e-5))
    mine.started_from["history"][-1]["learning_rate"] = 5e-4
    assert mine.rate_jump() is None  # 2x is not a jump


def _synthetic_dataset():
    from pathlib import Path

    from cnnviz.dataset import Dataset

    items = sorted([(f"/d/cat.{i}.jpg", 0) for i in range(8)] + [(f"/d/dog.{i}.jpg", 1) for i in range(8)])
    return Dataset(Path("/d"), "synthetic", items, [], {p: p for p, _ in items})


@pytest.mark.slow
def test_a_transfer_run_trains_only_the_head_and_validates_beside_its_random_twin(tiny, tmp_path):
    """The shipped convolutions, frozen, under a fresh head; then the same head on random frozen
    convolutions. An epoch changes the head only, and both leave out the shipped file's photos."""
    dataset, split = tiny
    shipped, card = load_default_model()
    shipped_before = weights(shipped)
    session = SessionModel.untrained()
    for source in (shipped, None):
        session.transfer(source, card)
        start = session.model.get_weights()
        if source is not None:
            assert same(start[:6], shipped_before[:6]), "the convolutions are the shipped ones"
        assert session.start_epoch(split, dataset, batch_size=16).join(300) and session.record()
        after = session.model.get_weights()
        assert same(after[:6], start[:6]), "the three convolutions' kernels and biases did not move"
        assert not any(np.array_equal(a, b) for a, b in zip(after[6:], start[6:])), "every head weight moved"
        assert session.trained_on >= card_trained_on(card)
    assert same(weights(shipped), shipped_before), "the shared shipped model is only read"
    learned, random = run_table(session.runs)
    assert learned["start"] == "shipped convolutions, frozen" and random["start"] == "random convolutions, frozen"
    assert learned["parameters trained"] == random["parameters trained"] == "5,017,729 of 5,046,369"
    session.reset()
    assert frozen_parameters(session.model) == 0, "a reset trains the whole network again"
