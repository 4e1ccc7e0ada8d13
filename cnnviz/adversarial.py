"""Fooling the network: the fast gradient sign method (FGSM; Goodfellow et al., 2015).

Every value of the network input (each pixel's red, green and blue, in [0, 1]) is moved by
the same small amount ε, up or down, whichever way raises the loss against the network's
own verdict: the sign of the loss's gradient with respect to that value, taken once at the
photo. The result is clipped back into [0, 1], so a value already at 0 or 1 may move less.
ε is in the input's units: 0.01 is 2.55 of the 0-255 levels a photo's pixels have.

`smallest_flip` walks the same sign direction from ε = 0: it tries `steps` evenly spaced ε
up to `max_epsilon` in one batch, takes the first that flips the verdict (by
`cnnviz.RULE`), and bisects between it and the step before until the flipping end is known
to within `precision` of itself (1%); it returns that end, so the verdict at it is flipped.
None when nothing up to `max_epsilon` flips it. The score need not change monotonically
along the direction, so the answer is the first flip the grid and the bisection see: an ε
between two grid steps that both kept the verdict could flip it too (on 20 photos with the
shipped weights, a scan in steps of 0.00025 found no earlier flip).

What it shows: a change too small to notice, a level or two of 255 on every value, turns
the verdict when it is aimed. Goodfellow et al.'s explanation: over such small steps the
network is roughly linear, so 67,500 input values each moved by ε the way that lowers the
score change z, the sigmoid's input, by about ε times the sum of |dz/dx| over all of them.
For the shipped network that sum is in the hundreds (510-810 on four photos), so an ε of a
few thousandths moves z by a few units, as far as a confident verdict is from z = 0 (this
estimate came within a factor of 2 of the flipping ε on those photos). The verdict rests on
many small cues spread over the pixels, which can all be pushed at once; a person looking
at the photo sees no difference.
What it does not show: that noise of the same size flips verdicts (random ±ε signs at the
flipping ε, and at 4 times it, flipped none of 30 photos: `benchmarks/views.py`), that the
network is wrong on ordinary photos, or that the same change would fool another network or
a person. It needs this network's gradients, so full access to its weights, and the changes
are made in float pixels: saved as an 8-bit image, a change under half a level
(ε < 0.002) rounds away.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from cnnviz.architecture import line_of, unread_edge
from cnnviz.backend import keras, tf
from cnnviz.inspect import Verdict, verdict
from cnnviz.model import predict_dog_probability

MAX_EPSILON = 0.05  # the app's slider's end: 12.75 levels of 0-255, clearly visible as noise
PRECISION = 0.01  # bisection stops when the flipping ε is known to within 1% of itself
FLOAT_STEP = float(np.finfo(np.float32).eps)  # the smallest step a pixel value near 1 can take: no ε is known finer
STEPS = 16  # the first search's evenly spaced ε, one batch
HALF_LEVEL = 0.5 / 255  # a change smaller than this rounds away when the photo is saved as an 8-bit image

_logit_models: "weakref.WeakKeyDictionary[keras.Model, keras.Model]" = weakref.WeakKeyDictionary()


def _logit_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s weights that returns z, the output unit before its sigmoid."""
    if model not in _logit_models:
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
        _logit_models[model] = keras.Model(model.inputs[0], dense.output)
    return _logit_models[model]


def attack_direction(model: keras.Model, image: np.ndarray, label: str) -> np.ndarray:
    """sign(d loss / d pixel) for the binary cross-entropy against `label` ("dog" or "cat"):
    (h, w, 3) of -1, 0 and +1, the way each input value should move to lower P(label).

    Taken on z, the sigmoid's input, rather than on P(dog): the sign is the same (the sigmoid
    rises everywhere), but where float32 rounds P(dog) to exactly 0 or 1 its gradient is zero,
    and z's is not. Lowering P(dog) is lowering z, so the direction is -sign(dz/dx) against dog
    and +sign(dz/dx) against cat. Where z does not depend on a value at all (every unit of a
    dense layer silent, as in some untrained networks) its sign is 0: nothing moves, and nothing flips.
    """
    if label not in ("dog", "cat"):
        raise ValueError(f"label must be 'dog' or 'cat', got {label!r}")
    x = tf.convert_to_tensor(np.asarray(image, dtype="float32")[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = _logit_model(model)(x, training=False)
    gradient = tape.gradient(z, x)[0].numpy()
    return (np.sign(gradient) * (-1.0 if label == "dog" else 1.0)).astype("float32")


def random_direction(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random signs, -1 or +1 for each input value: the control for `attack_direction`, a change of the
    same size aimed nowhere."""
    return np.random.default_rng(seed).choice(np.array([-1.0, 1.0], dtype="float32"), size=shape)


def perturb(image: np.ndarray, direction: np.ndarray, epsilon: float) -> np.ndarray:
    """The input moved by epsilon along direction, clipped to the valid range [0, 1]."""
    return np.clip(np.asarray(image, dtype="float32") + np.float32(epsilon) * direction, 0.0, 1.0)


@dataclass(frozen=True)
class Fooled:
    epsilon: float
    perturbed: np.ndarray  # (h, w, 3) in [0, 1]
    before: Verdict
    after: Verdict

    @property
    def flipped(self) -> bool:
        return self.after.label != self.before.label


def fool(model: keras.Model, image: np.ndarray, epsilon: float, direction: np.ndarray, before: Verdict) -> Fooled:
    """The photo perturbed by epsilon along `direction` (from `attack_direction` against `before`'s
    label), and the network's verdict on it."""
    perturbed = perturb(image, direction, epsilon)
    return Fooled(float(epsilon), perturbed, before, verdict(float(predict_dog_probability(model, perturbed)[0])))


def smallest_flip(
    model: keras.Model,
    image: np.ndarray,
    direction: np.ndarray,
    before: Verdict,
    max_epsilon: float = MAX_EPSILON,
    precision: float = PRECISION,
    steps: int = STEPS,
) -> float | None:
    """The smallest ε along `direction` that flips `before` (see the module's note), to within
    `precision` of itself; None when no ε up to `max_epsilon` does."""
    grid = np.linspace(max_epsilon / steps, max_epsilon, steps)
    labels = [verdict(p).label for p in predict_dog_probability(model, np.stack([perturb(image, direction, e) for e in grid]))]
    first = next((i for i, label in enumerate(labels) if label != before.label), None)
    if first is None:
        return None
    low, high = (float(grid[first - 1]) if first else 0.0), float(grid[first])
    while high - low > max(precision * high, FLOAT_STEP):
        middle = (low + high) / 2
        if fool(model, image, middle, direction, before).flipped:
            high = middle
        else:
            low = middle
    return high


def amplification(epsilon: float) -> float:
    """How many times `amplified` enlarges a change of ε: to half the range, so ±ε reaches each channel's ends."""
    return 0.5 / epsilon


def amplified(image: np.ndarray, perturbed: np.ndarray, epsilon: float) -> np.ndarray:
    """The change made to each input value, scaled so that in each colour channel +ε is full,
    −ε is none and no change is half (every value moves, so the colours mix: a red dot had red
    raised and green and blue lowered; clipped values that could not move stay at half), as uint8 RGB."""
    change = np.asarray(perturbed, dtype="float32") - np.asarray(image, dtype="float32")
    scaled = 0.5 + amplification(epsilon) * change if epsilon > 0 else np.full_like(change, 0.5)
    return np.clip(np.rint(scaled * 255), 0, 255).astype("uint8")


def epsilon_words(epsilon: float) -> str:
    """ "ε = 0.00114 (0.29 of 255 levels)": ε in the input's units and in a photo's 0-255 levels."""
    return f"ε = {epsilon:.5f} ({epsilon * 255:.2f} of 255 levels)"


def flip_words(before: Verdict, smallest: float | None, max_epsilon: float = MAX_EPSILON) -> str:
    """The smallest flipping ε in words, in the input's units and in 0-255 levels."""
    other = "cat" if before.label == "dog" else "dog"
    if smallest is None:
        return f"no ε up to {max_epsilon:g} ({max_epsilon * 255:.2f} of 255 levels) turns {before.label} into {other}"
    return f"the smallest ε that turns {before.label} into {other} is {smallest:.5f} ({smallest * 255:.2f} of 255 levels)"


def unseen_edge_words(layers) -> str | None:
    """Why the change stays grey along the right and bottom edges, for a network (its Keras
    `layers`) that never reads them; None where it reads every pixel."""
    edge = unread_edge(line_of(layers))
    return None if edge is None else f"Grey along the right and bottom edges: {edge}, so the gradient there is zero and nothing moves."
