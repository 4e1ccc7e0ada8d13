"""This machine's measured training speed, and epoch estimates from it."""

import math

import pytest

from cnnviz.architecture import POOLED, TUTORIAL, multiply_adds
from cnnviz.calibration import Speed, measure
from cnnviz.precision import detected

SMALL = "conv4 pool conv4 pool dense4"


def test_a_measured_speed_is_of_this_machines_training_precision():
    speed = measure(SMALL, steps=1, batch_size=4)
    assert speed.network == SMALL and speed.precision == detected().name
    assert all(math.isfinite(rate) and rate > 0 for rate in (speed.train, speed.validate))
    assert speed.load >= 0


def test_an_epoch_takes_each_photos_multiply_adds_at_the_measured_rates():
    speed = Speed(train=2e9, validate=8e9, precision="float32", network=TUTORIAL, load=0.0)
    macs = multiply_adds(TUTORIAL)
    assert speed.epoch_seconds(TUTORIAL, 2_000, 0) == pytest.approx(2_000 * macs / 2e9)
    assert speed.epoch_seconds(TUTORIAL, 0, 800) == pytest.approx(800 * macs / 8e9)
    # The pooled network does 3.5 times fewer multiply-adds a photo, so it is estimated that much faster.
    ratio = speed.epoch_seconds(TUTORIAL, 2_000, 800) / speed.epoch_seconds(POOLED, 2_000, 800)
    assert ratio == pytest.approx(multiply_adds(TUTORIAL) / multiply_adds(POOLED)) and ratio > 3
