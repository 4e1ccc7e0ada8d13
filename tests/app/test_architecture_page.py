"""The Architecture page under streamlit.testing: the live parameter total, every layer's
formula and shape, dense_1's share, and the loss and dropout texts computed from the network."""

import pytest

from tests.app.helpers import open_page, plotly_array, plotly_specs, shipped, texts


def test_architecture_shows_the_live_total_every_formula_and_dense_1s_share():
    from cnnviz.model import layer_table

    model, _ = shipped()
    rows = layer_table(model)
    total = model.count_params()
    dense = next(r for r in rows if r.name == "dense_1")

    at = open_page("cnnviz_app/pages/architecture.py")
    body = texts(at)
    assert f"{total:,}" in body and total == 5_046_369
    assert f"**{100 * dense.share:.1f}%**" in body and f"{100 * dense.share:.1f}" == "99.4"

    table = at.dataframe[0].value
    assert list(table["layer"])[:-1] == [r.name for r in rows]
    assert table.iloc[-1]["parameters"] == f"{total:,}"
    by_layer = table.set_index("layer")
    assert by_layer.loc["dense_1", "formula"] == "78,400x64 + 64"
    assert by_layer.loc["conv2d_1", "output shape"] == "148×148×32"
    assert by_layer.loc["dense_1", "share"] == "99.4%"

    flow, share = plotly_specs(at)
    hover = " ".join(flow["data"][0]["hovertext"])
    assert "150×150×3" in hover and "148×148×32" in hover and "output 1 = 1 values" in hover
    bars = dict(zip(share["data"][0]["y"], plotly_array(share["data"][0]["x"])))
    assert bars["dense_1"] == pytest.approx(100 * dense.share)

    assert "binary cross-entropy" in body.lower() and "mean squared error" in body
    assert any(r"\log" in latex.value for latex in at.latex)
    # The dropout text is computed from the layer: rate 0.5 scales survivors by 2.
    assert "1 / (1 − 0.5) = 2" in body
