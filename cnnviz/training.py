"""Training epochs that report every batch and stop when asked.

One interface for the CLI (a tqdm bar) and the app (a background thread whose progress a
fragment polls): `train` calls `on_batch` after every batch and `on_epoch` after every
epoch, from the thread it runs in, and checks `stop` between batches.

A stop leaves the model as it was after the last completed batch, and the epoch's result
says so; the caller decides whether to keep that or roll back to the epoch's start.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

from cnnviz.backend import forget_graph_custom_gradients, keras

from cnnviz import CLASS_NAMES
from cnnviz.model import arithmetic_twin, copy_training_state, precision_of
from cnnviz.pipeline import _fits_in_memory, decoded_images, make_pipeline, releasable_pipeline
from cnnviz.split import Split
from cnnviz.errors import CnnvizError

# Keras warns when an epoch ends by exhausting a finite tf.data pipeline, which is exactly
# how every epoch here ends; the warning would only alarm a learner.
warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based, counted over the model's whole life
    batch: int  # 1-based within the epoch
    batches: int
    images: int  # training images seen so far this epoch
    loss: float  # running mean over the epoch so far, as Keras reports it
    accuracy: float
    images_per_second: float
    seconds_left: float  # in this epoch's training pass


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    loss: float
    accuracy: float
    val_loss: float | None  # None when the epoch was stopped before validation finished
    val_accuracy: float | None
    images: int
    seconds: float
    images_per_second: float  # training pass only, validation excluded
    stopped: bool  # True: the model holds the weights after batch `batches_done`, not a whole epoch
    batches_done: int
    batches: int

    def as_dict(self) -> dict:
        return asdict(self)


class _Reporter(keras.callbacks.Callback):
    """Turns Keras's batch callbacks into BatchProgress events and honours the stop flag."""

    def __init__(self, epoch, batches, batch_size, n_images, on_batch, stop):
        super().__init__()
        self.epoch, self.batches, self.batch_size, self.n_images = epoch, batches, batch_size, n_images
        self.on_batch, self.stop = on_batch, stop
        self.batches_done, self.images, self.logs = 0, 0, {}
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.batches_done = batch + 1
        self.images = min(self.batches_done * self.batch_size, self.n_images)
        self.logs = logs or {}
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.images / elapsed
        if self.on_batch:
            self.on_batch(
                BatchProgress(
                    epoch=self.epoch,
                    batch=self.batches_done,
                    batches=self.batches,
                    images=self.images,
                    loss=float(self.logs.get("loss", float("nan"))),
                    accuracy=float(self.logs.get("accuracy", float("nan"))),
                    images_per_second=rate,
                    seconds_left=(self.n_images - self.images) / rate,
                )
            )
        if self.stop is not None and self.stop.is_set():
            self.model.stop_training = True

    def on_test_batch_end(self, batch, logs=None):
        if self.stop is not None and self.stop.is_set():
            self.model.stop_evaluating = True


def train(
    model: keras.Model,
    split: Split,
    epochs: int = 1,
    *,
    batch_size: int = 32,
    augment: bool = False,
    first_epoch: int = 1,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
    stop: threading.Event | None = None,
    precision: str | None = None,
) -> list[EpochResult]:
    """Train a compiled model for `epochs` epochs on `split`, validating after each.

    `precision` is the arithmetic of the training steps (`cnnviz.precision`; None: the
    model's own). Validation is scored by `model` itself, so a float32 model gets float32
    figures however it was trained. Safe to call from a background thread. Returns the
    epochs that ran; the last one has `stopped=True` if `stop` was set during it.
    """
    if model.optimizer is None:
        raise ValueError("compile the model first (cnnviz.model.compile_model)")
    require_both_classes(split)
    batches = -(-len(split.train) // batch_size)
    worker = arithmetic_twin(model, precision or precision_of(model))
    cached = _decoded(split)
    if cached is None:  # too many photos to hold decoded: stream them from disk every epoch
        train_ds = make_pipeline(split.train, batch_size, training=True, augment=augment, seed=split.seed)
        val_ds = make_pipeline(split.val, batch_size, training=False)
    results = []
    for epoch in range(first_epoch, first_epoch + epochs):
        if cached is not None:
            # Decoded pixels outlive this call (they live as long as `split`), so the next
            # epoch, in this call or the next, reads no JPEG again; a fresh order per epoch.
            train_ds, release_train = releasable_pipeline(
                cached[0], batch_size, order_seed=(split.seed, epoch), augment=augment, seed=split.seed + epoch
            )
            val_ds, release_val = releasable_pipeline(cached[1], batch_size)
        try:
            result = _one_epoch(model, worker, train_ds, val_ds, epoch, batches, batch_size, len(split.train), on_batch, stop)
        finally:
            if cached is not None:
                release_train(), release_val()
            forget_graph_custom_gradients()  # else the traced train step keeps this model's variables for good
        results.append(result)
        if on_epoch:
            on_epoch(result)
        if result.stopped:
            break
    return results


def _decoded(split: Split):
    """(train, val) DecodedImages held by `split`, or None when they would not fit in memory."""
    if not split.val:
        make_pipeline(split.val)  # raises the pipeline's own "no images" error
    if not _fits_in_memory(len(split.train) + len(split.val)):
        return None
    for side in ("train", "val"):  # the same object again while the lists are unchanged
        split.decoded[side] = decoded_images(getattr(split, side))
    return split.decoded["train"], split.decoded["val"]


def require_both_classes(split: Split) -> None:
    """Refuse a split whose training side (or non-empty validation side) holds one class only.

    A network shown only cats learns to answer "cat" whatever the photo, and its accuracy
    says nothing; `split_dataset` never makes such a split, but a hand-made one can.
    """
    for side, items in (("training", split.train), ("validation", split.val)):
        labels = {label for _, label in items}
        if side == "validation" and not items:
            continue  # the pipeline says so in its own words
        if len(labels) < 2:
            what = f"are all {CLASS_NAMES[labels.pop()]}s" if labels else "are missing"
            raise CnnvizError(
                f"The {side} photos {what}: training needs cats and dogs on both sides. "
                "Choose a folder with both and split it again on the Data page."
            )


def _one_epoch(model, worker, train_ds, val_ds, epoch, batches, batch_size, n_images, on_batch, stop) -> EpochResult:
    """Train `worker` (`model`, or its twin in another precision), then validate `model`."""
    reporter = _Reporter(epoch, batches, batch_size, n_images, on_batch, stop)
    if worker is not model:
        copy_training_state(model, worker)
    try:
        # steps_per_epoch tells Keras the epoch's length; shuffle=False because the pipeline shuffles.
        worker.fit(train_ds, epochs=1, steps_per_epoch=batches, shuffle=False, callbacks=[reporter], verbose=0)
    finally:
        if worker is not model:  # what was learned, even in a stopped or failed epoch, is the model's
            copy_training_state(worker, model)
    train_seconds = time.perf_counter() - reporter.started
    stopped = stop is not None and stop.is_set()
    if reporter.batches_done < batches and not stopped:
        raise CnnvizError(
            f"The epoch ended early, after batch {reporter.batches_done} of {batches}: some photos could no "
            "longer be read (moved or deleted since the folder was scanned?); scan the folder again."
        )
    val_loss = val_accuracy = None
    if not stopped:
        scores = model.evaluate(val_ds, callbacks=[reporter], verbose=0, return_dict=True)
        stopped = stop is not None and stop.is_set()
        if not stopped:
            val_loss, val_accuracy = float(scores["loss"]), float(scores["accuracy"])
    return EpochResult(
        epoch=epoch,
        loss=float(reporter.logs.get("loss", float("nan"))),
        accuracy=float(reporter.logs.get("accuracy", float("nan"))),
        val_loss=val_loss,
        val_accuracy=val_accuracy,
        images=reporter.images,
        seconds=time.perf_counter() - reporter.started,
        images_per_second=reporter.images / max(train_seconds, 1e-9),
        stopped=stopped,
        batches_done=reporter.batches_done,
        batches=batches,
    )


@dataclass
class Plateau:
    """Early stopping and learning-rate halving, both judged on validation accuracy.

    Validation photos are never trained on, so keeping the best epoch by their accuracy
    is honest as long as the final figure is measured on photos outside both splits.
    """

    patience: int | None = None  # stop after this many epochs without a new best
    halve_after: int | None = None  # halve the learning rate after this many
    best: float = float("-inf")
    best_epoch: int = 0
    waited: int = 0

    def update(self, val_accuracy: float | None, epoch: int) -> str:
        """'best', 'halve', 'stop' or 'wait' for the epoch just finished."""
        if val_accuracy is not None and val_accuracy > self.best:
            self.best, self.best_epoch, self.waited = val_accuracy, epoch, 0
            return "best"
        self.waited += 1
        if self.patience and self.waited >= self.patience:
            return "stop"
        if self.halve_after and self.waited % self.halve_after == 0:
            return "halve"
        return "wait"


def set_learning_rate(model: keras.Model, learning_rate: float) -> None:
    model.optimizer.learning_rate.assign(learning_rate)
