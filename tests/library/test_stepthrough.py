"""The step-through's arithmetic equals the network's own numbers, pixel for pixel."""

import numpy as np
import pytest

from cnnviz.inspect import activations, conv_filters
from cnnviz.model import build_model
from cnnviz.stepthrough import conv_step, next_position, pool_step


@pytest.fixture(scope="module")
def network_and_maps():
    from skimage import data

    from cnnviz.images import load_photo
    from cnnviz.mosaic import to_png

    model = build_model()
    # Random biases too (Keras starts them at 0), so "+ bias" is checked, not just a zero added.
    weights = model.get_weights()
    weights[1] = np.random.default_rng(1).normal(0, 0.1, weights[1].shape).astype("float32")
    model.set_weights(weights)
    image = load_photo(to_png(data.chelsea())).network_input
    return model, image, activations(model, image)


@pytest.mark.parametrize("filter_index, row, col", [(0, 0, 0), (5, 70, 33), (31, 147, 147), (12, 100, 2)])
def test_a_conv_step_is_the_networks_own_pixel(network_and_maps, filter_index, row, col):
    model, image, acts = network_and_maps
    kernel, bias = conv_filters(model)["conv2d_1"]
    step = conv_step(image, kernel, bias, filter_index, row, col)
    assert step.patch.shape == step.weights.shape == step.products.shape == (3, 3, 3)
    assert np.array_equal(step.patch, image[row : row + 3, col : col + 3].astype("float64"))
    assert step.total == pytest.approx(float(step.products.sum()))
    assert step.pre_activation == pytest.approx(acts["conv2d_1"][row, col, filter_index], abs=1e-5)
    assert step.output == pytest.approx(acts["relu_1"][row, col, filter_index], abs=1e-5)
    assert step.output == max(0.0, step.total + step.bias)


def test_every_pixel_of_one_feature_map_matches(network_and_maps):
    model, image, acts = network_and_maps
    kernel, bias = conv_filters(model)["conv2d_1"]
    # The filter whose map is closest to half zeros: both sides of the ReLU get exercised.
    k = int(np.argmin(np.abs((acts["relu_1"] > 0).mean(axis=(0, 1)) - 0.5)))
    rows = range(0, 148, 7)
    mine = np.array([[conv_step(image, kernel, bias, k, r, c).output for c in rows] for r in rows])
    assert np.max(np.abs(mine - acts["relu_1"][::7, ::7, k][: len(rows), : len(rows)])) < 1e-5
    assert np.any(mine > 0) and np.any(mine == 0)


@pytest.mark.parametrize("layer_in, layer_out, channel, row, col", [("relu_2", "max_pooling2d_1", 4, 36, 72), ("relu_3", "max_pooling2d_2", 63, 34, 34)])
def test_a_pool_step_is_the_networks_own_pixel(network_and_maps, layer_in, layer_out, channel, row, col):
    _, _, acts = network_and_maps
    m = acts[layer_in][:, :, channel]
    step = pool_step(m, row, col)
    assert step.window.shape == (2, 2) and (step.top, step.left) == (2 * row, 2 * col)
    assert step.output == pytest.approx(acts[layer_out][row, col, channel], abs=1e-6)
    assert m[step.argmax] == step.output
    with pytest.raises(ValueError):
        pool_step(m, m.shape[0] // 2, 0)


def test_positions_sweep_row_by_row_and_wrap():
    assert next_position(0, 0, 148, 148) == (0, 1)
    assert next_position(0, 147, 148, 148) == (1, 0)
    assert next_position(147, 147, 148, 148) == (0, 0)
    assert next_position(0, 0, 148, 148, -1) == (147, 147)
    assert next_position(3, 5, 10, 10, 12) == (4, 7)
