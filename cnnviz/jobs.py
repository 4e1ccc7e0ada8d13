"""One training epoch in a background thread, whose progress a page polls.

The app's Training page must stay usable while an epoch runs (a minute or ten on a laptop),
and leaving the page and coming back must neither stop nor corrupt the epoch. So the epoch
runs in a thread of its own, owned by a `TrainingJob` kept in the browser session's state,
and the page only ever reads a `JobStatus`: an immutable snapshot taken under a lock.

The job snapshots the weights and the optimizer's state before the first batch, so after a
stop or a failure the page can offer to roll back to the epoch's start, and it says in
words which state the model is in ("after batch 37 of 63 of epoch 2", or "as it was at
the start of epoch 2").

No streamlit here: the same job runs under the tests and could run under the CLI.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass

from cnnviz.backend import keras
import numpy as np

from cnnviz.split import Split
from cnnviz.errors import CnnvizError
from cnnviz.training import BatchProgress, EpochResult, require_both_classes, train

STATES = ("running", "finished", "stopped", "failed")

# At most one job trains a given model at a time: two would interleave their updates.
_busy_lock = threading.Lock()
_busy_models: dict[int, "TrainingJob"] = {}
_job_ids = itertools.count(1)


@dataclass(frozen=True)
class JobStatus:
    """What the page shows, read in one piece so that no number contradicts another."""

    state: str  # one of STATES
    epoch: int
    batches: int  # in this epoch's training pass
    progress: tuple[BatchProgress, ...]  # every batch so far, for the live curves
    result: EpochResult | None  # set when the epoch ended (also when stopped: see result.stopped)
    error: str | None  # set when state == "failed": what went wrong, in words a person can act on
    warning: str | None  # set when the epoch finished but not quite as asked (photos vanished)
    model_state: str  # which weights the model holds now, in words
    seconds: float  # since the job started
    rolled_back: bool

    @property
    def latest(self) -> BatchProgress | None:
        return self.progress[-1] if self.progress else None

    @property
    def batches_done(self) -> int:
        return self.progress[-1].batch if self.progress else 0

    @property
    def fraction(self) -> float:
        """Of the training pass, 0..1; validation follows it."""
        return min(1.0, self.batches_done / self.batches) if self.batches else 0.0

    @property
    def validating(self) -> bool:
        return self.state == "running" and self.batches_done >= self.batches

    @property
    def can_roll_back(self) -> bool:
        return self.state in ("stopped", "failed") and not self.rolled_back and self.batches_done > 0


class TrainingJob:
    """Train `model` (compiled) for one epoch on `split` in a daemon thread.

    >>> job = TrainingJob(model, split, epoch=1).start()
    >>> job.status().state           # "running", then "finished", "stopped" or "failed"
    >>> job.stop(); job.join(5)      # a stop is honoured within one batch
    >>> job.roll_back()              # after a stop or a failure: the weights of the epoch's start
    """

    def __init__(
        self, model: keras.Model, split: Split, *, epoch: int = 1, batch_size: int = 32, augment: bool = False,
        precision: str | None = None,
    ):
        if getattr(model, "optimizer", None) is None:
            raise CnnvizError("The model has no optimizer: compile it (cnnviz.model.compile_model) before training.")
        require_both_classes(split)  # before any thread: training never starts on one class
        self.id = next(_job_ids)
        self.model, self.split, self.epoch = model, split, int(epoch)
        self.batch_size, self.augment = int(batch_size), bool(augment)
        self.precision = precision  # of the training steps (None: the model's own); validation is the model's
        self.n_batches = -(-len(split.train) // self.batch_size)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress: list[BatchProgress] = []
        self._state = "running"
        self._result: EpochResult | None = None
        self._error: str | None = None
        self._warning: str | None = None
        self._rolled_back = False
        self._started = 0.0
        self._ended: float | None = None
        self._start_weights: list[np.ndarray] | None = None
        self._start_optimizer: list[np.ndarray] | None = None

    # --- control ---------------------------------------------------------------------

    def start(self) -> "TrainingJob":
        if self._thread is not None:
            raise CnnvizError("This training job has already been started; make a new one for the next epoch.")
        with _busy_lock:
            other = _busy_models.get(id(self.model))
            if other is not None and other.is_alive():
                raise CnnvizError("This model is already training an epoch: wait for it to end, or stop it first.")
            _busy_models[id(self.model)] = self
        try:
            self._snapshot_start()
        except BaseException:
            self._release()
            raise
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name=f"cnnviz-epoch-{self.epoch}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the epoch to end after the batch in progress (or the validation batch)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def roll_back(self) -> None:
        """Put back the weights (and optimizer state) the model had when this epoch started."""
        if self.is_alive():
            raise CnnvizError("The epoch is still running: stop it first, then roll back.")
        if self._start_weights is None:
            raise CnnvizError("This epoch never started, so there is nothing to roll back.")
        self.model.set_weights(self._start_weights)
        if self._start_optimizer is not None:
            for variable, value in zip(self.model.optimizer.variables, self._start_optimizer):
                variable.assign(value)
        with self._lock:
            self._rolled_back = True

    # --- reading ---------------------------------------------------------------------

    def status(self) -> JobStatus:
        with self._lock:
            progress = tuple(self._progress)
            state, result, error, warning = self._state, self._result, self._error, self._warning
            rolled_back = self._rolled_back
            end = self._ended if self._ended is not None else time.perf_counter()
        return JobStatus(
            state=state,
            epoch=self.epoch,
            batches=self.n_batches,
            progress=progress,
            result=result,
            error=error,
            warning=warning,
            model_state=self._describe(state, progress, rolled_back),
            seconds=max(0.0, end - self._started) if self._started else 0.0,
            rolled_back=rolled_back,
        )

    def _describe(self, state: str, progress: tuple[BatchProgress, ...], rolled_back: bool) -> str:
        done = progress[-1].batch if progress else 0
        if rolled_back or done == 0:
            return f"as it was at the start of epoch {self.epoch}"
        if state == "running":
            return f"changing: after batch {done} of {self.n_batches} of epoch {self.epoch}"
        if state == "finished":
            batches = f"all {self.n_batches} batches" if self.n_batches > 1 else "its one batch"
            return f"after epoch {self.epoch} ({batches})"
        return f"after batch {done} of {self.n_batches} of epoch {self.epoch}"

    # --- the thread ------------------------------------------------------------------

    def _snapshot_start(self) -> None:
        optimizer = self.model.optimizer
        if not optimizer.built:  # build now, so that its state at the start can be kept too
            optimizer.build(self.model.trainable_variables)
        self._start_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
        self._start_optimizer = [np.array(keras.ops.convert_to_numpy(v), copy=True) for v in optimizer.variables]

    def _on_batch(self, progress: BatchProgress) -> None:
        with self._lock:
            self._progress.append(progress)

    def _run(self) -> None:
        try:
            results = train(
                self.model,
                self.split,
                1,
                batch_size=self.batch_size,
                augment=self.augment,
                first_epoch=self.epoch,
                on_batch=self._on_batch,
                stop=self._stop,
                precision=self.precision,
            )
            result = results[-1] if results else None
            state, error, warning = self._judge(result)
        except CnnvizError as exc:
            missing = self._missing_photos()
            result, state, error, warning = None, "failed", f"{exc} {missing}" if missing else str(exc), None
        except Exception as exc:  # noqa: BLE001  (a thread must never die silently)
            result, state, error, warning = None, "failed", self._explain(exc), None
        with self._lock:
            self._result, self._state, self._error, self._warning = result, state, error, warning
            self._ended = time.perf_counter()
        self._release()

    def _judge(self, result: EpochResult | None) -> tuple[str, str | None, str | None]:
        if result is None:
            return "failed", "The epoch produced no result: no batch ran.", None
        if result.stopped and self._stop.is_set():
            return "stopped", None, None
        missing = self._missing_photos()
        if missing:
            return "finished", None, f"The epoch finished, but some photos were skipped: {missing}"
        return "finished", None, None

    def _explain(self, exc: Exception) -> str:
        missing = self._missing_photos()
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if missing:
            return f"The epoch failed ({what}). {missing}"
        return f"The epoch failed with an unexpected error ({what}); the model is as the last finished batch left it."

    def _missing_photos(self) -> str | None:
        paths = [path for path, _ in self.split.train + self.split.val]
        gone = [path for path in paths if not os.path.isfile(path)]
        if not gone:
            return None
        return (
            f"{len(gone):,} of the split's {len(paths):,} photos are gone since the folder was scanned "
            f"(for example {gone[0]}); scan the folder again on the Data page."
        )

    def _release(self) -> None:
        with _busy_lock:
            if _busy_models.get(id(self.model)) is self:
                del _busy_models[id(self.model)]


def start_epoch(
    model: keras.Model, split: Split, *, epoch: int = 1, batch_size: int = 32, augment: bool = False,
    precision: str | None = None,
) -> TrainingJob:
    """Make and start a job: the one call the page needs."""
    return TrainingJob(model, split, epoch=epoch, batch_size=batch_size, augment=augment, precision=precision).start()
