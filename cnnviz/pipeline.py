"""Photos into the network with tf.data: decoded, squashed to 150x150, batched, maybe augmented.

Decoded pixels are kept in memory as uint8 when they fit, so later epochs skip the JPEG
decoding, and `decoded_images` shares one copy between sessions that split a folder alike.
Importing this module imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Iterable, Iterator

import numpy as np
import psutil

from cnnviz import census
from cnnviz.backend import keras, tf
from cnnviz.errors import CnnvizError
from cnnviz.images import IMAGE_SIZE

_CACHE_BUDGET = 4 * 2**30  # bytes of decoded uint8 pixels held in memory at most
_SHUFFLE_AFTER_CACHE = 2048  # reshuffles the cached order each epoch without a long first wait
_PREFETCH = 2  # elements (batches, or photos while decoding) ready ahead of their consumer


def make_pipeline(
    items: Iterable[tuple[str, int]],
    batch_size: int = 32,
    training: bool = False,
    augment: bool = False,
    seed: int = 13,
    cache: bool = True,
):
    """A tf.data.Dataset of (images (b, 150, 150, 3) float32 in [0, 1], labels (b,) float32).

    Photos are squashed to 150x150 (no aspect kept, as in the tutorial and cnnviz.images).
    `training` shuffles with `seed`; `augment` adds flips, rotations and zooms, and only
    ever applies with `training`, so validation batches are never altered. Decoded pixels
    are kept in memory as uint8 (a quarter of float32) when they fit, so later epochs skip
    the JPEG decoding.

    The scan has already rejected every file TensorFlow cannot decode. A file changed or
    removed since then is dropped by `ignore_errors`, which logs a warning for each one,
    rather than ending the epoch.
    """
    items = list(items)
    if not items:
        raise CnnvizError("There are no images to feed the network: choose a folder with cat and dog photos.")
    # As bytes: a file name that is not UTF-8 (copied from an old Windows zip, say) is a
    # valid Linux path, but a str tensor cannot hold it.
    paths = tf.constant([os.fsencode(path) for path, _ in items])
    labels = tf.constant([float(label) for _, label in items], dtype=tf.float32)
    in_memory = cache and _fits_in_memory(len(items))
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if training:
        # A cache replays its first order, so with one the file order is shuffled once here
        # and reshuffled after the cache; without one, every epoch gets a fresh order here.
        ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=not in_memory)
    ds = ds.map(_decode_resized, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)
    if in_memory:
        ds = ds.cache()
        if training:
            ds = ds.shuffle(min(len(items), _SHUFFLE_AFTER_CACHE), seed=seed + 1)
    ds = ds.batch(batch_size).map(_to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment:
        augmenter = _augmenter(seed)
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotune(ds.prefetch(_PREFETCH))


# --- decoded images shared across epochs, calls and sessions ---------------------------------


class DecodedImages:
    """The decoded, resized uint8 pixels of one list of photos, filled as epochs read them.

    Only pixels, labels and paths: never a model, so sessions that split the same folder the
    same way share one copy (see `decoded_images`) without seeing each other's training.
    A slot is written once, by the first epoch that reads its photo, and read-only after;
    two sessions decoding the same photo at once write the same bytes.
    """

    def __init__(self, items: list[tuple[str, int]]):
        self.paths = [path for path, _ in items]
        self.labels = np.array([float(label) for _, label in items], dtype="float32")
        self.images = np.empty((len(items), IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8")  # pages committed on write
        self.ready = np.zeros(len(items), dtype=bool)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def nbytes(self) -> int:
        return int(self.ready.sum()) * IMAGE_SIZE * IMAGE_SIZE * 3

    def batches(self, order: Iterable[int], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(uint8 images, float32 labels) in `order`, decoding the photos not yet decoded.

        Photos that cannot be read are left out, as `make_pipeline`'s `ignore_errors` does,
        so an epoch ends early exactly when it would without the cache. Every photo this call
        decodes is taken off its stream where the order reaches it, even one that another
        epoch on the same photos decoded meanwhile: the stream runs in step with the order.
        """
        order = np.asarray(list(order), dtype="int64")
        missing = order[~self.ready[order]]
        fresh = iter(_decode_stream([self.paths[i] for i in missing], missing)) if len(missing) else iter(())
        pending = next(fresh, None)
        chosen: list[int] = []
        for i in order:
            if pending is not None and pending[0] == i:
                if not self.ready[i]:  # another epoch on the same photos may have decoded it meanwhile
                    self.images[i] = pending[1]
                    self.ready[i] = True
                pending = next(fresh, None)
            elif not self.ready[i]:
                continue  # could not be read: dropped from this epoch
            chosen.append(int(i))
            if len(chosen) == batch_size:
                yield self.images[chosen], self.labels[chosen]
                chosen = []
        if chosen:
            yield self.images[chosen], self.labels[chosen]


    def decode_all(self) -> np.ndarray:
        """Decode every photo not decoded yet; the indices of the photos that could be read."""
        for _ in self.batches(range(len(self)), 256):
            pass
        return np.flatnonzero(self.ready)

    def network_inputs(self, indices: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
        """The decoded photos at `indices` as network inputs (float32 in [0, 1]), a batch at a time."""
        for start in range(0, len(indices), batch_size):
            yield self.images[indices[start : start + batch_size]].astype("float32") / 255.0


def _decode_stream(paths: list[str], indices: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(index, uint8 image) for each readable path, in order, decoded in parallel by tf.data."""
    ds = tf.data.Dataset.from_tensor_slices((tf.constant([os.fsencode(p) for p in paths]), tf.constant(indices)))
    ds = ds.map(_decode_resized, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)
    for image, index in without_autotune(ds.prefetch(_PREFETCH)).as_numpy_iterator():
        yield int(index), image


_decoded_lock = threading.Lock()
_decoded_shared: "weakref.WeakValueDictionary[str, DecodedImages]" = weakref.WeakValueDictionary()


def items_key(items: Iterable[tuple[str, int]]) -> str:
    """A digest of a list of (path, label), order included: equal for the same photos in the same order."""
    digest = hashlib.sha256()
    for path, label in items:
        digest.update(os.fsencode(path) + b"\0" + str(int(label)).encode() + b"\n")
    return digest.hexdigest()


def decoded_images(items: Iterable[tuple[str, int]]) -> DecodedImages:
    """The one `DecodedImages` for this exact list of (path, label), shared while anyone holds it.

    Keyed by the list itself (paths, labels, order), so two sessions that split the same
    folder with the same seed share one copy of the pixels; when the last holder lets go
    (a Split's `decoded` holds it for as long as the split lives), the memory is freed.
    """
    items = list(items)
    key = items_key(items)
    with _decoded_lock:
        found = _decoded_shared.get(key)
        if found is None:
            found = DecodedImages(items)
            _decoded_shared[key] = found
            census.track(census.DECODED, found)
        return found


def validation_inputs(split, n: int) -> np.ndarray:
    """Network inputs (in [0, 1]) of `n` readable validation photos of `split`, spread evenly over
    its list (sorted by name, so the first `n` would be cats only): the pixels an epoch already
    decoded, when it did."""
    decoded = split.decoded.get("val") or decoded_images(split.val)
    spread = np.unique(np.linspace(0, len(decoded) - 1, min(n, len(decoded))).astype("int64")) if len(decoded) else []
    images, _labels = next(decoded.batches(spread, n), (np.empty((0, IMAGE_SIZE, IMAGE_SIZE, 3), "uint8"), None))
    return images.astype("float32") / 255.0


def cached_pipeline(decoded: DecodedImages, batch_size: int, order_seed: int | None = None, augment: bool = False, seed: int = 13):
    """A one-epoch tf.data.Dataset over `decoded`, the same batches `make_pipeline` makes.

    `order_seed` None keeps the list's order (validation); otherwise the photos are
    permuted by it (pass something that changes every epoch, e.g. (seed, epoch)).
    """
    return releasable_pipeline(decoded, batch_size, order_seed, augment, seed)[0]


def releasable_pipeline(decoded: DecodedImages, batch_size: int, order_seed=None, augment: bool = False, seed: int = 13):
    """(`cached_pipeline`'s dataset, release): after release() the dataset no longer holds the pixels.

    TensorFlow keeps a from_generator's generator alive after the dataset is gone, and with
    it whatever the generator refers to; release() lets the pixels go when the last split does.
    """
    n = len(decoded)
    order = np.arange(n) if order_seed is None else np.random.default_rng(order_seed).permutation(n)
    source = [decoded]

    def generate():
        held = source[0]
        if held is None:
            raise CnnvizError("This epoch's pipeline was released; make a new one.")
        yield from held.batches(order, batch_size)

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 3), tf.uint8),
            tf.TensorSpec((None,), tf.float32),
        ),
    )
    ds = ds.map(_to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmenter = _augmenter(seed)
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotune(ds.prefetch(_PREFETCH)), lambda: source.__setitem__(0, None)


def without_autotune(ds):
    """`ds` with tf.data's autotuner off; its parallel maps then keep one call per core.

    The autotuner's thread sleeps in doubling periods (10 ms, 20 ms, ... 5.12 s, ...), and
    deleting an iterator sometimes waits for the current period to end instead of cutting
    it short: up to seconds with both cores idle, after every epoch's training pass, its
    validation pass and its decoding. `benchmarks/iterator_teardown.py` measures that wait.
    For these pipelines (a decode per photo, a cast, an augmentation), one call per core
    and a fixed prefetch are what the autotuner would settle on anyway.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _fits_in_memory(n: int) -> bool:
    needed = n * IMAGE_SIZE * IMAGE_SIZE * 3
    return needed <= min(_CACHE_BUDGET, psutil.virtual_memory().available // 2)


def _decode_resized(path, label):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    # antialias=True widens the kernel when shrinking, as Pillow's BILINEAR in cnnviz.images does.
    resized = tf.image.resize(image, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8), label


def _to_unit_range(images, labels):
    return tf.cast(images, tf.float32) / 255.0, labels


# What `--augment` and the Training page's checkbox do to each training photo, drawn anew per batch.
FLIP = "horizontal"
ROTATION = 0.08  # at most this fraction of a full turn, either way
ZOOM = 0.1  # in or out by at most this fraction


def augmentation_words() -> str:
    """The augmentation in a learner's words, from the constants the augmenter is built with."""
    return (
        f"random {FLIP} flips, rotations of up to {ROTATION:g} of a turn (±{360 * ROTATION:.0f}°) "
        f"and zooms of up to ±{ZOOM:.0%}"
    )


def _augmenter(seed: int):
    return keras.Sequential(
        [
            keras.layers.RandomFlip(FLIP, seed=seed),
            keras.layers.RandomRotation(ROTATION, seed=seed + 1),
            keras.layers.RandomZoom(ZOOM, seed=seed + 2),
        ],
        name="augmentation",
    )
