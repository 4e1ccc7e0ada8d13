"""What a unit of the network looks for: an input made to excite it most, and the validation
photo patches that excite it most.

A unit is one filter of a convolution layer (its output channel, before the ReLU: the ReLU
would hide how negative it is and give no gradient there), or the output unit's logit z, the
sigmoid's input: +z for "dog", -z for "cat". How much an input excites a unit is the largest
value of the filter's map over the input (+z or -z for the output): the same measure for the
made input and for the photos, so the two can be compared.

- **The made input** (activation maximisation, as Lucid and OpenAI Microscope do it: Olah,
  Mordvintsev and Schubert, "Feature Visualization", Distill 2017). Gradient ascent on the
  input from faint noise raises the filter's mean over its whole map, which draws a texture
  of what it answers to, and the value of the unit at the centre, which draws one instance
  at full strength. Ascent on raw pixels finds high-frequency noise that excites the filter
  and looks like nothing; so the picture is made of Fourier coefficients scaled by
  1/frequency (equal steps then move broad shapes more than fine detail, whose share of a
  photo's spectrum is small too), its colours are mixed from decorrelated components (Lucid's
  colour correlation of natural photos), a sigmoid keeps every pixel in [0, 1] as the
  network's inputs are, and each step sees it shifted by a few random pixels (jitter), so no
  pattern relies on exact pixel positions.
- **The patches**: on each photo of a validation sample, the filter's strongest value and
  where it is; the nine photos with the largest, each cropped to the receptive field of that
  value (`cnnviz.architecture.receptive_fields`): the pixels that value was computed from,
  and no others. The output unit sees the whole photo, so its patches are whole photos.

What neither shows: what a unit "means". The made input is one input, among many, that moves
one number a lot under these constraints: another start, regulariser or step count draws
another picture that excites it as much. The patches show what excites it among these photos.

Results are kept in a small memo shared by every session (`cnnviz.memo`), keyed by the
weights' fingerprint, so the sessions showing the shipped weights share them.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from cnnviz.architecture import ReceptiveField, line_of, receptive_fields
from cnnviz.backend import compiled, keras, tf
from cnnviz.errors import CnnvizError
from cnnviz.evaluation import sample_items
from cnnviz.inspect import forward_to, output_layer, run_layers
from cnnviz.memo import Memo
from cnnviz.model import weights_fingerprint
from cnnviz.mosaic import grid, to_png
from cnnviz.pictures import enlarge, patch_outline
from cnnviz.pipeline import DecodedImages, decoded_images, items_key

OUTPUTS = {"dog": 1, "cat": -1}  # the output unit's sides: the sign of z that says each class
STEPS = 128  # gradient ascent steps for one made input: every filter of the shipped network beats its best photo patch by 1.5x or more at 128 (benchmarks/features.py: seconds)
RATE = 0.05  # Adam's step size, in the Fourier coefficients' units (Lucid's)
JITTER = 4  # pixels each step's view may be shifted by, either way (rounded to the unit's jump)
SMALLEST_SIDE = 64  # pixels: the smallest view a filter's made input is drawn at
SAMPLE = 300  # validation photos searched for patches, by default
PATCHES = 9

# Lucid's square root of the colour correlation of natural photos (ImageNet's), each column
# scaled to the largest column's length: three decorrelated components mixed into R, G and B.
_COLOUR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype="float32")
COLOURS = _COLOUR_SQRT / np.max(np.linalg.norm(_COLOUR_SQRT, axis=0))

_made: Memo = Memo(keep=256)  # a made input is 12 kB of pixels (67 kB for the output's 150 x 150): 256 hold a few MB
# A layer's peaks on a sample hold the sample's pixels (a shared DecodedImages: 20 MB for 300
# photos, once however many layers point at it) and two small arrays per filter.
_peaks: Memo = Memo(keep=8)
_steps: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()
_building = threading.Lock()


@dataclass(frozen=True)
class Unit:
    """What to excite: filter `index` of convolution layer `layer`, or with `output` ("dog" or
    "cat") the output unit's z, whose sign says each class."""

    layer: str
    index: int = 0
    output: str | None = None

    @property
    def sign(self) -> int:
        return OUTPUTS[self.output] if self.output else 1

    def words(self) -> str:
        """ "conv2d_1's filter 5", or "the dog output (+z)"."""
        if self.output:
            return f"the {self.output} output ({'+' if self.sign > 0 else '-'}z)"
        return f"{self.layer}'s filter {self.index}"

    @property
    def stem(self) -> str:
        """A file name for its figure: "looks_for_conv2d_1_filter_5", "looks_for_dog"."""
        return f"looks_for_{self.output}" if self.output else f"looks_for_{self.layer}_filter_{self.index}"


def conv_layers(model: keras.Model) -> list[str]:
    """The convolution layers, found by their type: the ones whose filters can be asked about."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def filter_unit(model: keras.Model, layer: str, index: int) -> Unit:
    """Filter `index` of convolution layer `layer`; CnnvizError naming what there is otherwise."""
    convs = conv_layers(model)
    if layer not in convs:
        raise CnnvizError(f"{layer!r} is not a convolution layer of this network: choose one of {', '.join(convs)}.")
    filters = model.get_layer(layer).filters
    if not 0 <= index < filters:
        raise CnnvizError(f"{layer} has filters 0 to {filters - 1}: choose one of those, not {index}.")
    return Unit(layer, int(index))


def output_unit(model: keras.Model, target: str) -> Unit:
    """The output unit's "dog" side (+z) or "cat" side (-z)."""
    if target not in OUTPUTS:
        raise CnnvizError(f"The output unit has a dog side and a cat side: choose 'dog' or 'cat', not {target!r}.")
    return Unit(output_layer(model).name, 0, target)


def receptive_field(model: keras.Model, unit: Unit) -> ReceptiveField | None:
    """The input square one value of the unit's map sees; None for the output unit (the whole photo)."""
    return receptive_fields(line_of(model.layers)).get(unit.layer)


# --- the unit's strongest value on each input -------------------------------------------------


def strongest(model: keras.Model, layer: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, rows, cols), each (n, channels): every channel's largest value over its map on
    each network input (n, h, w, 3) in [0, 1], and where it is; for the output layer, z itself
    at (0, 0)."""
    out = forward_to(model, (layer,))(tf.constant(np.asarray(images, dtype="float32")))[0].numpy()
    if out.ndim == 2:
        zeros = np.zeros(out.shape, dtype="int64")
        return out, zeros, zeros
    n, h, w, c = out.shape
    flat = out.reshape(n, h * w, c)
    at = flat.argmax(axis=1)
    return np.take_along_axis(flat, at[:, None, :], axis=1)[:, 0, :], at // w, at % w


# --- the made input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    """An input made by gradient ascent to excite `unit`."""

    unit: Unit
    image: np.ndarray  # (side, side, 3) uint8: the made input as the network saw it last
    activation: float  # the unit's strongest value on `image` (as uint8 pixels, what is shown)
    position: tuple[int, int]  # where in the unit's map
    start: float  # the same on the faint noise it started from
    steps: int
    seconds: float
    field: ReceptiveField | None  # the unit's receptive field; None for the output unit

    @cached_property
    def png(self) -> bytes:
        return to_png(self.image)

    @property
    def patch(self) -> np.ndarray:
        """The receptive field of the strongest value: the made input's own patch, the size of the
        photos' patches (the whole image for the output unit)."""
        if self.field is None:
            return self.image
        top, left = self.field.window(*self.position)
        return self.image[top : top + self.field.size, left : left + self.field.size]


def made_input(
    model: keras.Model,
    unit: Unit,
    steps: int = STEPS,
    seed: int = 0,
    on_step: Callable[[int, int], None] | None = None,
) -> Made:
    """The input gradient ascent makes to excite `unit` most, from seeded noise; `on_step(done,
    steps)` after each step. Kept in the shared memo: a second ask for the same weights, unit,
    steps and seed returns at once (and calls `on_step` once, with everything done)."""
    key = (weights_fingerprint(model), unit, steps, seed)
    found = _made.get(key, lambda: _make(model, unit, steps, seed, on_step))
    if on_step is not None:
        on_step(steps, steps)
    return found


@dataclass(frozen=True)
class Canvas:
    """How a made input is drawn: the network sees a `side` square view of a picture `margin`
    pixels larger on every side, shifted at each step by a random multiple of `jump` pixels
    (at most `margin` either way). A filter's map moves by whole values under such shifts, so
    the value at the picture's centre is always the same unit, seeing the same pixels."""

    side: int
    margin: int
    jump: int
    centre: int | None  # the top (and left) of the centre unit's window in the unshifted view; None for the output

    @property
    def full(self) -> int:
        return self.side + 2 * self.margin


def canvas(model: keras.Model, unit: Unit) -> Canvas:
    """The output unit's view is the photo's size (its dense layers need it); a filter's is twice
    its receptive field, at least SMALLEST_SIDE (room for its pattern to repeat) and at most the
    photo's: a small view takes far fewer multiply-adds a step."""
    photo = int(model.inputs[0].shape[1])
    field = receptive_field(model, unit)
    if field is None:
        return Canvas(photo, JITTER, 1, None)
    side = min(photo, max(SMALLEST_SIDE, 2 * field.size))
    margin = field.jump * max(1, round(JITTER / field.jump))
    return Canvas(side, margin, field.jump, (side - field.size) // 2 // field.jump * field.jump)


def _make(model: keras.Model, unit: Unit, steps: int, seed: int, on_step) -> Made:
    view = canvas(model, unit)
    step = _ascent_step(model, unit.layer, view)
    started = time.perf_counter()
    spectrum = tf.constant(np.random.default_rng(seed).normal(0.0, 0.01, (2, 3, view.full, view.full // 2 + 1)).astype("float32"))
    m, v = tf.zeros_like(spectrum), tf.zeros_like(spectrum)
    first = _unshifted(spectrum, view)
    index, sign = tf.constant(unit.index), tf.constant(float(unit.sign))
    for t in range(1, steps + 1):
        spectrum, m, v = step(spectrum, m, v, tf.constant(float(t)), index, sign, tf.constant([seed, t]))
        if on_step is not None and t < steps:
            on_step(t, steps)
    image = _unshifted(spectrum, view)
    values, rows, cols = strongest(model, unit.layer, np.stack([first, image]).astype("float32") / 255.0)
    reached = values[:, unit.index] * unit.sign
    return Made(
        unit=unit,
        image=image,
        activation=float(reached[1]),
        position=(int(rows[1, unit.index]), int(cols[1, unit.index])),
        start=float(reached[0]),
        steps=steps,
        seconds=time.perf_counter() - started,
        field=receptive_field(model, unit),
    )


def _unshifted(spectrum: tf.Tensor, view: Canvas) -> np.ndarray:
    """The view of a made picture that no step shifted, as uint8."""
    pixels = _picture(spectrum, view.full).numpy()[view.margin : view.margin + view.side, view.margin : view.margin + view.side]
    return np.clip(np.rint(pixels * 255), 0, 255).astype("uint8")


def _spectrum_scale(full: int) -> np.ndarray:
    """1/frequency for each coefficient of a full x full picture's real FFT (the lowest frequency
    capped), times full: the inverse FFT's 1/full² then leaves a unitary transform, so Adam's
    step means about as much as on pixels (Lucid's `fft_image`)."""
    fy = np.fft.fftfreq(full)[:, None]
    fx = np.fft.rfftfreq(full)[None, :]
    return (full / np.maximum(np.sqrt(fx * fx + fy * fy), 1.0 / full)).astype("float32")


def _picture(spectrum: tf.Tensor, full: int) -> tf.Tensor:
    """The made picture (full x full, 3 colours, in (0, 1)) from its coefficients (2: real and
    imaginary, 3 colour components, full, full // 2 + 1)."""
    scale = tf.constant(_spectrum_scale(full))
    planes = tf.signal.irfft2d(tf.complex(spectrum[0] * scale, spectrum[1] * scale), fft_length=[full, full])
    # Lucid divides by 4 so the starting noise sits near the sigmoid's middle: a grey picture.
    mixed = tf.tensordot(tf.transpose(planes, (1, 2, 0)) / 4.0, tf.constant(COLOURS.T), axes=1)
    return tf.sigmoid(mixed)


def _ascent_step(model: keras.Model, layer: str, view: Canvas):
    """One Adam step of gradient ascent on a made picture's coefficients, as a tf.function traced
    once per model and layer (the canvas follows from the layer); the filter, its sign and the
    shift's seed are its arguments.

    A filter's objective is its mean over the whole map, which draws a texture of what it
    answers to, plus the centre unit's value, which draws one instance at full strength: the
    mean alone spreads the effort, and a unit of the texture stays weaker than a good photo
    patch. The output unit's objective is z (or -z)."""
    shape = (2, 3, view.full, view.full // 2 + 1)
    with _building:
        found = _steps.setdefault(model, {})
        if layer not in found:
            coefficients = tf.TensorSpec(shape, tf.float32)
            scalar, whole = tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.int32)
            shifts = 2 * view.margin // view.jump + 1
            layers = list(model.layers)

            def step(spectrum, m, v, t, index, sign, seed):
                with tf.GradientTape() as tape:
                    tape.watch(spectrum)
                    picture = _picture(spectrum, view.full)
                    shift = tf.random.stateless_uniform((2,), seed, 0, shifts, dtype=tf.int32) * view.jump
                    seen = picture[shift[0] : shift[0] + view.side, shift[1] : shift[1] + view.side][None]
                    out, _ = run_layers(layers, seen, layer)
                    unit_map = sign * tf.gather(out, index, axis=-1)
                    objective = tf.reduce_mean(unit_map)
                    if view.centre is not None:
                        # Clipped: a field wider than half the photo leaves no room to shift around the centre.
                        at = tf.clip_by_value((view.margin + view.centre - shift) // view.jump, 0, tf.shape(unit_map)[1] - 1)
                        objective += unit_map[0, at[0], at[1]]
                g = tape.gradient(objective, spectrum)
                # Adam (Kingma and Ba), ascending: steps of about RATE whatever the gradient's scale.
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                rise = (m / (1 - 0.9**t)) / (tf.sqrt(v / (1 - 0.999**t)) + 1e-8)
                return spectrum + RATE * rise, m, v

            found[layer] = compiled(step, [coefficients, coefficients, coefficients, scalar, whole, scalar, tf.TensorSpec((2,), tf.int32)])
        return found[layer]


# --- the photos' patches ----------------------------------------------------------------------


@dataclass(frozen=True)
class Patch:
    path: str
    label: int
    activation: float  # the unit's strongest value on this photo (+z or -z for the output)
    top: int  # where the crop starts in the 150x150 network input
    left: int
    pixels: np.ndarray  # (size, size, 3) uint8: the receptive field around the strongest value

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def size(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class Patches:
    unit: Unit
    patches: list[Patch]  # strongest first
    searched: int  # photos of the sample that were read and searched
    field: ReceptiveField | None  # None: the output unit, whose patches are whole photos


@dataclass(frozen=True)
class _LayerPeaks:
    """Every channel's strongest value on every photo of a sample, and where: one pass serves every filter."""

    decoded: DecodedImages
    kept: np.ndarray  # indices of the readable photos in `decoded`
    values: np.ndarray  # (photos, channels)
    rows: np.ndarray
    cols: np.ndarray


def photo_sample(items: list[tuple[str, int]], n: int = SAMPLE, seed: int = 13) -> list[tuple[str, int]]:
    """A seeded, class-balanced sample of `n` labelled photos to search (all of them if fewer)."""
    return sample_items(items, n, seed)


def top_patches(
    model: keras.Model,
    unit: Unit,
    items: list[tuple[str, int]],
    k: int = PATCHES,
    batch_size: int = 32,
    on_batch: Callable[[int, int], None] | None = None,
) -> Patches:
    """The `k` photos of `items` whose strongest value of `unit` is largest, each cropped to its
    receptive field there. One batched pass over the photos finds every filter's peaks in the
    layer at once, kept in the shared memo: another filter of the same layer costs no pass.
    `on_batch(done, photos)` after each batch of that pass."""
    key = (weights_fingerprint(model), unit.layer, items_key(items))
    peaks = _peaks.get(key, lambda: _layer_peaks(model, unit.layer, items, batch_size, on_batch))
    field = receptive_field(model, unit)
    score = peaks.values[:, unit.index] * unit.sign
    order = np.argsort(-score, kind="stable")[:k]
    patches = []
    for i in order:
        at = peaks.kept[i]
        photo = peaks.decoded.images[at]
        if field is None:
            top = left = 0
            crop = photo
        else:
            top, left = field.window(int(peaks.rows[i, unit.index]), int(peaks.cols[i, unit.index]))
            crop = photo[top : top + field.size, left : left + field.size]
        path, label = items[at]
        patches.append(Patch(path, int(label), float(score[i]), top, left, crop.copy()))
    return Patches(unit, patches, len(peaks.kept), field)


def _layer_peaks(model: keras.Model, layer: str, items, batch_size: int, on_batch) -> _LayerPeaks:
    decoded = decoded_images(items)
    kept = decoded.decode_all()
    found, done = [], 0
    for x in decoded.network_inputs(kept, batch_size):
        found.append(strongest(model, layer, x))
        done += len(x)
        if on_batch is not None:
            on_batch(done, len(kept))
    values, rows, cols = (np.concatenate(part) for part in zip(*found))
    return _LayerPeaks(decoded, kept, values, rows, cols)


# --- one picture of both, and their numbers in words ------------------------------------------


MEANING = (
    "It shows what excites the unit, not what the unit means: the made input is one input among many that moves one "
    "number a lot under these constraints (another start or regulariser draws another picture that excites it as much), "
    "and the patches show what excites it among these photos."
)


def looks_for_words(made: "Made", patches: "Patches | None" = None) -> str:
    """The made input's strongest value (and its start), and the strongest photo patch's when there are patches."""
    line = f"{made.unit.words()}: the made input reaches {made.activation:.3f} ({made.steps} steps from {made.start:.3f} on faint noise)"
    if patches is not None and patches.patches:
        best = patches.patches[0]
        line += f"; the strongest of {patches.searched} photos, {best.name}, reaches {best.activation:.3f}"
    return line


FIGURE_CELL = 100  # pixels: each photo patch's side in `figure`
_BORDER = 2


def figure(made: Made, patches: Patches | None = None, cell: int = FIGURE_CELL) -> np.ndarray:
    """The made input, the receptive field of its strongest value framed in red, and beside it the
    photos' patches (when given) in a 3x3 grid, each enlarged without smoothing: `inspect`'s figure."""
    side = 3 * cell + 4 * _BORDER
    picture = enlarge(made.image, side)
    if made.field is not None:
        scale = side / made.image.shape[0]
        top, left = made.field.window(*made.position)
        picture = patch_outline(picture, round(top * scale), round(left * scale), round(made.field.size * scale), width=2)
    if patches is None or not patches.patches:
        return picture
    tiles = np.stack([enlarge(p.pixels, cell) for p in patches.patches])
    gap = np.full((side, 4 * _BORDER, 3), 255, dtype="uint8")
    return np.concatenate([picture, gap, grid(tiles, cols=3, border=_BORDER)[:side]], axis=1)
