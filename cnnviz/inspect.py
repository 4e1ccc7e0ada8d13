"""What the network computes for one image: every layer's activations, its filters, and
the check that a convolution layer really computes what the textbook says.

On "convolution": Keras's Conv2D, like every deep learning library, computes a
cross-correlation: the kernel slides over the image unflipped. A true convolution flips the
kernel first. `convolution_check` shows both, plus the tutorial's own check as it was
written: skimage's rgb2gray (weighted luminance) of the unscaled 0-255 photo, convolved with
the filter's red-input slice by `convolve2d` (which flips the kernel), no bias, ReLU, and
compared with the network's map of the unscaled photo. It computes a different feature:
`ConvCheck.tutorial_correlation` says how different.

`unscaled_test` is the tutorial's other slip, live: it fed unscaled pixels and tested
`prediction == 1`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
from scipy import signal

from cnnviz import RULE, THRESHOLD
from cnnviz.backend import compiled, keras, tf

from cnnviz.model import predict_dog_probability

_extractors: "weakref.WeakKeyDictionary[keras.Model, tf.types.experimental.GenericFunction]" = weakref.WeakKeyDictionary()
# A room arrives at once: without the lock, every session that found no extractor for the
# shared shipped model built and traced one of its own, and all but the last were thrown away.
_building = threading.Lock()


def _extractor(model: keras.Model):
    """A function sharing `model`'s weights that returns every layer's output: one pass for all.

    Compiled once per model as a TensorFlow graph for one image: called eagerly, the Keras
    model dispatches its fifteen layers one by one from Python, which costs more than the
    arithmetic. The weights are read when it runs, so it follows training and loaded weights.
    One per model object: every session showing the shipped weights shares this one.
    """
    found = _extractors.get(model)
    if found is None:
        with _building:
            found = _extractors.get(model)
            if found is None:
                every_layer = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
                spec = tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32)
                found = _extractors[model] = tf.function(lambda x: every_layer(x, training=False), input_signature=[spec])
    return found


_forwards: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


def run_layers(layers: list, x, last: str, keep: tuple[str, ...] = ()):
    """`x` through a model's `layers` in order up to the one named `last`: its output, and the
    outputs of the layers named in `keep` as a dict. Called inside a tf.function, so
    convolutions and pooling take inputs of any height and width.

    It takes the layers, not the model: a compiled function that held the model would keep it
    alive from a cache keyed weakly by that model, and a session's model must be freed."""
    kept = {}
    for layer in layers:
        x = layer(x, training=False)
        if layer.name in keep:
            kept[layer.name] = x
        if layer.name == last:
            return x, kept
    raise ValueError(f"no layer {last!r} here")


def forward_to(model: keras.Model, names: tuple[str, ...]):
    """A tf.function from a batch of network inputs (b, h, w, 3) to the outputs of the layers
    `names`, running the layers only as far as the last of them: no later layer's work, and no
    other layer's maps held. Compiled once per model and names; h and w may be anything the
    layers up to there accept."""
    with _building:
        found = _forwards.setdefault(model, {})
        if names not in found:
            last = max(names, key=[layer.name for layer in model.layers].index)
            # Past a flatten, a dense layer needs the input's own size.
            maps = len(model.get_layer(last).output.shape) == 4
            side = (None, None) if maps else tuple(model.inputs[0].shape[1:3])
            spec = tf.TensorSpec((None, *side, model.inputs[0].shape[-1]), tf.float32)

            layers = list(model.layers)

            def forward(x):
                _, kept = run_layers(layers, x, last, names)
                return tuple(kept[name] for name in names)

            found[names] = compiled(forward, [spec])
        return found[names]


def output_layer(model: keras.Model) -> keras.layers.Dense:
    """The output unit: the last dense layer, whose value z the sigmoid turns into P(dog)."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]


def hidden_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer whose values the output unit weighs: the last hidden layer (the tutorial's
    dropout after dense_1's ReLU, which passes values through when not training; the modern
    network's dropout after global average pooling)."""
    layers = model.layers
    return layers[layers.index(output_layer(model)) - 1]


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


# What P(dog) is, said once wherever it is shown.
SCORE_NOTE = (
    "P(dog) is the sigmoid's output: a score the training pushed towards 1 for dogs and 0 for cats, "
    "not a calibrated confidence (nobody checked that photos given 0.75 are dogs 75% of the time), "
    "and an untrained network gives about 0.5 for every photo."
)


def verdict(dog_probability: float, threshold: float = THRESHOLD) -> Verdict:
    """The sigmoid gives P(dog), a number between 0 and 1: compare it with a threshold."""
    p = float(dog_probability)
    if p > threshold:
        return Verdict("dog", p, p)
    return Verdict("cat", 1.0 - p, p)


def classify(model: keras.Model, image: np.ndarray) -> Verdict:
    return verdict(predict_dog_probability(model, image)[0])


def verdict_words(v: Verdict) -> str:
    """ "cat (P(cat) = 0.750, P(dog) = 0.250)": the label with both scores, never "75% sure"."""
    return f"{v.label} ({score_words(v)})"


def score_words(v: Verdict) -> str:
    """ "P(cat) = 0.750, P(dog) = 0.250", with more decimals where three would show 0.500 for a
    score on one side of the threshold: a verdict just past the line (a fooled photo's) shows which side."""
    p = v.dog_probability
    digits = next((d for d in range(3, 8) if round(p, d) != THRESHOLD), 3)
    return f"P(cat) = {1 - p:.{digits}f}, P(dog) = {p:.{digits}f}"


# --- the tutorial's test: unscaled pixels and `prediction == 1` -------------------------------


@dataclass(frozen=True)
class Reading:
    """One input through the network: the logit z (the sigmoid's input) and P(dog)."""

    z: float
    dog_probability: float  # as float32, the network's own dtype

    @property
    def equals_one(self) -> bool:
        """The tutorial's test, `prediction[0][0] == 1`."""
        return self.dog_probability == 1.0

    @property
    def tutorial_label(self) -> str:
        return "dog" if self.equals_one else "cat"

    @property
    def verdict(self) -> Verdict:
        return verdict(self.dog_probability)


@dataclass(frozen=True)
class UnscaledTest:
    scaled: Reading  # the network input in [0, 1], as it was trained
    unscaled: Reading  # the same pixels times 255, as the tutorial fed its test image

    def sentences(self) -> list[str]:
        """What the two readings show, every number from them."""
        s, u = self.scaled, self.unscaled
        out = [
            f"Scaled to 0–1 (as trained): z = {s.z:+.3f}, P(dog) = {s.dog_probability:.6g}; "
            f"`== 1` is {s.equals_one}, so the tutorial's test says **{s.tutorial_label}**; by the rule ({RULE}): **{s.verdict.label}**.",
            f"Unscaled 0–255 (as the tutorial fed it): z = {u.z:+.1f}, P(dog) = {u.dog_probability:.6g}; "
            f"`== 1` is {u.equals_one}, so the tutorial's test says **{u.tutorial_label}**; by the rule ({RULE}): **{u.verdict.label}**.",
        ]
        if u.dog_probability in (0.0, 1.0):
            out.append(
                f"Unscaled, z is so far from 0 that the float32 sigmoid rounds it to exactly {u.dog_probability:g}: "
                "the output is saturated, and `== 1` then answers "
                + ("dog." if u.equals_one else "cat.")
            )
        if not s.equals_one:
            out.append("Scaled, P(dog) is not exactly 1, so `== 1` calls this photo a cat whatever the network thinks.")
        return out


def _reading(outputs: dict[str, np.ndarray], model: keras.Model) -> Reading:
    last = model.layers[-1].name
    return Reading(z=float(outputs[output_layer(model).name].ravel()[0]), dog_probability=float(np.float32(outputs[last].ravel()[0])))


def unscaled_test(
    model: keras.Model,
    image: np.ndarray,
    scaled_outputs: dict[str, np.ndarray] | None = None,
    unscaled_outputs: dict[str, np.ndarray] | None = None,
) -> UnscaledTest:
    """The same photo through `model` scaled (the network input in [0, 1]) and unscaled (times 255).

    `scaled_outputs` and `unscaled_outputs`, every layer's output for `image` and for
    `unscaled_pixels(image)` as `activations` gives them, each save one pass.
    """
    x = np.asarray(image, dtype="float32")
    scaled = scaled_outputs if scaled_outputs is not None else activations(model, x)
    unscaled = unscaled_outputs if unscaled_outputs is not None else activations(model, unscaled_pixels(x))
    return UnscaledTest(_reading(scaled, model), _reading(unscaled, model))


def unscaled_pixels(image: np.ndarray) -> np.ndarray:
    """The network input (in [0, 1]) back at 0-255, as whole numbers: what the tutorial fed its network."""
    return np.round(np.asarray(image, dtype="float64") * 255.0).astype("float32")


# --- what a first-layer filter can show -----------------------------------------------------


@dataclass(frozen=True)
class FilterStats:
    shape: tuple[int, int, int]  # (kh, kw, input channels) of one filter
    filters: int
    mean_abs: float  # mean |weight| over the layer
    max_abs: float
    glorot_limit: float  # Keras's default initialiser draws from U(-limit, limit)

    @property
    def start_mean_abs(self) -> float:
        """The mean |weight| a fresh Glorot-uniform start gives: limit / 2."""
        return self.glorot_limit / 2

    @property
    def ratio(self) -> float:
        return self.mean_abs / self.start_mean_abs


def filter_stats(kernel: np.ndarray) -> FilterStats:
    """A convolution kernel (kh, kw, in, out) against the Glorot-uniform start Keras gives Conv2D."""
    k = np.asarray(kernel, dtype="float64")
    kh, kw, cin, cout = k.shape
    limit = float(np.sqrt(6.0 / (kh * kw * cin + kh * kw * cout)))
    return FilterStats((kh, kw, cin), cout, float(np.abs(k).mean()), float(np.abs(k).max()), limit)


# --- is it really convolving? ---------------------------------------------------------


@dataclass(frozen=True)
class ConvCheck:
    filter_index: int
    network: np.ndarray  # the network's own feature map after ReLU, (148, 148)
    correlate: np.ndarray  # (a) correlate2d per channel, summed, + bias, ReLU
    flipped_convolve: np.ndarray  # (b) convolve2d with the kernel flipped, + bias, ReLU
    tutorial: np.ndarray  # (c) the tutorial's: rgb2gray of the unscaled photo, red-input slice, convolve2d, no bias, ReLU
    tutorial_reference: np.ndarray  # the network's own map of the unscaled photo, which the tutorial compared (c) with
    max_abs_difference: dict[str, float]  # variant -> max |variant - its reference|
    firing: tuple[int, ...] = ()  # the first-layer filters whose map is not all zero on this photo

    @property
    def dead(self) -> bool:
        """True when ReLU zeroed the whole map on this photo: then (a) and (b) match trivially.

        Silent on this photo, not necessarily dead: another photo may make it fire."""
        return not self.network.any()

    @property
    def silent(self) -> bool:
        return self.dead

    @property
    def tutorial_correlation(self) -> float | None:
        """Pearson correlation of the tutorial's map with the network's map of the unscaled photo;
        None when either is constant (all zero, say), where a correlation means nothing."""
        return correlation(self.tutorial, self.tutorial_reference)

    @property
    def scale_ratio(self) -> float | None:
        """The network's unscaled map's largest value over the tutorial's: how far apart their units are."""
        top, reference = float(self.tutorial.max()), float(self.tutorial_reference.max())
        return reference / top if top > 0 and reference > 0 else None


def correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = np.ravel(a).astype("float64"), np.ravel(b).astype("float64")
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


TUTORIAL_VARIANT = "tutorial's convolve2d (rgb2gray, red-input weights, no bias)"


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def convolution_check(
    model: keras.Model,
    image: np.ndarray,
    filter_index: int = 0,
    feature_maps: np.ndarray | None = None,
    unscaled_maps: np.ndarray | None = None,
) -> ConvCheck:
    """Recompute one first-layer feature map by hand three ways and compare with the network's.

    `image` is the scaled network input in [0, 1]; (a) and (b) are compared with the
    network's map of it. (c), the tutorial's check, is done as the tutorial did it: on the
    unscaled 0-255 photo, compared with the network's map of that.
    `feature_maps` and `unscaled_maps` are the first convolution's output after its ReLU for
    the scaled and unscaled image, as `first_conv_maps` reads them from `activations`: a
    caller that has them saves a forward pass each.
    """
    from skimage.color import rgb2gray

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
    unscaled = unscaled_pixels(image)
    if unscaled_maps is None:
        unscaled_maps = first_conv_maps(model, activations(model, unscaled))[1]
    network = np.asarray(feature_maps[:, :, filter_index], dtype="float64")
    correlate = _relu(sum(signal.correlate2d(x[:, :, c], k[:, :, c], mode="valid") for c in channels) + b)
    flipped = _relu(sum(signal.convolve2d(x[:, :, c], k[::-1, ::-1, c], mode="valid") for c in channels) + b)
    # The tutorial's version, as it wrote it: rgb2gray of the uint8 photo (weighted luminance,
    # in [0, 1]), the kernel's red-input slice, convolve2d (which flips it), no bias, then ReLU.
    gray = rgb2gray(unscaled.astype("uint8"))
    tutorial = _relu(signal.convolve2d(gray, k[:, :, 0], mode="valid"))
    reference = np.asarray(unscaled_maps[:, :, filter_index], dtype="float64")

    differences = {
        "correlate2d": float(np.max(np.abs(correlate - network))),
        "flipped convolve2d": float(np.max(np.abs(flipped - network))),
        TUTORIAL_VARIANT: float(np.max(np.abs(tutorial - reference))),
    }
    firing = tuple(int(i) for i in np.flatnonzero(np.asarray(feature_maps).reshape(-1, n_filters).any(axis=0)))
    return ConvCheck(
        filter_index=filter_index,
        network=network,
        correlate=correlate,
        flipped_convolve=flipped,
        tutorial=tutorial,
        tutorial_reference=reference,
        max_abs_difference=differences,
        firing=firing,
    )


def check_lines(check) -> list[str]:
    """The convolution check's findings in plain sentences: the pack's text, and the CLI's."""
    d = check.max_abs_difference
    lines = []
    if check.dead:
        others = ", ".join(str(i) for i in check.firing[:5])
        lines.append(
            f"Filter {check.filter_index} never fires on this photo: ReLU cut every value of its map to 0 (silent here, "
            "not necessarily dead; another photo may make it fire). correlate2d and flipped convolve2d 'match' only a map "
            f"of zeros, which proves nothing. Filters that do fire here: {others or 'none'}."
        )
    else:
        lines.append(
            f"correlate2d and convolve2d with the kernel flipped reproduce the network's map: max |difference| "
            f"{d['correlate2d']:.2g} and {d['flipped convolve2d']:.2g} (float rounding)."
        )
    r = check.tutorial_correlation
    ratio = check.scale_ratio
    lines.append(
        "The tutorial's check (rgb2gray of the unscaled photo, the red-input weights only, no bias, convolve2d, which flips "
        "the kernel) against the network's map of the unscaled photo: max |difference| "
        f"{d[TUTORIAL_VARIANT]:.3g}, correlation "
        + ("undefined (one map is constant)" if r is None else f"{r:+.2f}")
        + ("" if ratio is None else f", the network's map {ratio:.0f} times larger at its peak")
        + ". It computes a different feature, not the same one."
    )
    return lines


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
