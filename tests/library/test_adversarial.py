"""Fooling the network with the fast gradient sign method, on the shipped network and real photos."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.adversarial import (
    amplified, attack_direction, flip_words, fool, perturb, random_direction, smallest_flip, unseen_edge_words,
)
from cnnviz.images import load_photo
from cnnviz.inspect import classify


@pytest.fixture(scope="module")
def shipped():
    from cnnviz.model import load_default_model

    model, card = load_default_model()
    assert card is not None, "these tests need the shipped weights"
    return model


@pytest.fixture(scope="module")
def photos(data_root) -> list[np.ndarray]:
    """Four cats and four dogs from originals/."""
    names = ("cat.0", "cat.2", "dog.1", "dog.3", "cat.4", "dog.5", "cat.7", "dog.8")
    return [load_photo(data_root / "originals" / f"{name}.jpg").network_input for name in names]


@pytest.mark.slow
def test_the_reported_epsilon_flips_the_verdict_and_half_of_it_does_not(shipped, photos):
    """On every photo whose P(dog) is not within 0.1 of the threshold: one that close flips at an
    ε too small for its half to mean much."""
    checked = 0
    for image in photos:
        before = classify(shipped, image)
        if abs(before.dog_probability - 0.5) < 0.1:
            continue
        direction = attack_direction(shipped, image, before.label)
        epsilon = smallest_flip(shipped, image, direction, before)
        assert epsilon is not None and 0 < epsilon <= 0.05
        at, half = fool(shipped, image, epsilon, direction, before), fool(shipped, image, epsilon / 2, direction, before)
        assert at.flipped and at.after.label != before.label
        assert not half.flipped
        # Just below the reported ε (by the bisection's 1%), the verdict still holds.
        assert not fool(shipped, image, epsilon * 0.985, direction, before).flipped
        checked += 1
    assert checked >= 4


def test_each_value_moves_by_epsilon_at_most_and_stays_a_pixel_value(shipped, photos):
    image = photos[0]
    before = classify(shipped, image)
    direction = attack_direction(shipped, image, before.label)
    assert set(np.unique(direction)) <= {-1.0, 0.0, 1.0}
    epsilon = 0.02
    moved = perturb(image, direction, epsilon)
    assert moved.min() >= 0.0 and moved.max() <= 1.0
    assert np.abs(moved - image).max() <= epsilon + 1e-6
    # Values pushed past 0 or 1 are clipped, so there they move less; elsewhere by ε exactly.
    free = (image + epsilon * direction >= 0) & (image + epsilon * direction <= 1) & (direction != 0)
    assert np.allclose(np.abs(moved - image)[free], epsilon, atol=1e-6)
    picture = amplified(image, moved, epsilon)
    assert picture.dtype == np.uint8 and picture.shape == image.shape
    assert set(np.unique(picture[free])) <= {0, 255}


def test_the_direction_lowers_the_score_of_the_verdict_and_a_random_one_of_the_same_size_does_not_flip_it(shipped, photos):
    """The sign of the gradient is aimed: moving along it lowers P(verdict) much more than random
    signs of the same size, which leave the verdict alone."""
    for seed, image in enumerate(photos[:4]):
        before = classify(shipped, image)
        direction = attack_direction(shipped, image, before.label)
        epsilon = smallest_flip(shipped, image, direction, before)
        aimed = fool(shipped, image, 0.5 * epsilon, direction, before).after
        assert aimed.label == before.label and aimed.dog_probability != before.dog_probability
        moved_towards_other = (aimed.dog_probability - before.dog_probability) * (1 if before.label == "cat" else -1)
        assert moved_towards_other > 0
        random = random_direction(image.shape, seed)
        assert set(np.unique(random)) == {-1.0, 1.0} and abs(random.mean()) < 0.02
        assert not fool(shipped, image, epsilon, random, before).flipped


def test_nothing_flips_below_a_tiny_limit_and_the_words_say_so(shipped, photos):
    image = photos[0]
    before = classify(shipped, image)
    direction = attack_direction(shipped, image, before.label)
    assert smallest_flip(shipped, image, direction, before, max_epsilon=1e-5) is None
    assert flip_words(before, None, 1e-5).startswith(f"no ε up to 1e-05 (0.00 of 255 levels) turns {before.label} into")
    assert "of 255 levels" in flip_words(before, 0.004)


def test_the_edge_a_network_never_reads_is_named_and_the_attack_leaves_it_alone(photos):
    """The modern line reads 140 of 150 rows and columns: FGSM's change is exactly zero past them
    (their gradient is), and the words say how many; a line that reads every pixel gets none."""
    from cnnviz.architecture import MODERN, POOLED
    from cnnviz.model import build_network

    modern = build_network(MODERN)
    change = perturb(photos[0], attack_direction(modern, photos[0], classify(modern, photos[0]).label), 0.01) - photos[0]
    assert not change[140:].any() and not change[:, 140:].any() and change[139].any()
    assert "the last 10 rows and columns of the 150 × 150 input never reach the verdict" in unseen_edge_words(modern.layers)
    assert unseen_edge_words(build_network(POOLED).layers) is None
