"""Validation figures on the pages leave out the photos the weights were trained on.

The shipped weights were trained on 17,000 photos of ../shared/data's train/ folder, so the
app's own split of that folder puts many of those among its validation photos. Ids 200-299
are used here: the card's list puts most of them on the training side and the rest on its
validation side (ids 0-149 are the held-out originals, which it never trained on).
"""

import time
from pathlib import Path

import pytest
from tests.appserver import copy_photos
from tests.test_app_pages import _isolated, assert_no_exception, open_page, shipped, texts  # noqa: F401

from cnnviz.dataset import find_dataset, unseen
from cnnviz.split import split_dataset
from cnnviz.cards import card_trained_on

pytestmark = pytest.mark.slow


@pytest.fixture
def folder(monkeypatch, tmp_path, data_root):
    photos = copy_photos(data_root / "train", tmp_path / "train", per_class=100, start=200)
    monkeypatch.setenv("CNNVIZ_DATA", str(photos))
    return photos


def seen_by_the_shipped_weights() -> frozenset[str]:
    _, card = shipped()
    if not card:
        pytest.skip("no weights ship in weights/")
    return card_trained_on(card)


def split_of(folder, train: int, val: int):
    return split_dataset(find_dataset(folder), train, val, seed=13)


def test_evaluation_judges_the_shipped_weights_only_on_photos_they_never_trained_on(folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(folder, 16_000, 6_400)  # the app's default split, scaled down to the folder
    kept, left_out = unseen(split.val, folder, seen)
    assert 0 < left_out < len(split.val)  # the case this is about: some of each

    at = open_page("cnnviz_app/pages/evaluation.py")
    body = texts(at)
    assert f"{left_out:,} of this split's {len(split.val):,} validation photos are left out: these weights' card lists them" in body
    assert at.number_input(key="eval_n").label == f"Validation photos to judge (of {len(kept):,})"
    assert f"of **{len(kept)}** validation photos judged right" in body


def test_training_after_loading_the_shipped_weights_validates_on_photos_they_never_trained_on(folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(folder, 2_000, 800)  # the Training page's workshop split, scaled down
    kept, left_out = unseen(split.val, folder, seen)
    assert 0 < left_out < len(split.val)

    at = open_page("cnnviz_app/pages/training.py")
    assert f"validates on **{len(split.val)}**" in texts(at)  # untrained: nothing to leave out
    at.radio(key="training_load_source").set_value("shipped").run()
    at.button(key="training_load").click().run()
    assert_no_exception(at)
    body = texts(at)
    assert f"validates on **{len(kept)}**" in body
    assert f"{left_out:,} validation photos are left out: the model was trained on them before" in body

    at.button(key="training_train").click().run()
    assert_no_exception(at)
    job = at.session_state["session"].job
    deadline = time.monotonic() + 300
    while job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job.is_alive(), "the epoch did not end"
    assert job.split.val == kept and job.split.train == split.train
    # The session's model has now also trained on this split's training photos.
    assert at.session_state["session"].trained_on == seen | {Path(path).name for path, _ in split.train}


def test_the_explorer_says_when_the_weights_were_trained_on_the_photo_shown(folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(folder, 16_000, 6_400)
    names = [path.rsplit("/", 1)[-1] for path, _ in split.val]
    learned, fresh = next(i for i, n in enumerate(names) if n in seen), next(i for i, n in enumerate(names) if n not in seen)
    note = "These weights were trained on this photo, so a right verdict here is no test of them."

    at = open_page("cnnviz_app/pages/layer_explorer.py")
    at.radio(key="photo_source").set_value("Validation image").run()
    at.number_input(key="val_index").set_value(learned).run()
    assert_no_exception(at)
    assert names[learned] in texts(at) and note in texts(at)
    at.number_input(key="val_index").set_value(fresh).run()
    assert names[fresh] in texts(at) and note not in texts(at)


def test_weights_uploaded_without_a_card_are_said_to_be_of_unknown_training(folder):
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
