"""The app's views beyond the tutorial under streamlit.testing: where the network looked, the
evaluation page, the step-through convolution, exports and presenter mode. Expected numbers
come from cnnviz itself, for the same model and photo the page uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_app_pages import _isolated, assert_no_exception, open_page, plotly_array, plotly_specs, shipped, texts  # noqa: F401


def test_where_it_looked_shows_both_grad_cams_and_the_saliency_with_the_librarys_probability():
    from cnnviz.explain import explain
    from pages.common import chelsea

    model, _ = shipped()
    expected = explain(model, chelsea().network_input)
    at = open_page("pages/layer_explorer.py")
    body = texts(at)
    p = expected.dog_probability
    assert f"Grad-CAM for **dog** (P(dog) = {p:.3f})" in body
    assert f"Grad-CAM for **cat** (1 − P(dog) = {1 - p:.3f})" in body
    assert "Saliency, for dog and for cat alike" in body
    shown = next(iter(at.session_state["_explain_memo"].values()))
    assert np.array_equal(shown.grad_cams["dog"].heatmap, expected.grad_cams["dog"].heatmap)
    names = [b.proto.label for b in at.get("download_button")]
    assert names.count("PNG") >= 3


# --- evaluation ------------------------------------------------------------------------------


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
    at = open_page("pages/evaluation.py", session_model=model, session_model_info="says dog")
    split = at.session_state["split"]
    expected = evaluate_items(model, sample_items(split.val, len(split.val), seed=split.seed))
    body = texts(at)
    assert at.metric[0].value == f"{expected.accuracy:.1%}"
    assert f"**{int(np.trace(expected.confusion))}** of **{expected.n}** validation photos judged right" in body
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
