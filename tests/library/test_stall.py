"""The stall diagnosis fires on a network whose dense units are all dead, and stays silent on the shipped weights."""

import math

import numpy as np
import pytest

from cnnviz.images import load_photo
from cnnviz.model import build_model, load_default_model
from cnnviz.stall import batch_losses, diagnose, stall_sentences


@pytest.fixture(scope="module")
def photos(data_root) -> np.ndarray:
    """Validation-like photos: 12 cats and 12 dogs from ids the shipped weights never trained on."""
    names = [f"{label}.{i}.jpg" for label in ("cat", "dog") for i in range(12)]
    return np.stack([load_photo(data_root / "originals" / name).network_input for name in names])


def test_batch_losses_undo_the_running_mean():
    own = [0.70, 5.90, 1.30, 0.80]
    running = [sum(own[: n + 1]) / (n + 1) for n in range(len(own))]
    assert batch_losses(running) == pytest.approx(own)


def test_the_shipped_weights_do_not_stall(photos):
    model, card = load_default_model()
    assert card, "the shipped weights should load"
    stall = diagnose(model, photos)
    assert not stall.stalled and stall_sentences(stall) == []
    assert stall.layer == "dense_1" and stall.units == 64 and stall.dead < 64
    assert stall.p_dog[1] - stall.p_dog[0] > 0.5


def test_a_network_whose_dense_units_never_fire_is_diagnosed(photos):
    model, _ = load_default_model()
    dead = build_model()
    dead.set_weights(model.get_weights())
    kernel, bias = dead.get_layer("dense_1").get_weights()
    dead.get_layer("dense_1").set_weights([kernel, np.full_like(bias, -1e4)])
    running = [0.69, (0.69 + 5.93) / 2, (0.69 + 5.93 + 1.1) / 3]
    stall = diagnose(dead, photos, running)
    assert stall.stalled and stall.all_dead and stall.dead == 64 and stall.photos == len(photos)
    sigmoid_of_bias = 1 / (1 + math.exp(-float(dead.get_layer("dense_2").get_weights()[1][0])))
    assert stall.p_dog == pytest.approx((sigmoid_of_bias, sigmoid_of_bias), abs=1e-6)
    said = " ".join(stall_sentences(stall))
    assert f"between {sigmoid_of_bias:.4f} and {sigmoid_of_bias:.4f}" in said
    assert "64 of dense_1's 64 units never fire" in said
    assert "batch 2's was 5.93" in said and "The first batch's loss was 0.69" in said
    assert "starting again at a lower learning rate" in said


def test_some_units_alive_say_more_epochs_can_help(photos):
    model, _ = load_default_model()
    half = build_model()
    half.set_weights(model.get_weights())
    dense_2 = half.get_layer("dense_2")
    kernel, bias = dense_2.get_weights()
    dense_2.set_weights([np.zeros_like(kernel), bias])  # one answer for all, though dense_1 still fires
    stall = diagnose(half, photos)
    assert stall.stalled and not stall.all_dead
    assert "more epochs can pull the network out of it" in " ".join(stall_sentences(stall))


def test_a_network_without_a_hidden_dense_layer_is_diagnosed_by_its_answers_alone(photos):
    """Global average pooling straight into the sigmoid unit: no dense units to count, so only
    the one-answer-for-all finding is said."""
    from cnnviz.model import build_network

    model = build_network("conv4 gap")
    kernel, bias = model.get_layer("dense_1").get_weights()
    model.get_layer("dense_1").set_weights([np.zeros_like(kernel), bias])
    stall = diagnose(model, photos, [0.69, 0.70])
    assert stall.stalled and stall.layer is None and not stall.all_dead
    said = stall_sentences(stall)
    assert said[0].startswith("The network has stalled") and not any("units" in s for s in said)
