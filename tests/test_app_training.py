"""The Training page under streamlit.testing: a real epoch on a tiny folder of real photos."""

import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from tests.appserver import copy_photos

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
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


def open_training() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in (at.markdown, at.caption, at.success, at.info, at.warning, at.error) for e in kind]
    return "\n".join(str(p) for p in parts)


def weights(model):
    return [w.copy() for w in model.get_weights()]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def train_one_epoch(at: AppTest, timeout: float = 300) -> AppTest:
    at.button(key="training_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["session"].job
    deadline = time.monotonic() + timeout
    while job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job.is_alive(), "the epoch did not end"
    at.run()  # what the polling fragment would draw next
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_renders_without_data_and_says_where_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))
    at = open_training()
    assert at.title[0].value == "Training"
    page = texts(at)
    assert "No photos to train on yet" in page and "CNNVIZ_DATA" in page and "Data page" in page
    assert "Train one epoch" not in [b.label for b in at.button]
    # the weights can still be managed without data
    assert {"Save weights", "Load weights", "Reset to untrained"} <= {b.label for b in at.button}


def test_the_session_model_starts_untrained_and_loads_the_shipped_weights_as_a_copy(env):
    from cnnviz_app.common import shipped_model

    at = open_training()
    session = at.session_state["session"].model
    shipped, card = shipped_model()
    assert session is not shipped
    assert session.optimizer is not None
    assert at.session_state["session"].own is False  # other pages keep showing the shipped weights
    assert "untrained: random starting weights" in texts(at) and "load them under Weights below" in texts(at)
    if card:  # the room watches learning from scratch, not from the shipped weights
        assert not same(weights(session), weights(shipped))

    at.radio(key="training_load_source").set_value("shipped").run()
    if card is None:
        assert "No weight file ships in weights/ yet" in texts(at)
        return
    at.button(key="training_load").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    loaded = at.session_state["session"].model
    assert loaded is not shipped and at.session_state["session"].own is True
    assert same(weights(loaded), weights(shipped))
    from cnnviz.cards import card_epochs

    assert at.session_state["session"].next_epoch() == card_epochs(card) + 1


def test_train_one_epoch_shows_val_accuracy_and_the_next_epoch_continues(env):
    from cnnviz_app.common import shipped_model

    shipped_before = weights(shipped_model()[0])
    at = open_training()
    assert [b.label for b in at.button].count("Train one epoch") == 1
    assert "Epoch 1 trains on **22** photos and validates on **8**" in texts(at)
    assert "Scaled down: the folder holds 16 cats and 16 dogs" in texts(at)
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

    history = at.dataframe[0].value
    assert list(history["epoch"]) == [1]
    assert list(history["state"]) == ["finished"]

    train_one_epoch(at)
    history = at.dataframe[0].value
    assert list(history["epoch"]) == [1, 2]  # continued, not started over
    assert not same(after_first, weights(model))
    assert "after epoch 2" in texts(at)
    assert same(shipped_before, weights(shipped_model()[0]))  # the shared model never trains


def test_leaving_the_page_mid_epoch_neither_stops_nor_loses_it(env):
    at = open_training()
    at.button(key="training_train").click().run()
    job = at.session_state["session"].job
    at.switch_page("cnnviz_app/pages/architecture.py").run()
    assert job.join(300)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert job.status().state == "finished"
    assert "val_accuracy" in " ".join(s.value for s in at.success)
    assert list(at.dataframe[0].value["epoch"]) == [1]
    at.run()
    assert list(at.dataframe[0].value["epoch"]) == [1]  # recorded once, however often the page polls


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
    assert at.dataframe == [] or len(at.dataframe) == 0  # the history starts over

    at.radio(key="training_load_source").set_value("saved").run()
    assert at.selectbox(key="training_load_saved").value == str(saved)
    at.button(key="training_load").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert same(trained, weights(at.session_state["session"].model))
    assert "loaded from your saved file round-trip.weights.h5" in texts(at)
    assert at.session_state["session"].next_epoch() == 2  # the card said 1 epoch


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


def test_stop_then_roll_back_puts_back_the_epochs_start(env):
    at = open_training()
    model = at.session_state["session"].model
    start = weights(model)
    at.button(key="training_train").click().run()
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
    table = at.dataframe[0].value
    assert list(table["state"]) == ["stopped"] and list(table["kept"]) == ["rolled back"]
    assert at.session_state["session"].next_epoch() == 1
    assert "Epoch 1 trains on" in texts(at)
