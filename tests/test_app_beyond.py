"""The app's views beyond the tutorial under streamlit.testing: where the network looked, the
evaluation page, the step-through convolution, exports and presenter mode. Expected numbers
come from cnnviz itself, for the same model and photo the page uses."""

from __future__ import annotations

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
