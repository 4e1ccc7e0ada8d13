"""The Evaluation page under streamlit.testing: its numbers are the library's for the session's
model, a confidently wrong photo opens in the Layer Explorer, and the shipped weights are
judged only on photos they never trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnviz.dataset import unseen
from cnnviz.session import SessionModel
from tests.app.helpers import assert_no_exception, open_page, plotly_array, plotly_specs, seen_by_the_shipped_weights, shipped, split_of, texts


def dog_sayer():
    """A copy of the shipped network whose output bias says "dog" to every photo, surely."""
    from cnnviz.model import copy_model

    model = copy_model(shipped()[0])
    weights = model.get_weights()
    weights[-1] = weights[-1] + 5.0
    model.set_weights(weights)
    return model


def test_evaluation_page_numbers_are_the_librarys_and_a_wrong_photo_opens_in_the_explorer(monkeypatch, tiny_kaggle):
    from cnnviz.evaluation import confidently_wrong, evaluate_items, sample_items

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    model = dog_sayer()
    at = open_page("cnnviz_app/pages/evaluation.py", session=SessionModel(model, "says dog", own=True))
    split = at.session_state["split"]
    expected = evaluate_items(model, sample_items(split.val, len(split.val), seed=split.seed))
    body = texts(at)
    assert at.metric[0].value == f"{expected.accuracy:.1%}"
    assert f"**{int(np.trace(expected.confusion))}** of **{expected.n}** validation photos judged right" in body
    low, high = expected.interval  # the sampling uncertainty, from the same judged photos
    assert f"95% interval: **{low:.1%} to {high:.1%}**" in body and low < expected.accuracy < high
    confusion, histogram = plotly_specs(at)
    assert plotly_array(confusion["data"][0]["customdata"]).tolist() == expected.confusion.tolist()
    assert sorted(plotly_array(histogram["data"][1]["x"])) == pytest.approx(sorted(expected.dog_probabilities[expected.labels == 1]))

    # Every cat is called a dog: the gallery shows the surest of them, each with its P(dog).
    wrong = confidently_wrong(expected, 8)
    assert len(wrong) == min(8, int((expected.labels == 0).sum()))
    first_path, _ = expected.items[wrong[0]]
    assert f"A **cat**, called **dog**: P(dog) = {expected.dog_probabilities[wrong[0]]:.3f}" in body
    opens = [b for b in at.button if b.label == "Open in Layer Explorer"]
    assert len(opens) == len(wrong)
    opens[0].click().run()
    assert_no_exception(at)
    body = texts(at)
    assert "Layer Explorer" in [t.value for t in at.title]
    assert Path(first_path).name in body and "labelled **cat**" in body and "Verdict: **dog**" in body


@pytest.mark.slow
def test_evaluation_judges_the_shipped_weights_only_on_photos_they_never_trained_on(partly_seen_folder):
    seen = seen_by_the_shipped_weights()
    split = split_of(partly_seen_folder, 16_000, 6_400)  # the app's default split, scaled down to the folder
    kept, left_out = unseen(split.val, partly_seen_folder, seen)
    assert 0 < left_out < len(split.val)  # the case this is about: some of each

    at = open_page("cnnviz_app/pages/evaluation.py")
    body = texts(at)
    assert f"{left_out:,} of this split's {len(split.val):,} validation photos are left out: these weights' card lists them" in body
    assert at.number_input(key="eval_n").label == f"Validation photos to judge (of {len(kept):,})"
    assert f"of **{len(kept)}** validation photos judged right" in body
