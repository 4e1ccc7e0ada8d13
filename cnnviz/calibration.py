"""How fast this machine trains, measured, so that an epoch of any network can be estimated.

A few timed training steps of one network on random pixels, in the precision training uses
here (`cnnviz.precision.detected`), and a few timed validation batches in float32, give
multiply-adds a second; an epoch of another line is its multiply-adds over those rates.
Multiply-adds are most of an epoch's arithmetic, not all of it (ReLU, pooling, batch norm and
reading the photos add some), and the rate is of the moment it was measured, other sessions'
work included: `benchmarks/epoch_estimate.py` prints the estimate beside real epochs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from cnnviz.architecture import INPUT, TUTORIAL, multiply_adds
from cnnviz.backend import forget_graph_custom_gradients
from cnnviz.model import arithmetic_twin, build_network, compile_model
from cnnviz.precision import detected

BATCH_SIZE = 32  # the Training page's and the tutorial's


@dataclass(frozen=True)
class Speed:
    """Forward-pass multiply-adds a second of photos trained on and of photos validated."""

    train: float  # a training step does about three times a photo's forward multiply-adds; counted once here
    validate: float
    precision: str  # of the training steps measured
    network: str  # the line measured
    load: float  # the machine's 1-minute load average just before: a busy machine measures slow

    def epoch_seconds(self, line: str, train: int, val: int) -> float:
        """Seconds to train `line` on `train` photos and validate it on `val`, at these rates."""
        macs = multiply_adds(line)
        return train * macs / self.train + val * macs / self.validate


def measure(line: str = TUTORIAL, steps: int = 2, batch_size: int = BATCH_SIZE) -> Speed:
    """Time `steps` training steps and validation batches of `line` on this machine, after one
    of each untimed (the first traces the step)."""
    load = os.getloadavg()[0]
    precision = detected().name
    model = compile_model(build_network(line))
    twin = arithmetic_twin(model, precision)
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *INPUT), dtype="float32")
    y = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    rates = []
    for step in (twin.train_on_batch, model.test_on_batch):
        step(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            step(x, y)
        rates.append(multiply_adds(line) * batch_size * steps / (time.perf_counter() - start))
    forget_graph_custom_gradients()  # as after an epoch: the traced step would keep this model alive
    return Speed(rates[0], rates[1], precision, line, load)

