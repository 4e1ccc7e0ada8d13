"""The Architecture page's shape chart (charts.shape_flow): its blocks and the names under them."""

from cnnviz import charts
from cnnviz.architecture import INPUT, MODERN, TUTORIAL, layer_rows


def names_below(figure) -> list[str]:
    """The annotations under the blocks (the shapes are written above them)."""
    return [a.text for a in figure.layout.annotations if a.yanchor == "top"]


def test_every_block_of_the_tutorials_network_is_named_and_flatten_is_as_tall_as_the_maps():
    rows = layer_rows(TUTORIAL)
    figure = charts.shape_flow(rows, INPUT)
    assert names_below(figure) == ["input"] + [r.name for r in rows]
    heights = dict(zip(["input"] + [r.name for r in rows], figure.data[0].y))
    assert heights["flatten_1"] == heights["max_pooling2d_2"] == 35  # the last maps' 35 x 35 x 64 values, as one vector
    assert heights["dense_1"] < heights["flatten_1"]


def test_a_deep_network_names_only_the_layers_that_change_the_shape():
    rows = layer_rows(MODERN)
    assert len(rows) > charts.NAMED_STAGES
    named = names_below(charts.shape_flow(rows, INPUT))
    shapes = [INPUT] + [r.output_shape for r in rows]
    changing = ["input"] + [r.name for r, before in zip(rows, shapes) if r.output_shape != before]
    assert named == changing
    assert "conv2d_8" in named and "max_pooling2d_4" in named and "global_average_pooling2d_1" in named
    assert not any(name.startswith(("relu", "batch_normalization", "dropout")) for name in named)
