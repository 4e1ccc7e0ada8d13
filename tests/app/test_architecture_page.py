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
    assert "Vectors (from flatten on)" in body and "Below the blocks" not in body  # 14 layers: every block named
    assert "The last 2 rows and columns of the 150 × 150 input never reach the verdict" in body

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


def test_architecture_sentences_are_computed_from_the_network_and_change_with_it():
    """The valid-padding arithmetic, the pooling steps (71 -> 35 drops a row), the threshold rule
    and the Keras blog's dense_1 (with the first pooling layer the tutorial leaves out) come from
    the model: another network gives other sentences."""
    from cnnviz import RULE

    from cnnviz.model import layer_table

    at = open_page("cnnviz_app/pages/architecture.py")
    body = texts(at)
    assert "150 − 3 + 1 = 148" in body and "`padding='valid'`" in body
    assert "146 → 73, 71 → 35 (71 is odd: the last row and column are dropped)" in body
    assert f"The verdict: {RULE}." in body and "Above 0.5" not in body
    # the blog's version, worked from the shapes: 150-2=148, /2=74, -2=72, /2=36, -2=34, /2=17
    blog_dense = 17 * 17 * 64 * 64 + 64
    assert f"{blog_dense:,} parameters" in body and "17×17×64 instead of 35×35×64" in body
    assert "height × width × red, green, blue" in body
    assert "activation_1 … activation_5; here they are relu_1, relu_2, relu_3, relu_4, sigmoid" in body
    # the shape chart keeps its legend: 64 values are not drawn taller than the 35×35×64 maps
    flow = plotly_specs(at)[0]
    heights = dict(zip(["input", *(r.name for r in layer_table(shipped()[0]))], plotly_array(flow["data"][0]["y"])))
    assert heights["flatten_1"] == heights["max_pooling2d_2"] == 35
    assert heights["dense_1"] < heights["max_pooling2d_2"] and heights["dense_2"] < heights["dense_1"]

    # Another line (a third conv, 16 filters in the last): every number in those sentences moves.
    from cnnviz.session import SessionModel

    other = SessionModel.untrained(network="conv32 conv32 conv32 pool conv16 pool dense64 dropout0.5")
    body = texts(open_page("cnnviz_app/pages/architecture.py", session=other))
    # 150 -> 148 -> 146 -> 144 -> pool 72 -> 70 -> pool 35; the blog's: 148 -> 74 -> 72 -> 70 -> 35 -> 33 -> 16
    assert "loses 2 rows and 2 columns: 150 → 148, 148 → 146, 146 → 144, 72 → 70" in body
    assert "144 → 72, 70 → 35." in body
    assert f"{16 * 16 * 16 * 64 + 64:,} parameters" in body and f"instead of {35 * 35 * 16 * 64 + 64:,}" in body


@pytest.mark.parametrize("name", ["modern", "pooled"])
def test_architecture_shows_the_network_this_session_trains(name):
    """After the Training page chose another network, the page's table, totals and texts are that
    network's, and the sentences about the tutorial's own layers are left out."""
    from cnnviz.architecture import NETWORKS, parameters
    from cnnviz.session import SessionModel

    line = NETWORKS[name]
    at = open_page("cnnviz_app/pages/architecture.py", session=SessionModel.untrained(network=name))
    body = texts(at)
    assert f"**{parameters(line):,}** learned parameters" in body and f"`{line}`" in body
    table = at.dataframe[0].value
    assert table.iloc[-1]["parameters"] == f"{parameters(line):,}"
    assert "activation_1 … activation_" not in body, "the tutorial's naming note is about the tutorial's network"
    assert "leaves out its first pooling layer" not in body, "this network pools after its first convolution"
    if name == "modern":
        assert "**Batch norm**" in body and "**Global average pooling**" in body and "**Flatten**" not in body
        assert list(table.set_index("layer").loc["batch_normalization_1", ["formula", "parameters"]]) == [
            "4x32 (scale, shift, mean, variance)", "128"]
    else:
        assert "**Batch norm**" not in body and "**Flatten**" in body
