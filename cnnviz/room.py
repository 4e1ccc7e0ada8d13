"""The room: how this server's first epochs from random weights went, anonymous, for the presenter.

Every attendee trains the same network on the same photos, each from a different random
start. The val_accuracy their first epochs reach spreads widely, and that spread shows that
the tutorial's 72.8% was one draw: a second run of its code would have printed another
figure. This module keeps those figures for the server's lifetime, in memory.

What counts as a draw: an epoch 1 that finished (not stopped) from random weights (an
untrained or reset model, never loaded weights). Draws are kept apart by `Setting`: only
epochs with the same photo counts, split seed, batch size, learning rate and augmentation
are one population, since each of these moves val_accuracy on its own.

What is stored, and nothing else: per setting, how many draws fell at each 0.1% of
val_accuracy (a histogram), and two counters (sessions that ended an epoch, epochs ended).
No session id, name, file name, path or time, and not even the order in which draws came.
It is bounded: at most MAX_SETTINGS settings of at most 1,001 counts each.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cnnviz.architecture import TUTORIAL, line_of, network_name
from cnnviz.model import OPTIMIZERS, optimizer_of

RESOLUTION = 1000  # draws are counted per 1/RESOLUTION of val_accuracy: 0.1%
MAX_SETTINGS = 16  # a further setting's epochs count among the epochs, not as draws
BIN_WIDTH = 0.02  # the histogram's bars: wide enough to stack a room's few dozen draws

# The tutorial's printed val_accuracy after its one epoch from random weights, on 16,000
# training photos: a figure quoted from its output, which no code here can recompute.
TUTORIAL_VAL_ACCURACY = 0.728
TUTORIAL_TRAIN = 16_000


@dataclass(frozen=True)
class Setting:
    """What makes two first epochs comparable."""

    train: int  # photos the epoch trained on
    val: int  # photos it was validated on
    seed: int  # the split's: the same counts and seed on one folder are the same photos
    batch_size: int
    learning_rate: float  # to 3 significant digits (the optimizer holds it in float32)
    augment: bool
    network: str = TUTORIAL  # its cnnviz.architecture line
    optimizer: str = "rmsprop"

    def words(self) -> str:
        network = {"tutorial": "the tutorial's network", "pooled": "the tutorial's network pooled early", "modern": "the modern network"}.get(network_name(self.network), self.network)
        return (
            f"{network}, {OPTIMIZERS[self.optimizer]}, "
            f"{self.train:,} training / {self.val:,} validation photos (seed {self.seed}), batches of {self.batch_size}, "
            f"learning rate {self.learning_rate:g}, {'with' if self.augment else 'no'} augmentation"
        )


def draw(row: Mapping, job, *, random_start: bool) -> tuple[Setting, float] | None:
    """(setting, val_accuracy) when `row` (a SessionModel row) is a first epoch from random
    weights that finished, trained by `job` (its split, batch size and augmentation); else None."""
    if not random_start or row.get("epoch") != 1 or row.get("state") != "finished" or row.get("val_accuracy") is None:
        return None
    rate = row.get("learning_rate")
    setting = Setting(
        train=len(job.split.train),
        val=len(job.split.val),
        seed=int(job.split.seed),
        batch_size=int(job.batch_size),
        learning_rate=float(f"{rate:.3g}") if rate is not None else float("nan"),
        augment=bool(job.augment),
        network=line_of(job.model.layers),
        optimizer=optimizer_of(job.model),
    )
    return setting, float(row["val_accuracy"])


@dataclass(frozen=True)
class Population:
    """The draws of one setting: (val_accuracy in 1/RESOLUTION, how many) pairs, ascending."""

    setting: Setting
    counts: tuple[tuple[int, int], ...]

    @property
    def n(self) -> int:
        return sum(k for _, k in self.counts)

    def values(self) -> np.ndarray:
        """Every draw's val_accuracy, ascending (to the 0.1% they are kept at)."""
        return np.repeat([v / RESOLUTION for v, _ in self.counts], [k for _, k in self.counts]).astype("float64")


@dataclass(frozen=True)
class RoomView:
    """The room at one moment, read in one piece."""

    sessions: int  # sessions that ended at least one epoch (any epoch, from any weights)
    epochs: int  # epochs ended, stopped ones included
    populations: tuple[Population, ...]  # the biggest first

    @property
    def draws(self) -> int:
        return sum(p.n for p in self.populations)


class Room:
    """This process's room: thread-safe (every session's script thread records into it)."""

    def __init__(self, max_settings: int = MAX_SETTINGS):
        self._lock = threading.Lock()
        self._max_settings = max_settings
        self._sessions = 0
        self._epochs = 0
        self._draws: dict[Setting, Counter] = {}

    def add(self, drawn: tuple[Setting, float] | None, *, new_session: bool) -> None:
        """An epoch has ended: count it, its session if `new_session`, and its draw if any."""
        with self._lock:
            self._epochs += 1
            self._sessions += bool(new_session)
            if drawn is None:
                return
            setting, val_accuracy = drawn
            if setting not in self._draws and len(self._draws) >= self._max_settings:
                return
            self._draws.setdefault(setting, Counter())[round(val_accuracy * RESOLUTION)] += 1

    def view(self) -> RoomView:
        with self._lock:
            populations = [Population(s, tuple(sorted(c.items()))) for s, c in self._draws.items()]
            sessions, epochs = self._sessions, self._epochs
        # Stable: among equally big populations, the one that began first comes first.
        populations.sort(key=lambda p: -p.n)
        return RoomView(sessions, epochs, tuple(populations))


ROOM = Room()  # the one room of this server process


# --- pure summaries, for the panel ------------------------------------------------------------


def bins(population: Population, width: float = BIN_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """(left edges, counts) of the bars of `width` that hold draws, edges at multiples of `width`."""
    values = population.values()
    if not len(values):
        return np.zeros(0), np.zeros(0, dtype=int)
    # The small offset keeps a value exactly on an edge (0.72 with width 0.02) in the bar it starts.
    index = np.floor(values / width + 1e-9).astype(int)
    lefts, counts = np.unique(index, return_counts=True)
    return lefts * width, counts


@dataclass(frozen=True)
class Summary:
    n: int
    low: float
    median: float
    high: float
    at_least_tutorial: int  # draws at or above the tutorial's 72.8%


def summary(population: Population) -> Summary | None:
    values = population.values()
    if not len(values):
        return None
    return Summary(
        n=len(values),
        low=float(values[0]),
        median=float(np.median(values)),
        high=float(values[-1]),
        at_least_tutorial=int(np.sum(values >= TUTORIAL_VAL_ACCURACY)),
    )
