"""The Training page under streamlit.testing: real epochs on tiny folders of real photos.

Saving, resetting and loading weights; bad, foreign and booby-trapped weight files refused
with the model untouched; an epoch stopped and rolled back, rerun over, left for another
page, or failed by its photos vanishing, each time with the model consistent and the page
saying which state it is in; validation that leaves out the photos loaded weights were
trained on; and how the first layer moved.

Stop mid-epoch is also tested in tests/library/test_jobs.py and the browser tour; the browser
tab closed mid-epoch in tests/browser/test_closed_tab_and_uploader.py.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.cards import card_path
from cnnviz.dataset import unseen
import cnnviz.runs
from cnnviz.model import build_model, save_weights
from cnnviz.session import SessionModel
from tests.app.helpers import APP, assert_no_exception, open_page, plotly_array, plotly_specs, seen_by_the_shipped_weights, split_of, texts
from tests.appserver import copy_photos
from tests.folders import only_cats

PAGE = "cnnviz_app/pages/training.py"


@pytest.fixture(scope="module")
def small_folder(tiny_kaggle, tmp_path_factory) -> Path:
    """16 cats and 16 dogs: the workshop split scales down to 22 training and 8 validation photos."""
    return copy_photos(tiny_kaggle, tmp_path_factory.mktemp("small") / "train", per_class=16)


@pytest.fixture
def env(monkeypatch, tmp_path, small_folder):
    monkeypatch.setenv("CNNVIZ_DATA", str(small_folder))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def photos(data_root, tmp_path) -> Path:
    """150 cats and 150 dogs: the workshop split scales down to 214 / 84, 7 batches of 32."""
    folder = tmp_path / "train"
    folder.mkdir()
    for label in ("cat", "dog"):
        for i in range(150):
            shutil.copy(data_root / "train" / f"{label}.{i}.jpg", folder)
    return folder


@pytest.fixture
def training(monkeypatch, tmp_path, photos) -> AppTest:
    monkeypatch.setenv("CNNVIZ_DATA", str(photos))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    return at


def open_training() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def messages(at: AppTest) -> str:
    """What the page says in text and messages (not its titles): markdown, captions, success, info, warning, error."""
    parts = [e.value for kind in (at.markdown, at.caption, at.success, at.info, at.warning, at.error) for e in kind]
    return "\n".join(str(p) for p in parts)


def epochs_table(at: AppTest):
    """The current run's epochs, as the page tables them."""
    return next(frame.value for frame in at.dataframe if "epoch" in frame.value.columns)


def runs_table(at: AppTest):
    """Your runs, compared: one row per run."""
    return next(frame.value for frame in at.dataframe if "run" in frame.value.columns)


def weights(model):
    return [w.copy() for w in model.get_weights()]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def click_train(at: AppTest, epochs: int = 1) -> AppTest:
    """Set the epochs a click runs (the workshop's default is more than one), then click Train."""
    at.number_input(key="training_epochs_per_click").set_value(epochs).run()
    return at.button(key="training_train").click().run()


def train_one_epoch(at: AppTest, timeout: float = 300) -> AppTest:
    click_train(at)
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["session"].job
    deadline = time.monotonic() + timeout
    while job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job.is_alive(), "the epoch did not end"
    at.run()  # what the polling fragment would draw next
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait_until(condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- epochs, weights, saving and loading ------------------------------------------------------


def test_the_page_renders_without_data_and_says_where_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    at = open_training()
    assert at.title[0].value == "Training"
    page = messages(at)
    assert "No photos to train on yet" in page and "CNNVIZ_DATA" in page and "Data page" in page
    assert "Train one epoch" not in [b.label for b in at.button]
    # the weights can still be managed without data
    assert {"Save weights", "Load weights", "Reset to untrained"} <= {b.label for b in at.button}


def test_the_page_states_the_learning_rate_the_augmentation_and_the_sizes_from_the_code(env):
    from cnnviz.backend import keras
    from cnnviz.model import build_model, compile_model
    from cnnviz.pipeline import _augmenter
    from cnnviz_app.common import DEFAULT_TRAIN, DEFAULT_VAL

    at = open_training()
    page = messages(at)
    assert "with RMSprop at learning rate **1e-3**" in page  # the workshop's (the tutorial's), read from the model
    assert "from chance (50%) to about the tutorial's 72.8%" in page
    counts = at.radio(key="training_counts")
    assert f"The tutorial's: {DEFAULT_TRAIN:,} / {DEFAULT_VAL:,}" in counts.options
    assert not any("an epoch" in c or "laptop" in c for c in counts.proto.captions)  # no epoch yet: no estimate
    help_text = at.checkbox(key="training_augment").help
    rotation = next(layer for layer in _augmenter(0).layers if isinstance(layer, keras.layers.RandomRotation))
    factor = rotation.get_config()["factor"]
    turn = max(abs(f) for f in factor) if isinstance(factor, (list, tuple)) else factor
    assert f"rotations of up to {turn:g} of a turn" in help_text
    assert "random horizontal flips" in help_text and "only divides the pixels by 255" in help_text
    assert "The tutorial's generator did this" not in help_text

    slower = SessionModel(compile_model(build_model(), 3e-4), "compiled at 3e-4")
    at = open_page(PAGE, session=slower)
    assert "with RMSprop at learning rate **3e-4**" in messages(at)


@pytest.mark.parametrize("name, reason", [
    ("mixed_bfloat16", "this test's processor has bfloat16 units (AMX)"),
    ("float32", "this test's processor has none"),
])
def test_the_page_says_which_arithmetic_the_epoch_uses_and_why(env, name, reason):
    from cnnviz.model import compile_model
    from cnnviz.precision import Precision

    mine = SessionModel(compile_model(build_model()), "a test model", precision=Precision(name, reason))
    page = messages(open_page(PAGE, session=mine))
    word = "**bfloat16**" if name == "mixed_bfloat16" else "**float32**"
    assert f"The training steps {'multiply in' if name == 'mixed_bfloat16' else 'compute in'} {word}" in page
    assert f"because {reason}." in page
    assert ("Validation, verdicts and every picture are computed in float32." in page) == (name == "mixed_bfloat16")


def test_the_session_trains_in_the_precision_it_names(env, small_folder):
    """The session's job trains in its own precision and its card records it."""
    from cnnviz.dataset import find_dataset
    from cnnviz.model import compile_model, precision_of
    from cnnviz.precision import Precision
    from cnnviz.split import split_dataset

    dataset = find_dataset(small_folder, cache_dir=env / "cache")
    mine = SessionModel(compile_model(build_model()), "a test model", precision=Precision("mixed_bfloat16", "test"))
    job = mine.start_epoch(split_dataset(dataset, 16, 8, 13), dataset, batch_size=8)
    job.join(120)
    assert mine.record() and mine.rows[-1]["state"] == "finished"
    assert job.precision == "mixed_bfloat16" and precision_of(mine.model) == "float32"
    assert mine.card()["recipe"]["precision"] == "mixed_bfloat16"


def test_the_workshop_setting_is_the_default_and_the_tutorials_is_one_click_away(env):
    from cnnviz.model import learning_rate, optimizer_of
    from cnnviz_app.common import DEFAULT_TRAIN, WORKSHOP_EPOCHS, WORKSHOP_RATE

    at = open_training()
    mine = at.session_state["session"]
    assert learning_rate(mine.model) == pytest.approx(WORKSHOP_RATE)
    assert at.select_slider(key="training_rate").value == WORKSHOP_RATE
    assert at.number_input(key="training_epochs_per_click").value == WORKSHOP_EPOCHS
    assert at.button(key="training_train").label == f"Train {WORKSHOP_EPOCHS} epochs"
    assert "was chosen by training random starts" in messages(at)
    assert any(e.label.startswith("The room") for e in at.expander), "the room's first epochs, for the presenter"

    at.select_slider(key="training_rate").set_value(1e-4).run()
    assert learning_rate(mine.model) == pytest.approx(1e-4), "the slider sets the model's own optimizer"
    assert "with RMSprop at learning rate **1e-4**" in messages(at)
    at.selectbox(key="training_optimizer").set_value("adam").run()
    assert optimizer_of(mine.model) == "adam" and learning_rate(mine.model) == pytest.approx(1e-4)
    assert "with Adam at learning rate **1e-4**" in messages(at)
    at.select_slider(key="training_batch_size").set_value(64).run()
    assert "in batches of 64" in messages(at)

    at.button(key="training_tutorial_setting").click().run()
    assert learning_rate(mine.model) == pytest.approx(1e-3) and optimizer_of(mine.model) == "rmsprop"
    assert "in batches of 32" in messages(at)
    assert at.radio(key="training_counts").value == "tutorial"
    assert at.button(key="training_train").label == "Train one epoch"
    assert f"Epoch 1 trains on **{DEFAULT_TRAIN:,}**" in messages(at) or "Scaled down" in messages(at)


def test_loading_the_shipped_weights_warns_that_the_next_epoch_runs_at_a_far_larger_rate(env):
    from cnnviz.cards import card_runs, format_rate
    from cnnviz.model import WEIGHTS_DIR, default_weights_path

    path = default_weights_path()
    if path is None:
        pytest.skip("no weights ship in weights/")
    mine = SessionModel.untrained()
    card = mine.load(path, "the shipped weights")
    final = card_runs(card)[-1]["rates"][1]
    page = messages(open_page(PAGE, session=mine))
    assert f"learning rate {format_rate(1e-3)}, {1e-3 / final:,.0f}× the {format_rate(final)} their own training ended at" in page


@pytest.mark.slow
def test_the_session_model_starts_untrained_and_loads_the_shipped_weights_as_a_copy(env):
    from cnnviz_app.common import shipped_model

    at = open_training()
    session = at.session_state["session"].model
    shipped, card = shipped_model()
    assert session is not shipped
    assert session.optimizer is not None
    assert at.session_state["session"].own is False  # other pages keep showing the shipped weights
    assert "untrained: random starting weights" in messages(at) and "load them under Weights below" in messages(at)
    if card:  # the room watches learning from scratch, not from the shipped weights
        assert not same(weights(session), weights(shipped))

    at.radio(key="training_load_source").set_value("shipped").run()
    if card is None:
        assert "No weight file ships in weights/ yet" in messages(at)
        return
    at.button(key="training_load").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    loaded = at.session_state["session"].model
    assert loaded is not shipped and at.session_state["session"].own is True
    assert same(weights(loaded), weights(shipped))
    from cnnviz.cards import card_epochs

    assert at.session_state["session"].next_epoch() == card_epochs(card) + 1


@pytest.mark.slow
def test_train_one_epoch_shows_val_accuracy_and_the_next_epoch_continues(env):
    from cnnviz_app.common import shipped_model

    shipped_before = weights(shipped_model()[0])
    at = open_training()
    assert at.button(key="training_train").label.startswith("Train ")
    assert "Epoch 1 trains on **22** photos and validates on **8**" in messages(at)
    assert "Scaled down: the folder holds 16 cats and 16 dogs" in messages(at)
    model = at.session_state["session"].model
    start = weights(model)

    train_one_epoch(at)
    success = " ".join(s.value for s in at.success)
    match = re.search(r"val_accuracy (\d\.\d{4})", success)
    assert match, success
    assert 0.0 <= float(match.group(1)) <= 1.0
    metrics = {m.label: m.value for m in at.metric}
    assert re.fullmatch(r"\d{1,3}\.\d%", metrics["val_accuracy"])
    assert math.isfinite(float(metrics["val_loss"]))
    assert not same(start, weights(model))
    assert at.session_state["session"].model is model
    after_first = weights(model)

    history = epochs_table(at)
    assert list(history["epoch"]) == [1]
    assert list(history["state"]) == ["finished"]

    # the shipped weights' yardstick says their recipe, read from their card, and the tutorial's
    # size gets an estimate from this session's measured epoch, not a typed one
    _shipped, card = shipped_model()
    if card:
        from cnnviz.cards import describe_recipe

        assert f"Their recipe: {describe_recipe(card)}." in messages(at)
    assert any("an epoch here, from this session's epoch 1" in c for c in at.radio(key="training_counts").proto.captions)

    train_one_epoch(at)
    history = epochs_table(at)
    assert list(history["epoch"]) == [1, 2]  # continued, not started over
    assert not same(after_first, weights(model))
    assert "after epoch 2" in messages(at)
    assert same(shipped_before, weights(shipped_model()[0]))  # the shared model never trains


@pytest.mark.slow
@pytest.mark.slow
def test_a_stalled_epoch_is_diagnosed_with_its_numbers_and_offers_next_runs(env):
    """dense_1's bias far below zero: no unit fires, every photo gets one P(dog), and the page
    says so from the model; "Start again" trains fresh weights at a tenth of the rate."""
    from cnnviz.model import compile_model, learning_rate

    stalled = compile_model(build_model(), 1e-7)  # too small a rate to move the bias back up
    kernel, bias = stalled.get_layer("dense_1").get_weights()
    stalled.get_layer("dense_1").set_weights([kernel, np.full_like(bias, -1e4)])
    mine = SessionModel(stalled, "stalled on purpose")
    at = open_page(PAGE, session=mine)
    train_one_epoch(at)
    page = messages(at)
    assert "The network has stalled" in page, page
    assert "64 of dense_1's 64 units never fire" in page
    assert "The first batch's loss was" in page
    labels = [b.label for b in at.button]
    assert "Start again at learning rate 1e-8" in labels and "Train 3 more epochs" in labels
    assert any(label.startswith("Train the tutorial's 16,000-photo epoch") for label in labels)

    at.button(key="training_lower_rate").click().run()
    fresh = at.session_state["session"]
    assert fresh.model is not stalled and learning_rate(fresh.model) == pytest.approx(1e-8)
    assert fresh.training, "the fresh start's first epoch runs"
    fresh.job.join(300)


@pytest.mark.slow
def test_choosing_another_network_trains_it_from_random_weights_and_the_room_keeps_its_epochs_apart(env):
    """The Network box starts the chosen network untrained; an epoch trains that network, and
    the room files its first epoch under that network's setting, not the tutorial's."""
    from cnnviz import room
    from cnnviz.architecture import MODERN, POOLED, TUTORIAL, line_of

    at = open_training()
    assert at.selectbox(key="training_network").value == TUTORIAL
    at.number_input(key="training_epochs_per_click").set_value(1).run()
    at.selectbox(key="training_network").set_value(POOLED).run()
    mine = at.session_state["session"]
    assert line_of(mine.model.layers) == POOLED and mine.model.count_params() == 1_212_513 and not mine.own
    assert f"`{POOLED}`" in messages(at)
    train_one_epoch(at)
    assert line_of(at.session_state["session"].model.layers) == POOLED
    assert any(p.setting.network == POOLED for p in room.ROOM.view().populations)
    at.selectbox(key="training_network").set_value(MODERN).run()
    assert line_of(at.session_state["session"].model.layers) == MODERN and at.session_state["session"].rows == []


@pytest.mark.slow
def test_a_healthy_epoch_gets_no_stall_warning_and_more_epochs_run_in_a_row(env):
    from cnnviz.model import compile_model

    mine = SessionModel(compile_model(build_model(), 1e-4), "a test model")
    at = open_page(PAGE, session=mine)
    train_one_epoch(at)
    stall = mine.stall()
    assert stall is None or not stall.stalled
    assert "The network has stalled" not in messages(at)
    assert "training_more_epochs" not in [b.key for b in at.button]
    click_train(at, epochs=2)  # two epochs from one click, one after the other
    wait_until(lambda: not mine.training)
    at.run()
    wait_until(lambda: len(mine.rows) == 2 and not mine.training)
    at.run()
    assert [row["epoch"] for row in mine.rows] == [1, 2, 3]


def test_leaving_the_page_mid_epoch_neither_stops_nor_loses_it(env):
    at = open_training()
    click_train(at)
    job = at.session_state["session"].job
    at.switch_page("cnnviz_app/pages/architecture.py").run()
    assert job.join(300)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert job.status().state == "finished"
    assert "val_accuracy" in " ".join(s.value for s in at.success)
    assert list(epochs_table(at)["epoch"]) == [1]
    at.run()
    assert list(epochs_table(at)["epoch"]) == [1]  # recorded once, however often the page polls


@pytest.mark.slow
def test_save_reset_and_load_round_trip(env):
    at = open_training()
    train_one_epoch(at)
    trained = weights(at.session_state["session"].model)

    at.text_input(key="training_save_name").set_value("round-trip").run()
    at.button(key="training_save").click().run()
    saved = env / "saved" / "round-trip.weights.h5"
    assert saved.is_file() and (env / "saved" / "round-trip.card.json").is_file()
    assert any("Saved round-trip.weights.h5" in s.value for s in at.success)

    from cnnviz.cards import read_card

    card = read_card(saved)
    assert card["epochs"] == 1 and 0.0 <= card["val_accuracy"] <= 1.0
    assert card["split"] == {"train": 22, "val": 8} and card["data"]["held_out"] == []

    at.button(key="training_reset").click().run()
    assert not same(trained, weights(at.session_state["session"].model))
    assert not any("epoch" in frame.value.columns for frame in at.dataframe)  # the run's epochs start over
    assert list(runs_table(at)["run"]) == [1], "the run before the reset stays, for the comparison"

    at.radio(key="training_load_source").set_value("saved").run()
    assert at.selectbox(key="training_load_saved").value == str(saved)
    at.button(key="training_load").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert same(trained, weights(at.session_state["session"].model))
    assert "loaded from your saved file round-trip.weights.h5" in messages(at)
    assert at.session_state["session"].next_epoch() == 2  # the card said 1 epoch


@pytest.mark.slow
def test_a_bad_uploaded_weight_file_shows_an_error_and_leaves_the_model_alone(env, tmp_path):
    from cnnviz.backend import keras

    at = open_training()
    model = at.session_state["session"].model
    before = weights(model)
    at.radio(key="training_load_source").set_value("upload").run()

    at.file_uploader(key="training_upload").set_value(("bad.weights.h5", b"this is not HDF5", "application/octet-stream"))
    at.run()
    at.button(key="training_load").click().run()
    assert len(at.error) == 1 and "Not loaded" in at.error[0].value and "unchanged" in at.error[0].value
    assert at.session_state["session"].model is model and same(before, weights(model))

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    other_path = tmp_path / "other.weights.h5"
    other.save_weights(other_path)
    at.file_uploader(key="training_upload").set_value(("other.weights.h5", other_path.read_bytes(), "application/octet-stream"))
    at.run()
    at.button(key="training_load").click().run()
    assert len(at.error) == 1 and "different network" in at.error[0].value
    assert at.session_state["session"].model is model and same(before, weights(model))
    assert not at.exception


@pytest.mark.slow
def test_stop_then_roll_back_puts_back_the_epochs_start(env):
    at = open_training()
    model = at.session_state["session"].model
    start = weights(model)
    click_train(at)
    at.button(key="training_stop").click().run()  # long before the first batch's tracing is done
    job = at.session_state["session"].job
    assert job.join(120)
    at.run()
    status = job.status()
    assert status.state == "stopped", status
    assert any("was stopped after batch 1 of 1" in w.value for w in at.warning)
    assert not same(start, weights(model))

    at.button(key="training_roll_back").click().run()
    assert not at.exception
    assert same(start, weights(model))
    assert any("rolled back: the model is as it was at the start of epoch 1" in i.value for i in at.info)
    table = epochs_table(at)
    assert list(table["state"]) == ["stopped"] and list(table["kept"]) == ["rolled back"]
    assert at.session_state["session"].next_epoch() == 1
    assert "Epoch 1 trains on" in messages(at)


# --- interrupted epochs: reruns, another page, photos deleted ---------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reruns_and_another_page_mid_epoch_keep_one_epoch_running(training):
    at = training
    click_train(at)
    assert_no_exception(at)
    job = at.session_state["session"].job
    assert job.is_alive()
    assert "This session's model: **being trained: epoch 1 is running**" in messages(at)
    for _ in range(3):  # what a browser's reruns (a widget touched, F5 within the session) do
        at.run()
        assert_no_exception(at)
        assert at.session_state["session"].job is job
    assert at.button(key="training_train").disabled  # no second epoch on the same model

    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()  # another page, mid-epoch
    assert_no_exception(at)
    if job.is_alive():
        assert any("An epoch is training this model right now" in i.value for i in at.info)
    assert "this session's own model" in messages(at)

    assert job.join(400), "the epoch did not end"
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    assert job.status().state == "finished"
    assert list(epochs_table(at)["epoch"]) == [1]  # one epoch, recorded once
    assert "Epoch 1 finished" in messages(at)
    assert "This session's model: **after epoch 1 (all 7 batches)**" in messages(at)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_photos_deleted_mid_epoch_fail_it_and_the_page_says_where_the_model_is(training, photos):
    at = training
    model = at.session_state["session"].model
    start = weights(model)
    click_train(at)
    job = at.session_state["session"].job
    wait_until(lambda: job.status().batches_done >= 1 or not job.is_alive())
    for photo in photos.iterdir():  # the folder is emptied under the running epoch
        photo.unlink()
    assert job.join(300), "the epoch hung after its photos vanished"
    at.run()
    assert_no_exception(at)
    status = job.status()
    assert status.state == "failed"
    assert len(at.error) == 1
    assert "gone since the folder was scanned" in at.error[0].value and "scan the folder again" in at.error[0].value
    state = re.search(r"The model's weights: (after batch (\d+) of 7 of epoch 1)\.", messages(at))
    assert state, messages(at)
    assert 1 <= int(state.group(2)) <= 7
    assert f"This session's model: **{state.group(1)}**" in messages(at)
    assert not all(np.array_equal(a, b) for a, b in zip(start, weights(model)))

    at.button(key="training_roll_back").click().run()
    assert_no_exception(at)
    assert all(np.array_equal(a, b) for a, b in zip(start, weights(model)))
    assert "Rolled back: the model is as it was at the start of epoch 1." in messages(at)
    assert list(epochs_table(at)["kept"]) == ["rolled back"]


# --- refusals: one class, code in a weight file, a card of another save ----------------------


@pytest.mark.timeout(300)
def test_the_training_page_offers_no_epoch_on_a_one_class_folder(tmp_path, jpegs, monkeypatch):
    folder = only_cats(tmp_path / "cats", jpegs)
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


@pytest.mark.slow
@pytest.mark.timeout(300)
# A name ending .keras never reaches the page: the uploader only takes .h5 (type=["h5"]),
# and Streamlit enforces that on the server as well as in the browser.
@pytest.mark.parametrize("name", ["evil.weights.h5", "evil.h5"])
def test_the_training_page_refuses_an_uploaded_keras_file(booby_trapped, tmp_path, monkeypatch, name):
    path, marker = booby_trapped
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    at = AppTest.from_file(APP, default_timeout=120)
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
    at = AppTest.from_file(APP, default_timeout=120)
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


# --- validation without the photos the weights were trained on --------------------------------


@pytest.mark.slow
def test_training_after_loading_the_shipped_weights_validates_on_photos_they_never_trained_on(partly_seen_folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(partly_seen_folder, 2_000, 800)  # the Training page's workshop split, scaled down
    kept, left_out = unseen(split.val, partly_seen_folder, seen)
    assert 0 < left_out < len(split.val)

    at = open_page("cnnviz_app/pages/training.py")
    assert f"validates on **{len(split.val)}**" in texts(at)  # untrained: nothing to leave out
    at.radio(key="training_load_source").set_value("shipped").run()
    at.button(key="training_load").click().run()
    assert_no_exception(at)
    body = texts(at)
    assert f"validates on **{len(kept)}**" in body
    assert f"{left_out:,} validation photos are left out: the model was trained on them before" in body

    click_train(at)
    assert_no_exception(at)
    job = at.session_state["session"].job
    deadline = time.monotonic() + 300
    while job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job.is_alive(), "the epoch did not end"
    assert job.split.val == kept and job.split.train == split.train
    # The session's model has now also trained on this split's training photos.
    assert at.session_state["session"].trained_on == seen | {Path(path).name for path, _ in split.train}


@pytest.mark.slow
def test_weights_uploaded_without_a_card_are_said_to_be_of_unknown_training(partly_seen_folder):
    from cnnviz.model import default_weights_path

    seen_by_the_shipped_weights()  # skips when none ship
    at = open_page("cnnviz_app/pages/training.py")
    at.radio(key="training_load_source").set_value("upload").run()
    bare = default_weights_path().read_bytes()  # the shipped weights, without their card
    at.file_uploader(key="training_upload").set_value(("bare.weights.h5", bare, "application/octet-stream"))
    at.run()
    at.button(key="training_load").click().run()
    assert_no_exception(at)
    assert at.session_state["session"].trained_on is None
    assert "The loaded file's card does not list the photos it was trained on" in texts(at)

    at.switch_page("cnnviz_app/pages/evaluation.py").run()
    assert_no_exception(at)
    assert "whose card does not list the photos they were trained on" in texts(at)


# --- learning over time, and what the page offers to download ---------------------------------


@pytest.mark.slow
def test_training_page_shows_how_the_first_layer_moved_after_a_real_epoch(monkeypatch, tmp_path, tiny_kaggle):
    from cnnviz.dataset import find_dataset
    from cnnviz.split import split_dataset
    from cnnviz.timeline import movement

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    dataset = find_dataset(str(tiny_kaggle))
    session = SessionModel.untrained()
    job = session.start_epoch(split_dataset(dataset, 32, 8, 13), dataset, batch_size=16)
    assert job.join(300) and session.record()

    at = open_page("cnnviz_app/pages/training.py", session=session)
    body = texts(at)
    moves = movement(session.snapshots())
    top = int(moves[-1].argmax())
    assert "How the first layer learned" in body
    assert f"In the last epoch filter {top} moved most ({moves[-1, top]:.4f})" in body
    assert "start" in body and "epoch 1" in body and "filter 0 on Chelsea" in body
    lines = next(s for s in plotly_specs(at) if len(s["data"]) == 32)
    assert plotly_array(lines["data"][top]["y"]).tolist() == pytest.approx(moves[:, top].tolist())
    at.number_input(key="timeline_filter").set_value(7).run()
    assert_no_exception(at)
    assert "filter 7 on Chelsea" in texts(at)


@pytest.mark.slow
def test_evaluation_and_training_pages_offer_their_pngs_and_the_models_card(monkeypatch, tmp_path, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    monkeypatch.setenv("CNNVIZ_SAVE_DIR", str(tmp_path / "saved"))
    at = open_page("cnnviz_app/pages/evaluation.py")
    assert [b.proto.label for b in at.get("download_button")] == ["PNG", "PNG", "PNG", "CSV"]  # two charts, the photo map

    at.switch_page("cnnviz_app/pages/training.py").run()
    at.text_input(key="training_save_name").input("export-test")
    at.button(key="training_save").click().run()
    assert_no_exception(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download export-test.weights.h5" in labels and "Download its card export-test.card.json" in labels
    assert (tmp_path / "saved" / "export-test.card.json").is_file()


# --- runs compared, and transfer ----------------------------------------------------------------


def wait_for_epochs(at: AppTest) -> None:
    mine = at.session_state["session"]
    wait_until(lambda: not mine.training)
    at.run()
    assert_no_exception(at)


@pytest.mark.slow
def test_the_coin_toss_is_two_clicks_and_both_runs_are_drawn_over_each_other(env):
    """Train at 1e-3; slide to 1e-4 and press New random start: the table and the chart hold both runs."""
    at = open_training()
    click_train(at)
    wait_for_epochs(at)
    at.select_slider(key="training_rate").set_value(1e-4).run()
    at.button(key="training_new_run").click().run()
    wait_for_epochs(at)
    runs = runs_table(at)
    assert list(runs["run"]) == [1, 2] and list(runs["learning rate"]) == ["1e-3", "1e-4"]
    assert list(runs["start"]) == ["random weights", "random weights"] and list(runs["epochs"]) == [1, 1]
    mine = at.session_state["session"]
    assert runs["best val_accuracy"][1] == pytest.approx(mine.rows[-1]["val_accuracy"])
    chart = next(c for c in at.get("plotly_chart") if "val_accuracy after each epoch" in c.proto.spec)
    assert chart.proto.spec.count('"name":"run 1: tutorial, RMSprop 1e-3, random weights"') == 2, "a loss and a val_accuracy trace"
    assert '"name":"run 2: tutorial, RMSprop 1e-4, random weights"' in chart.proto.spec
    assert list(epochs_table(at)["epoch"]) == [1], "the epochs table is the current run's"


@pytest.mark.slow
def test_a_transfer_run_trains_a_head_on_the_shipped_convolutions_beside_random_ones(monkeypatch, tmp_path, data_root):
    seen = seen_by_the_shipped_weights()
    folder = tmp_path / "train"
    folder.mkdir()
    for label in ("cat", "dog"):  # photos the shipped weights never trained on, so a split keeps validation photos
        unseen_photos = [p for p in sorted((data_root / "train").glob(f"{label}.*.jpg")) if p.name not in seen]
        for photo in unseen_photos[:24]:
            shutil.copy(photo, folder)
    monkeypatch.setenv("CNNVIZ_DATA", str(folder))
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cnnviz.runs, "TRANSFER_EPOCHS", 2)  # the page's 8 epochs show nothing more here
    at = open_training()
    assert "Transfer learning" in messages(at) and "Each button trains 2 epochs" in messages(at)
    mine = at.session_state["session"]
    for key in ("training_transfer_learned", "training_transfer_random"):
        at.button(key=key).click().run()
        assert_no_exception(at)
        while len(mine.rows) < cnnviz.runs.TRANSFER_EPOCHS:  # each rerun, as the page's poll does, starts the next epoch
            wait_for_epochs(at)
    assert at.radio(key="training_counts").value == "transfer"
    runs = runs_table(at)
    assert list(runs["start"]) == ["shipped convolutions, frozen", "random convolutions, frozen"]
    assert list(runs["parameters trained"]) == ["5,017,729 of 5,046,369"] * 2
    assert list(runs["epochs"]) == [cnnviz.runs.TRANSFER_EPOCHS] * 2
    assert all(row["state"] == "finished" for run in at.session_state["session"].runs for row in run.rows)
