"""Issue 6, interrupted training on the Training page: reruns mid-epoch, another page
visited mid-epoch, and an exception inside the epoch (its photos deleted). Each time the model is consistent and the page says which state it is in.

Stop mid-epoch is tested in tests/test_jobs.py, tests/test_app_training.py and the browser
test; the browser tab closed mid-epoch in tests/test_robustness_browser.py.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "streamlit_app.py")
PAGE = "cnnviz_app/pages/training.py"

pytestmark = pytest.mark.slow


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
    no_exception(at)
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "success", "info", "warning", "error") for e in getattr(at, kind))


def weights(model):
    return [w.copy() for w in model.get_weights()]


def wait_until(condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.timeout(600)
def test_reruns_and_another_page_mid_epoch_keep_one_epoch_running(training):
    at = training
    at.button(key="training_train").click().run()
    no_exception(at)
    job = at.session_state["session"].job
    assert job.is_alive()
    assert "This session's model: **being trained: epoch 1 is running**" in texts(at)
    for _ in range(3):  # what a browser's reruns (a widget touched, F5 within the session) do
        at.run()
        no_exception(at)
        assert at.session_state["session"].job is job
    assert at.button(key="training_train").disabled  # no second epoch on the same model

    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()  # another page, mid-epoch
    no_exception(at)
    if job.is_alive():
        assert any("An epoch is training this model right now" in i.value for i in at.info)
    assert "this session's own model" in texts(at)

    assert job.join(400), "the epoch did not end"
    at.switch_page(PAGE).run()
    no_exception(at)
    assert job.status().state == "finished"
    assert list(at.dataframe[0].value["epoch"]) == [1]  # one epoch, recorded once
    assert "Epoch 1 finished" in texts(at)
    assert "This session's model: **after epoch 1 (all 7 batches)**" in texts(at)


@pytest.mark.timeout(600)
def test_photos_deleted_mid_epoch_fail_it_and_the_page_says_where_the_model_is(training, photos):
    at = training
    model = at.session_state["session"].model
    start = weights(model)
    at.button(key="training_train").click().run()
    job = at.session_state["session"].job
    wait_until(lambda: job.status().batches_done >= 1 or not job.is_alive())
    for photo in photos.iterdir():  # the folder is emptied under the running epoch
        photo.unlink()
    assert job.join(300), "the epoch hung after its photos vanished"
    at.run()
    no_exception(at)
    status = job.status()
    assert status.state == "failed"
    assert len(at.error) == 1
    assert "gone since the folder was scanned" in at.error[0].value and "scan the folder again" in at.error[0].value
    state = re.search(r"The model's weights: (after batch (\d+) of 7 of epoch 1)\.", texts(at))
    assert state, texts(at)
    assert 1 <= int(state.group(2)) <= 7
    assert f"This session's model: **{state.group(1)}**" in texts(at)
    assert not all(np.array_equal(a, b) for a, b in zip(start, weights(model)))

    at.button(key="training_roll_back").click().run()
    no_exception(at)
    assert all(np.array_equal(a, b) for a, b in zip(start, weights(model)))
    assert "Rolled back: the model is as it was at the start of epoch 1." in texts(at)
    assert list(at.dataframe[0].value["kept"]) == ["rolled back"]
