"""Every page with a network other than the tutorial's: the session's model is the modern
network (batch norm, global average pooling, no flatten, no dense_1), as after the Training
page chose it and trained or loaded it; each page draws it without an exception."""

import json

import pytest

from cnnviz_app.common import PAGES
from tests.app.helpers import open_page, texts


@pytest.fixture(scope="module")
def modern_session():
    from cnnviz.architecture import MODERN
    from cnnviz.model import build_network, compile_model
    from cnnviz.session import SessionModel

    return SessionModel(compile_model(build_network(MODERN)), "the modern network, from random weights", own=True)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_draws_the_modern_network(page, modern_session, monkeypatch, tiny_kaggle):
    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page(page, session=modern_session)  # asserts no exception
    body = texts(at)
    if page.endswith(("layer_explorer.py", "evaluation.py")):
        assert "this session's own model (the modern network, from random weights)" in body
    if page.endswith("home.py"):  # the overview: this deep network gets a column per block's pooling layer
        from cnnviz.report import photo_report
        from cnnviz_app.common import chelsea

        columns = [c.layer for c in photo_report(modern_session.model, chelsea()).overview.columns]
        regions = json.loads(next(c for c in at.get("bidi_component") if c.key == "home_overview").proto.json)["regions"]
        assert [name for name, *_ in regions][1:-1] == columns == [f"max_pooling2d_{i}" for i in (1, 2, 3, 4)]
        assert "the maps each block's max-pooling layer (too many layers for a column each) passes on" in body
        assert "through this session's own model (the modern network, from random weights)" in body
    if page.endswith("architecture.py"):  # words for global average pooling, not flatten, and the edge it never reads
        assert "Vectors (from global average pooling on)" in body and "flatten on" not in body
        assert "The last 10 rows and columns of the 150 × 150 input never reach the verdict" in body
    if page.endswith("training.py"):
        from cnnviz.architecture import MODERN

        assert at.selectbox(key="training_network").value == MODERN


@pytest.mark.slow
def test_every_explorer_tab_draws_the_modern_network(modern_session):
    """Every tab on a network with batch norm, global average pooling and no hidden dense layer:
    each draws without an exception, the feature maps reach the last convolution, and occlusion
    and fooling it draw their content."""
    from cnnviz_app.explorer_tabs import TAB, TABS

    at = open_page("cnnviz_app/pages/layer_explorer.py", session=modern_session)
    for label in TABS:
        at.session_state[TAB] = label
        at.run()
        assert not at.exception, (label, [e.value for e in at.exception])
        if label == "Feature maps, layer by layer":
            body = texts(at)
            assert "conv2d_8 · convolution · 11×11×256" in body and "batch_normalization_8 · batch norm · 11×11×256" in body
            assert "max_pooling2d_1 · max pooling · 73×73×32" in body, "a stage of four (conv, ReLU, batch norm, pool) shows all four"
            at.selectbox(key="closer_layer").set_value("batch_normalization_1").run()
            assert not at.exception and "averages training kept for this channel" in texts(at)
        if label == "Occlusion":  # Grad-CAM at the modern network's last convolution's ReLU, beside the map
            assert "Red marks where hiding lowered P(" in texts(at) and len(at.metric) == 1
        if label == "What a filter looks for":  # no dataset here: the made input alone
            assert "**Made for conv2d_1's filter" in texts(at) and "No validation photos to search" in texts(at)
        if label == "Fool it":
            assert "On this photo, **" in texts(at) and "random directions" in texts(at)
            assert "the last 10 rows and columns of the 150 × 150 input never reach the verdict" in texts(at)


def test_the_sidebar_switch_gives_the_verdicts_to_the_chosen_shipped_network(monkeypatch, tiny_kaggle):
    """No model of the session's own: the sidebar's "Shipped network" decides whose weights the
    pages use, and the tutorial's is the default."""
    from cnnviz.architecture import MODERN, TUTORIAL, parameters
    from cnnviz.cards import read_card
    from cnnviz.model import default_weights_path
    from cnnviz_app.common import NETWORK, describe_card

    def shipped_words(network):
        path = default_weights_path(network=network)
        return describe_card({**read_card(path), "path": str(path)} if path else None)

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/architecture.py")
    assert at.selectbox(key=NETWORK).value == "tutorial" and f"{parameters(TUTORIAL):,}" in texts(at)
    at.selectbox(key=NETWORK).set_value("modern").run()
    assert f"{parameters(MODERN):,}" in texts(at) and f"{parameters(TUTORIAL):,}" not in texts(at)
    for page in ("cnnviz_app/pages/layer_explorer.py", "cnnviz_app/pages/evaluation.py"):
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert shipped_words("modern") in texts(at) and shipped_words("tutorial") not in texts(at), page
    at.selectbox(key=NETWORK).set_value("tutorial").run()
    assert shipped_words("tutorial") in texts(at)
