"""Inspection: every layer's output in one pass, filters, and the manual convolution check."""

import numpy as np
import pytest

from cnnviz import RULE, THRESHOLD
from cnnviz.inspect import activations, classify, conv_filters, convolution_check, verdict
from cnnviz.model import build_model, layer_table


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(7)  # fixed weights: a random filter can be dead on a photo
    return build_model()


@pytest.fixture(scope="module")
def image(cat_photo):
    from cnnviz.images import load_photo

    return load_photo(cat_photo).network_input


def test_activations_of_every_layer(model, image):
    outputs = activations(model, image)
    rows = layer_table(model)
    assert list(outputs) == [r.name for r in rows]
    for r in rows:
        assert outputs[r.name].shape == r.output_shape
    assert outputs["relu_1"].min() >= 0
    np.testing.assert_allclose(outputs["relu_1"], np.maximum(outputs["conv2d_1"], 0), atol=1e-6)
    assert 0 < outputs["sigmoid"][0] < 1


def test_conv_filters(model):
    filters = conv_filters(model)
    assert [k.shape for k, _ in filters.values()] == [(3, 3, 3, 32), (3, 3, 32, 32), (3, 3, 32, 64)]


@pytest.mark.parametrize("k", [0, 7, 31])
def test_manual_convolution_matches_only_when_done_right(model, image, k):
    check = convolution_check(model, image, k)
    assert check.network.max() > 0, "a dead feature map would make every variant match trivially"
    d = check.max_abs_difference
    assert d["correlate2d"] < 1e-5
    assert d["flipped convolve2d"] < 1e-5
    assert d["tutorial's grayscale convolve2d"] > 1e-3
    assert check.network.shape == (148, 148)


def test_convolution_check_rejects_bad_filter(model, image):
    with pytest.raises(ValueError):
        convolution_check(model, image, 32)


def test_verdict_uses_a_threshold_not_equality():
    assert verdict(0.93).label == "dog" and verdict(0.93).probability == pytest.approx(0.93)
    assert verdict(0.2).label == "cat" and verdict(0.2).probability == pytest.approx(0.8)
    assert verdict(0.5).label == "cat"  # Keras's binary_accuracy counts only P(dog) > 0.5 as dog


def test_the_verdict_and_kerass_accuracy_agree_at_exactly_one_half():
    from cnnviz.backend import keras

    at_half = float(keras.ops.convert_to_numpy(keras.metrics.binary_accuracy([[1.0]], [[THRESHOLD]])).ravel()[0])  # a dog at exactly 0.5
    assert at_half == 0.0 and verdict(THRESHOLD).label == "cat"
    assert RULE == "dog when P(dog) > 0.5, otherwise cat"


def test_classify_agrees_with_last_activation(model, image):
    v = classify(model, image)
    p = activations(model, image)["sigmoid"][0]
    assert v.dog_probability == pytest.approx(float(p), abs=1e-6)
