"""The overview picture: a column per ReLU and pooling layer on every network line, each
column's extent where its maps are drawn, and the maps it shows the strongest of its layer."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.architecture import NETWORKS
from cnnviz.overview import BACKGROUND, HEADER, MAPS_PER_COLUMN, TILE, overview, strongest_maps


@pytest.fixture(scope="module")
def photo(cat_photo):
    from cnnviz.images import load_photo

    return load_photo(cat_photo)


def expected_columns(model) -> list[str]:
    """The layers that should get a column, read off the Keras layers' types, not the layer table:
    every ReLU and pooling layer, or only the pooling layers where there are more than six."""
    from cnnviz.backend import keras

    def pools(layer):
        return isinstance(layer, keras.layers.MaxPooling2D)

    def relu(layer):
        return isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"] == "relu"

    maps = [layer for layer in model.layers if len(layer.output.shape) == 4]
    every = [layer.name for layer in maps if pools(layer) or relu(layer)]
    return every if len(every) <= 6 else [layer.name for layer in maps if pools(layer)]


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_every_network_gets_a_column_per_relu_and_pooling_layer_or_per_block_in_order_inside_the_picture(network, photo):
    """A deep network (the modern line's eight ReLUs and four poolings) a column per block's end."""
    import keras

    from cnnviz.model import build_network
    from cnnviz.report import photo_report

    keras.utils.set_random_seed(3)
    model = build_network(NETWORKS[network])
    report = photo_report(model, photo)
    found = report.overview
    height, width, _ = found.image.shape
    assert [c.layer for c in found.columns] == expected_columns(model)
    edges = [found.photo] + [(c.left, c.right) for c in found.columns] + [found.verdict]
    assert edges[0][0] >= 0 and edges[-1][1] <= width
    for (left, right), (next_left, _) in zip(edges, edges[1:]):
        assert left < right < next_left, "extents are ordered and do not overlap"
    for c in found.columns:
        assert c.shape == report.activations[c.layer].shape and len(c.channels) == MAPS_PER_COLUMN
        assert found.layer_at((c.left + c.right) / 2) == c.layer
        drawn = found.image[HEADER : HEADER + TILE, c.left : c.right]
        assert np.any(drawn != BACKGROUND), "the column's extent is where its first map is drawn"
        assert np.all(found.image[HEADER : HEADER + TILE, c.right : c.right + 3] == BACKGROUND), "and nothing of it beyond"
    assert found.layer_at(found.photo[0] + 1) is None and found.layer_at(found.verdict[0] + 1) is None
    assert found.png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_column_shows_its_layers_strongest_maps_strongest_first(photo):
    import keras

    from cnnviz.model import build_model
    from cnnviz.report import photo_report

    keras.utils.set_random_seed(5)
    report = photo_report(build_model(), photo)
    for c in report.overview.columns:
        means = report.activations[c.layer].mean(axis=(0, 1))
        shown = means[list(c.channels)]
        assert np.all(np.diff(shown) <= 0)
        assert shown.min() >= np.delete(means, list(c.channels)).max()
    assert strongest_maps(np.stack([np.zeros((4, 4)), np.ones((4, 4)), np.full((4, 4), 2.0)], axis=-1), 2) == (2, 1)


def test_the_regions_to_click_are_the_photo_each_column_and_the_verdict_left_to_right(photo):
    import keras

    from cnnviz.model import build_model
    from cnnviz.overview import INPUT, VERDICT
    from cnnviz.report import photo_report

    keras.utils.set_random_seed(3)
    found = photo_report(build_model(), photo).overview
    regions = found.regions()
    assert [name for name, *_ in regions] == [INPUT] + [c.layer for c in found.columns] + [VERDICT]
    assert [(left, right) for _, left, right, _ in regions] == [found.photo] + [(c.left, c.right) for c in found.columns] + [found.verdict]
    assert [found.layer_at((left + right) / 2) for _, left, right, _ in regions[1:-1]] == [c.layer for c in found.columns]
    assert regions[1][3] == "relu_1 · relu · 148×148×32" and regions[-1][2] <= found.image.shape[1]
