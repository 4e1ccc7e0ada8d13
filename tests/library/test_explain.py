"""Grad-CAM and saliency: on a network wired by hand to look for red, where the answer is
known, and on a random network, where the maths still fixes how dog and cat relate."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.explain import explain, grad_cam, overlay, saliency
from cnnviz.model import build_model, predict_dog_probability

SQUARE = (slice(20, 60), slice(20, 60))  # where the red square sits in the 150x150 input


@pytest.fixture(scope="module")
def red_detector():
    """The tutorial's network with weights set by hand: channel 0 of every convolution passes
    the red channel straight through (a 1 at the kernel's centre), dense_1's unit 0 adds up
    channel 0 of the last pooled map, and P(dog) rises with it. Every other weight is 0, so
    only red pixels can matter, and "dog" means "red"."""
    model = build_model()
    weights = [np.zeros_like(w) for w in model.get_weights()]
    conv1, _, conv2, _, conv3, _, dense1, _, dense2, bias2 = range(10)
    for i in (conv1, conv2, conv3):
        weights[i][1, 1, 0, 0] = 1.0
    weights[dense1][0::64, 0] = 1.0  # Flatten puts channel 0 of every position at a multiple of 64
    weights[dense2][0, 0] = 0.03
    weights[bias2][0] = -2.0
    model.set_weights(weights)
    return model


@pytest.fixture(scope="module")
def red_square():
    """Black, with a noisy red square in the top left (the noise breaks max-pooling's ties)."""
    image = np.zeros((150, 150, 3), dtype="float32")
    image[SQUARE + (0,)] = 0.6 + 0.3 * np.random.default_rng(0).random((40, 40))
    return image


def test_grad_cam_finds_the_red_square_for_dog_and_nothing_for_cat(red_detector, red_square):
    p = float(predict_dog_probability(red_detector, red_square)[0])
    assert 0.05 < p < 0.95  # not saturated: the gradients are alive

    dog = grad_cam(red_detector, red_square, "dog")
    assert dog.heatmap.shape == (150, 150) and dog.raw.shape == (71, 71) and dog.layer == "relu_3"
    assert dog.score == pytest.approx(p, abs=1e-5)
    assert dog.heatmap.min() >= 0 and dog.heatmap.max() == pytest.approx(1.0)
    assert dog.heatmap[SQUARE].mean() > 0.3
    assert dog.heatmap[80:, :].max() == 0 and dog.heatmap[:, 80:].max() == 0
    assert dog.channel_weights[0] > 0 and not np.any(dog.channel_weights[1:])

    # "cat" is 1 - P(dog): the red square argues against it, and nothing argues for it.
    cat = grad_cam(red_detector, red_square, "cat")
    assert cat.score == pytest.approx(1 - p, abs=1e-5)
    assert cat.channel_weights[0] == pytest.approx(-dog.channel_weights[0])
    assert not np.any(cat.heatmap)


def test_occluding_where_grad_cam_looked_changes_p_dog_and_elsewhere_does_not(red_detector, red_square):
    heat = grad_cam(red_detector, red_square, "dog").heatmap
    hot, cold = red_square.copy(), red_square.copy()
    hot[heat > 0.5] = 0.0
    coldest = np.argsort(heat, axis=None)[: int((heat > 0.5).sum())]
    cold.reshape(-1, 3)[coldest] = 0.0
    p, p_hot, p_cold = predict_dog_probability(red_detector, np.stack([red_square, hot, cold]))
    assert abs(p - p_hot) > 0.1 and abs(p - p_cold) < 1e-6


def test_saliency_lives_on_the_red_pixels_only_and_is_the_same_for_cat(red_detector, red_square):
    dog = saliency(red_detector, red_square, "dog")
    assert dog.shape == (150, 150) and dog.min() >= 0 and dog.max() == pytest.approx(1.0)
    inside = np.zeros((150, 150), dtype=bool)
    inside[SQUARE] = True
    assert not np.any(dog[~inside])
    assert np.count_nonzero(dog[inside]) > 40  # one winner of every 4x4 block of the two poolings, at least
    assert np.array_equal(saliency(red_detector, red_square, "cat"), dog)


def test_on_a_random_network_the_two_grad_cams_split_one_map_between_them():
    from skimage import data

    from cnnviz.images import load_photo
    from cnnviz.mosaic import to_png

    model = build_model()  # random weights: the identities below hold for any weights
    image = load_photo(to_png(data.chelsea())).network_input
    result = explain(model, image)
    dog, cat = result.grad_cams["dog"], result.grad_cams["cat"]
    assert result.dog_probability == pytest.approx(float(predict_dog_probability(model, image)[0]), abs=1e-5)
    assert np.allclose(cat.channel_weights, -dog.channel_weights)
    assert np.any(dog.raw) or np.any(cat.raw)
    assert not np.any((dog.raw > 0) & (cat.raw > 0))  # never both positive at one place
    for m in (dog.heatmap, cat.heatmap, result.saliency):
        assert m.shape == (150, 150) and m.min() >= 0 and m.max() <= 1


def test_overlay_leaves_the_photo_where_the_map_is_zero_and_tints_it_elsewhere():
    photo = np.full((40, 60, 3), 200, dtype="uint8")
    heat = np.zeros((40, 60), dtype="float32")
    heat[:, 30:] = 1.0
    out = overlay(photo, heat, alpha=0.5)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    assert np.array_equal(out[:, :30], photo[:, :30])
    assert not np.array_equal(out[:, 30:], photo[:, 30:])
    # A map of another size (the network's 150x150 on a bigger view) is enlarged to fit.
    assert overlay(np.zeros((300, 300, 3), dtype="uint8"), np.ones((150, 150))).shape == (300, 300, 3)
