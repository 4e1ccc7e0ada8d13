"""Where the network looked: Grad-CAM and a plain gradient saliency map for one image.

Both ask the same question of the current weights, "which part of this photo moved the
score?", and answer it with gradients taken through the network by tf.GradientTape:

- Grad-CAM (Selvaraju et al., 2017) weighs each channel of the last convolution's ReLU
  output (relu_3, 71x71x64) by the mean gradient of the score over that channel, sums the
  weighted channels and keeps the positive part: a coarse map of the regions that argue for
  the class. It is computed at 71x71 and enlarged to the network input's 150x150.
- Saliency (Simonyan et al., 2013) is |d score / d pixel|, the largest over the three colour
  channels: which single pixels the score is most sensitive to. It is sharp but noisy.

The scores: "dog" is the sigmoid's output P(dog), "cat" is 1 - P(dog). Since
d(1 - p)/dx = -dp/dx, the cat saliency is exactly the dog saliency (only the sign of the
gradient differs, and the map shows its size), while the two Grad-CAMs keep opposite halves
of one weighted sum: where one is positive the other is zero.

The gradients are taken after the sigmoid, not on its input z as Selvaraju et al. do: the
shape is the same (the factor p(1 - p) is common to every channel and normalised away), but
a saturated output (P(dog) exactly 0 or 1 in float32, as unscaled pixels give) has every
gradient zero and blank maps; the Explorer says so when it happens.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cnnviz.backend import keras, tf
from cnnviz.mosaic import colourise

CLASSES = ("dog", "cat")

_gradient_models: "weakref.WeakKeyDictionary[keras.Model, keras.Model]" = weakref.WeakKeyDictionary()


def last_conv_activation(model: keras.Model) -> str:
    """The layer Grad-CAM reads: the ReLU after the last convolution (the last map with a place in the photo)."""
    names = [layer.name for layer in model.layers]
    last_conv = max(i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Conv2D))
    after = model.layers[last_conv + 1]
    return after.name if isinstance(after, keras.layers.Activation) else names[last_conv]


def _gradient_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s weights that returns (last conv ReLU output, P(dog))."""
    if model not in _gradient_models:
        conv = model.get_layer(last_conv_activation(model))
        _gradient_models[model] = keras.Model(model.inputs[0], [conv.output, model.outputs[0]])
    return _gradient_models[model]


def _check(target: str) -> None:
    if target not in CLASSES:
        raise ValueError(f"target must be one of {CLASSES}, got {target!r}")


def normalise01(x: np.ndarray) -> np.ndarray:
    """Divide by the largest value (maps here are >= 0); an all-zero map stays all zero."""
    x = np.asarray(x, dtype="float32")
    top = float(x.max()) if x.size else 0.0
    return x / top if top > 0 else np.zeros_like(x)


def resize_map(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear enlargement of a [0, 1] map to (height, width): Grad-CAM is coarse by nature."""
    image = Image.fromarray(np.asarray(m, dtype="float32"), mode="F")
    return np.clip(np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR)), 0.0, 1.0)


@dataclass(frozen=True)
class GradCam:
    target: str  # "dog" or "cat"
    layer: str  # the layer whose channels were weighed
    channel_weights: np.ndarray  # (channels,), mean gradient of the score per channel
    raw: np.ndarray  # (71, 71) ReLU(sum of weighted channels), before scaling
    heatmap: np.ndarray  # (150, 150) in [0, 1], raw / its max, enlarged to the input
    score: float  # the score the gradients are of: P(dog) or 1 - P(dog)


def _gradients(model: keras.Model, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One forward and one backward pass: (last conv ReLU output (h, w, c), d P(dog) / d that output,
    d P(dog) / d input pixel (150, 150, 3), P(dog)). "cat"'s gradients are these negated."""
    x = tf.convert_to_tensor(np.asarray(image, dtype="float32")[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        conv, p_dog = _gradient_model(model)(x, training=False)
        score = p_dog[:, 0]  # inside the tape: the slice is part of what is differentiated
    conv_grads, pixel_grads = tape.gradient(score, [conv, x])
    return conv[0].numpy(), conv_grads[0].numpy(), pixel_grads[0].numpy(), float(score.numpy()[0])


def _grad_cam(model: keras.Model, image: np.ndarray, target: str, passed) -> GradCam:
    _check(target)
    a, grads, _, p_dog = passed
    sign = 1.0 if target == "dog" else -1.0
    weights = sign * grads.mean(axis=(0, 1))
    raw = np.maximum(np.tensordot(a, weights, axes=([2], [0])), 0.0).astype("float32")
    # Scaled again after enlarging, so the hottest place reads as 1 at the size shown.
    heatmap = normalise01(resize_map(normalise01(raw), image.shape[:2]))
    return GradCam(target, last_conv_activation(model), weights, raw, heatmap, p_dog if target == "dog" else 1.0 - p_dog)


def grad_cam(model: keras.Model, image: np.ndarray, target: str = "dog") -> GradCam:
    """Grad-CAM of one network input (150, 150, 3) in [0, 1] for "dog" or "cat"."""
    return _grad_cam(model, image, target, _gradients(model, image))


def saliency(model: keras.Model, image: np.ndarray, target: str = "dog") -> np.ndarray:
    """|d score / d input pixel|, the largest over the colour channels, scaled to [0, 1]: (150, 150).
    The same for both targets: "cat"'s gradient is "dog"'s negated."""
    _check(target)
    return _saliency(_gradients(model, image))


def _saliency(passed) -> np.ndarray:
    return normalise01(np.abs(passed[2]).max(axis=-1))


def overlay(rgb: np.ndarray, heat01: np.ndarray, alpha: float = 0.5, cmap: str = "jet", lift: float = 0.5) -> np.ndarray:
    """A [0, 1] map coloured and blended over a uint8 photo of the same height and width.

    Where the map is 0 the photo shows through untouched, so a map that is zero somewhere
    (a cat Grad-CAM on a dog) leaves those parts of the photo plain rather than tinted blue.
    """

    photo = np.asarray(rgb, dtype="float32")
    heat = np.asarray(heat01, dtype="float32")
    if heat.shape != photo.shape[:2]:
        heat = resize_map(heat, photo.shape[:2])
    # The tint's strength is heat ** lift: the default square root lifts the middle of a
    # smooth Grad-CAM, which a tint proportional to the map would leave nearly invisible on a
    # projector; a speckled saliency map reads best at lift 1, where only its peaks show.
    weight = (alpha * np.clip(heat, 0.0, 1.0) ** lift)[..., None]
    blended = photo * (1 - weight) + colourise(heat, cmap).astype("float32") * weight
    return np.clip(np.rint(blended), 0, 255).astype("uint8")


@dataclass(frozen=True)
class Explanation:
    dog_probability: float
    grad_cams: dict[str, GradCam]  # "dog", "cat"
    saliency: np.ndarray  # (150, 150) in [0, 1]; the same for both classes (see the module's note)


def explain(model: keras.Model, image: np.ndarray) -> Explanation:
    """Both Grad-CAMs and the saliency map of one network input, for the Layer Explorer's tab: all
    three from one pass each way: a pass for each took three times the CPU (0.22 s against 0.075 s)."""
    passed = _gradients(model, image)
    cams = {target: _grad_cam(model, image, target, passed) for target in CLASSES}
    return Explanation(cams["dog"].score, cams, _saliency(passed))
