"""What the network computes for one image: every layer's activations, its filters, and
the check that a convolution layer really computes what the textbook says.

On "convolution": Keras's Conv2D, like every deep learning library, computes a
cross-correlation: the kernel slides over the image unflipped. A true convolution flips the
kernel first. `convolution_check` shows both, plus the tutorial's own check (a grayscale
image and an unflipped `convolve2d`), which only looks alike.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from scipy import signal

from cnnviz import THRESHOLD
from cnnviz.backend import keras, tf

from cnnviz.model import predict_dog_probability

_extractors: "weakref.WeakKeyDictionary[keras.Model, tf.types.experimental.GenericFunction]" = weakref.WeakKeyDictionary()


def _extractor(model: keras.Model):
    """A function sharing `model`'s weights that returns every layer's output: one pass for all.

    Compiled once per model as a TensorFlow graph for one image: called eagerly, the Keras
    model dispatches its fifteen layers one by one from Python, which costs more than the
    arithmetic. The weights are read when it runs, so it follows training and loaded weights.
    """
    if model not in _extractors:
        every_layer = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
        spec = tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32)
        _extractors[model] = tf.function(lambda x: every_layer(x, training=False), input_signature=[spec])
    return _extractors[model]


def activations(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for one network input (150, 150, 3) in [0, 1], batch axis removed."""
    x = np.asarray(image, dtype="float32")[None]
    outputs = _extractor(model)(x)
    return {layer.name: out.numpy()[0] for layer, out in zip(model.layers, outputs)}


def conv_filters(model: keras.Model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each convolution layer's (kernel (kh, kw, in, out), bias (out,))."""
    return {
        layer.name: tuple(keras.ops.convert_to_numpy(w) for w in layer.weights)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    }


def first_conv_layer(model: keras.Model) -> keras.layers.Conv2D:
    return next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


@dataclass(frozen=True)
class Verdict:
    label: str  # "dog" or "cat"
    probability: float  # of that label
    dog_probability: float  # the sigmoid's output itself


def verdict(dog_probability: float, threshold: float = THRESHOLD) -> Verdict:
    """The sigmoid gives P(dog), a number between 0 and 1: compare it with a threshold."""
    p = float(dog_probability)
    if p > threshold:
        return Verdict("dog", p, p)
    return Verdict("cat", 1.0 - p, p)


def classify(model: keras.Model, image: np.ndarray) -> Verdict:
    return verdict(predict_dog_probability(model, image)[0])


# --- is it really convolving? ---------------------------------------------------------


@dataclass(frozen=True)
class ConvCheck:
    filter_index: int
    network: np.ndarray  # the network's own feature map after ReLU, (148, 148)
    correlate: np.ndarray  # (a) correlate2d per channel, summed, + bias, ReLU
    flipped_convolve: np.ndarray  # (b) convolve2d with the kernel flipped, + bias, ReLU
    tutorial: np.ndarray  # (c) the tutorial's: grayscale image, unflipped convolve2d
    max_abs_difference: dict[str, float]  # variant -> max |variant - network|

    @property
    def dead(self) -> bool:
        """True when ReLU zeroed the whole map: then every variant matches and the check shows nothing."""
        return not self.network.any()


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def convolution_check(
    model: keras.Model, image: np.ndarray, filter_index: int = 0, feature_maps: np.ndarray | None = None
) -> ConvCheck:
    """Recompute one first-layer feature map by hand three ways and compare with the network's.

    `image` is the scaled network input (150, 150, 3) in [0, 1]; scaling matters, since the
    network was trained on scaled pixels (the tutorial forgot this for its test images).
    `feature_maps` is the first convolution's output after its ReLU for this image, as
    `first_conv_maps` reads it from `activations`: a caller that has them saves a forward pass.
    """
    layer = first_conv_layer(model)
    kernel, bias = (keras.ops.convert_to_numpy(w).astype("float64") for w in layer.weights)
    n_filters = kernel.shape[-1]
    if not 0 <= filter_index < n_filters:
        raise ValueError(f"filter_index must be in 0..{n_filters - 1}")
    x = np.asarray(image, dtype="float64")
    k, b = kernel[:, :, :, filter_index], bias[filter_index]
    channels = range(x.shape[-1])

    if feature_maps is None:
        feature_maps = first_conv_maps(model, activations(model, image))[1]
    network = np.asarray(feature_maps[:, :, filter_index], dtype="float64")
    correlate = _relu(sum(signal.correlate2d(x[:, :, c], k[:, :, c], mode="valid") for c in channels) + b)
    flipped = _relu(sum(signal.convolve2d(x[:, :, c], k[::-1, ::-1, c], mode="valid") for c in channels) + b)
    # The tutorial's version: one grey channel against the first channel's kernel, unflipped.
    gray = x.mean(axis=-1)
    tutorial = _relu(signal.convolve2d(gray, k[:, :, 0], mode="valid") + b)

    maps = {"correlate2d": correlate, "flipped convolve2d": flipped, "tutorial's grayscale convolve2d": tutorial}
    return ConvCheck(
        filter_index=filter_index,
        network=network,
        correlate=correlate,
        flipped_convolve=flipped,
        tutorial=tutorial,
        max_abs_difference={name: float(np.max(np.abs(m - network))) for name, m in maps.items()},
    )


def first_conv_maps(model: keras.Model, outputs: dict[str, np.ndarray]) -> tuple[str, np.ndarray]:
    """(layer name, maps): the first convolution's output after its ReLU, read from `activations`.

    The name is the ReLU layer's when the convolution has one after it, else the
    convolution's own (whose ReLU is then applied here).
    """
    conv_layer = first_conv_layer(model)
    names = [layer.name for layer in model.layers]
    after = names[names.index(conv_layer.name) + 1]
    if isinstance(model.get_layer(after), keras.layers.Activation):
        return after, outputs[after]
    return conv_layer.name, _relu(outputs[conv_layer.name])
