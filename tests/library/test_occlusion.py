"""Occlusion: on a network wired by hand so that only one region of the photo can move its
score, where the map's answer is known square by square, and on the shipped network with a
real dog pasted into real cat photos, where it has to find the dog."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnviz.images import load_photo
from cnnviz.occlusion import agreement, occlusion, occlusion_words, positions, square_means

TOP, BOTTOM, LEFT, RIGHT = 10, 50, 95, 135  # the region the hand-wired network reads: top right, not on the diagonal


@pytest.fixture(scope="module")
def region_reader():
    """`conv1` built by cnnviz.model with weights set by hand: the filter passes the red channel
    through (a 1 at its centre, so relu_1[i, j] is the red of input pixel (i + 1, j + 1)), and
    the output unit weighs only the positions inside the region: P(dog) = sigmoid(8 x the
    region's mean red - 4). Nothing outside the region can change the score."""
    from cnnviz.model import build_network

    model = build_network("conv1")
    kernel, bias, dense, dense_bias = (np.zeros(w.shape, dtype="float32") for w in model.get_weights())
    kernel[1, 1, 0, 0] = 1.0
    reads = np.zeros((148, 148), dtype="float32")
    reads[TOP - 1 : BOTTOM - 1, LEFT - 1 : RIGHT - 1] = 8.0 / ((BOTTOM - TOP) * (RIGHT - LEFT))
    dense[:, 0] = reads.ravel()
    dense_bias[0] = -4.0
    model.set_weights([kernel, bias, dense, dense_bias])
    return model


@pytest.fixture(scope="module")
def red_in_the_region(cat_photo):
    """A real cat photo with the region painted pure red: P(dog) = sigmoid(4), and a grey square
    over any part of the region lowers it."""
    image = load_photo(cat_photo).network_input.copy()
    image[TOP:BOTTOM, LEFT:RIGHT] = (1.0, 0.0, 0.0)
    return image


def overlap(top: int, left: int, size: int) -> int:
    """Pixels a square at (top, left) shares with the region."""
    rows = max(0, min(top + size, BOTTOM) - max(top, TOP))
    cols = max(0, min(left + size, RIGHT) - max(left, LEFT))
    return rows * cols


def test_positions_step_by_the_stride_and_end_flush_with_the_edge():
    assert positions(150, 30, 15) == (0, 15, 30, 45, 60, 75, 90, 105, 120)
    assert positions(150, 40, 22) == (0, 22, 44, 66, 88, 110)  # 110 + 40 = 150: the last square reaches the edge
    assert positions(150, 40, 25) == (0, 25, 50, 75, 100, 110)
    with pytest.raises(ValueError):
        positions(150, 0, 10)


def test_the_map_drops_exactly_where_a_square_covers_the_region_and_peaks_inside_it(region_reader, red_in_the_region):
    """Square by square: a drop wherever the square covers part of the region, larger the more it
    covers, and exactly none elsewhere. A map read transposed, mirrored or shifted by a row of
    squares fails, because the region sits in the top right, off the diagonal."""
    size, stride = 30, 15
    found = occlusion(region_reader, red_in_the_region, "dog", size=size, stride=stride)
    assert found.score == pytest.approx(1 / (1 + np.exp(-4.0)), abs=1e-5)
    covered = np.array([[overlap(top, left, size) for left in found.positions] for top in found.positions])
    assert np.array_equal(found.drops > 1e-6, covered > 0)
    assert not np.any(np.abs(found.drops[covered == 0]) > 1e-6)
    most = np.unravel_index(np.argmax(covered), covered.shape)
    assert found.drops[most] == pytest.approx(found.drops.max())
    assert found.largest_drop[1:] == (found.positions[most[0]], found.positions[most[1]])

    assert found.heatmap.shape == (150, 150)
    peak = np.unravel_index(np.argmax(found.heatmap), found.heatmap.shape)
    assert TOP <= peak[0] < BOTTOM and LEFT <= peak[1] < RIGHT
    assert not np.any(found.heatmap[BOTTOM + size :, :]) and not np.any(found.heatmap[:, : LEFT - size])

    # The same map for "cat" (1 - P(dog)) is the dog map's mirror image in sign.
    cat = occlusion(region_reader, red_in_the_region, "cat", size=size, stride=stride)
    assert np.allclose(cat.drops, -found.drops, atol=1e-6)
    assert "x 105, y 15 lowers P(dog) most" in occlusion_words(found, None)


def test_agreement_ranks_the_squares_as_a_map_of_the_region_does(region_reader, red_in_the_region):
    """A "Grad-CAM" that lights up exactly the region the network reads agrees perfectly (the more
    of it a square covers, the more its hiding drops), its opposite disagrees perfectly, the same
    map mirrored into the other corner does not agree, and a blank one gives no number."""
    found = occlusion(region_reader, red_in_the_region, "dog", size=30, stride=15)
    region = np.zeros((150, 150))
    region[TOP:BOTTOM, LEFT:RIGHT] = 1.0
    expected = [[region[t : t + 30, l : l + 30].mean() for l in found.positions] for t in found.positions]
    assert np.allclose(square_means(region, found.positions, found.size), expected)
    assert agreement(found, region) == pytest.approx(1.0, abs=1e-3)  # equal covers may drop a rounding apart
    assert agreement(found, 1.0 - region) == pytest.approx(-1.0, abs=1e-3)
    assert agreement(found, region.T) < 0.2
    assert agreement(found, np.zeros((150, 150))) is None


@pytest.mark.slow
def test_on_the_shipped_network_the_map_finds_a_real_dog_pasted_into_cat_photos(data_root):
    """A real dog (train/dog.20.jpg, the whole photo shrunk to 60 x 60) pasted into the top right
    corner of the first sixteen cat photos of train/ that the shipped network calls cat; the map
    for "dog" should peak on the dog. The corner holds 16% of the photo, so a map blind to it
    would peak there in about 3 of 16; one read transposed would put the peak bottom left.

    It is the shipped network that must see the dog, and this one is no perfect dog detector:
    a pasted dog moves its P(dog) by between -0.06 and +0.48 here, and a grey square is a
    pattern of its own (the module's docstring), so 12 of 16 is asked (14 when written)."""
    from cnnviz.inspect import classify
    from cnnviz.model import load_default_model

    model, card = load_default_model()
    assert card is not None, "this test needs the shipped weights"
    side = 60
    dog = np.asarray(
        Image.fromarray(load_photo(data_root / "train" / "dog.20.jpg").original).resize((side, side), Image.Resampling.BILINEAR),
        dtype="float32",
    ) / 255
    cats = (load_photo(data_root / "train" / f"cat.{i}.jpg").network_input for i in range(60))
    cats = [image for image in cats if classify(model, image).label == "cat"][:16]
    found_it = 0
    for image in cats:
        pasted = image.copy()
        pasted[:side, 150 - side :] = dog
        found = occlusion(model, pasted, "dog")
        row, col = np.unravel_index(np.argmax(found.heatmap), found.heatmap.shape)
        found_it += bool(row < side and col >= 150 - side)
    assert found_it >= 12


def test_the_agreement_is_read_against_what_unrelated_maps_reach_by_chance():
    from cnnviz.occlusion import CHANCE, agreement_meaning

    assert "No agreement can be measured" in agreement_meaning(None)
    assert agreement_meaning(0.12).startswith("+0.12 is within ±0.4") and "no evidence" in agreement_meaning(-0.3)
    assert "tend to matter most to the other" in agreement_meaning(CHANCE + 0.1)
    assert "hiding hurts most where Grad-CAM is coolest" in agreement_meaning(-0.7)
