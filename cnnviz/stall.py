"""Why an epoch learned nothing, in numbers: dead dense units, one answer for every photo, the loss's jump.

The tutorial's network, trained from random weights with RMSprop, often ends its first epoch
at val_accuracy 0.5 and val_loss log 2. RMSprop's first steps move every weight by about
3 times the learning rate whatever its gradient, and the first dense layer sums 78,400
inputs, so one step can push all of its units below zero. A ReLU below zero outputs 0 and
passes back no gradient: once every unit is dead on every photo, the network answers the
same P(dog) for all of them, and only the last bias can still learn. `diagnose` measures
that on the validation photos; `stall_sentences` says it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnviz.backend import keras

SAME_ANSWER = 0.005  # P(dog) varying less than this over every photo: one answer for all
PHOTOS = 256  # enough to see a unit fire if it ever does, in about a second


@dataclass(frozen=True)
class Stall:
    layer: str | None  # the first hidden dense layer (its units counted after their ReLU); None: the network has none
    units: int
    dead: int  # units that output 0 for every photo looked at
    photos: int
    p_dog: tuple[float, float]  # lowest and highest P(dog) over those photos
    batch_losses: tuple[float, ...]  # of the epoch's first batches, each batch's own

    @property
    def stalled(self) -> bool:
        low, high = self.p_dog
        return high - low < SAME_ANSWER

    @property
    def all_dead(self) -> bool:
        return self.layer is not None and self.dead == self.units


def batch_losses(running_means: Sequence[float]) -> list[float]:
    """Each batch's own loss from Keras's running mean after each batch (equal batches assumed)."""
    losses, total = [], 0.0
    for n, mean in enumerate(running_means, start=1):
        losses.append(mean * n - total)
        total = mean * n
    return losses


def first_dense(model: keras.Model) -> tuple[keras.layers.Layer, keras.layers.Layer] | None:
    """(the first hidden dense layer, its ReLU), or None where the only dense layer is the output
    (a network that pools globally straight into its sigmoid unit)."""
    layers = model.layers
    for layer, after in zip(layers, layers[1:]):
        relu = isinstance(after, keras.layers.Activation) and after.get_config()["activation"] == "relu"
        if isinstance(layer, keras.layers.Dense) and relu:
            return layer, after
    return None


def diagnose(model: keras.Model, images: np.ndarray, running_losses: Sequence[float] = (), first: int = 10) -> Stall:
    """Measure the first dense layer's dead units and the spread of P(dog) on `images`
    (network inputs in [0, 1]; at most PHOTOS of them are used)."""
    images = np.asarray(images[:PHOTOS], dtype="float32")
    found = first_dense(model)
    if found is None:
        p_dog = keras.ops.convert_to_numpy(model.predict(images, batch_size=64, verbose=0))
        layer, units, dead = None, 0, 0
    else:
        dense, relu = found
        probe = keras.Model(model.inputs[0], [relu.output, model.outputs[0]])
        hidden, p_dog = (keras.ops.convert_to_numpy(out) for out in probe.predict(images, batch_size=64, verbose=0))
        layer, units, dead = dense.name, int(hidden.shape[-1]), int(np.sum(~np.any(hidden > 0, axis=0)))
    return Stall(
        layer=layer,
        units=units,
        dead=dead,
        photos=len(images),
        p_dog=(float(p_dog.min()), float(p_dog.max())),
        batch_losses=tuple(batch_losses(running_losses)[:first]),
    )


def stall_sentences(stall: Stall) -> list[str]:
    """What a stalled epoch's numbers say, for the Training page and the CLI; [] when it did not stall."""
    if not stall.stalled:
        return []
    low, high = stall.p_dog
    said = [
        f"The network has stalled: on {stall.photos:,} validation photos it answers P(dog) between {low:.4f} and "
        f"{high:.4f}, the same for every photo, so it gets half of them right by the 0.5 rule, whatever they show.",
    ]
    if stall.layer is not None:
        said.append(f"{stall.dead} of {stall.layer}'s {stall.units} units never fire on those photos: their ReLU outputs 0.")
    if stall.batch_losses:
        peak = int(np.argmax(stall.batch_losses))
        said.append(
            f"The first batch's loss was {stall.batch_losses[0]:.2f} (a 50/50 guess costs log 2 = {math.log(2):.2f}); "
            f"batch {peak + 1}'s was {stall.batch_losses[peak]:.2f}: the first updates overshot"
            + (" and drove the units below zero." if stall.layer is not None else ".")
        )
    if stall.layer is None:
        return said
    said.append(
        "A unit whose ReLU outputs 0 passes back no gradient, so with all of them silent only the training photos "
        "that still make one fire, if any, can teach the network: more epochs may not help, and starting again "
        "at a lower learning rate is the surer remedy."
        if stall.all_dead
        else f"{stall.units - stall.dead} units still fire on some photos, so more epochs can pull the network out of it."
    )
    return said
