"""One browser session's own model: its weights, its epochs, the photos it learned from.

The app's Training page trains, stops, rolls back, loads, resets and saves this one object,
and the other pages read it (which weights, whether to offer them, which photos to leave
out of a validation figure). Its rules live here, not in the page, so they are tested
without Streamlit and a saved file's card is written by the same `cnnviz.cards.make_card`
as the CLI's.

Every epoch row is a card's history row (`EpochResult.as_dict()` and the `learning_rate` it
started with) plus what only the page shows: `state` and `kept` (False once
rolled back). A card keeps the kept epochs' card fields, numbered from the file loaded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from cnnviz import census, room
from cnnviz.compare import RunRecord, batch_curve
from cnnviz.cards import WEIGHTS_SUFFIX, card_epochs, card_runs, card_trained_on, make_card, make_recipe, parent_summary
from cnnviz.dataset import photo_names
from cnnviz.split import Split
from cnnviz.errors import CnnvizError
from cnnviz.jobs import TrainingJob, start_epoch
from cnnviz.architecture import line_of, network_line
from cnnviz.model import (
    DEFAULT_RATE, build_network, compile_model, frozen_parameters, learning_rate, load_weights, network_of,
    optimizer_of, save_weights, transfer_network,
)
from cnnviz.pipeline import validation_inputs
from cnnviz.precision import Precision, detected
from cnnviz.runs import unseen_validation
from cnnviz.stall import PHOTOS as STALL_PHOTOS
from cnnviz.stall import Stall, diagnose
from cnnviz.timeline import Snapshot, snapshots
from cnnviz.training import EpochResult, set_learning_rate

UNTRAINED = "untrained: random starting weights, ready to learn"
RESET = "untrained: random starting weights (reset on this page)"
RANDOM_START = "random weights"  # where a run began, as the run comparison names it
SAVED_FROM = "the cnnviz app's Training page"
# In a row for the page and the run comparison, never in a card's history (the card's recipe
# says the last epoch's optimizer, batch size and augmentation).
PAGE_FIELDS = ("state", "kept", "optimizer", "batch_size", "augment", "photos")
RESULT_FIELDS = tuple(EpochResult.__dataclass_fields__)
NEAR_CHANCE = 0.1  # val_accuracy this close to 0.5 is worth a stall diagnosis


class EpochRunning(CnnvizError):
    """Asked to change or save the model while an epoch trains it."""


def clean_name(raw: str) -> str:
    """A save's file name from what a person typed: `NAME.weights.h5`, or CnnvizError saying why not."""
    name = (raw or "").strip()
    if name.endswith(WEIGHTS_SUFFIX):
        name = name[: -len(WEIGHTS_SUFFIX)]
    # No slashes or leading dot: a name cannot reach outside the save folder or hide in it.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise CnnvizError(
            f"'{raw}' cannot be a file name here: use up to 64 letters, digits, dots, dashes or underscores."
        )
    return name + WEIGHTS_SUFFIX


def first_layer(model) -> tuple[np.ndarray, np.ndarray]:
    """The first convolution's (kernel, bias): a few kB that show how the filters learned."""
    kernel, bias = next(layer for layer in model.layers if layer.weights).get_weights()
    return kernel, bias


class SessionModel:
    """This session's compiled model and everything said about it.

    >>> session = SessionModel.untrained()
    >>> job = session.start_epoch(split, dataset)    # in a thread; session.training while it runs
    >>> session.record()                              # once it has ended: a row in session.rows
    >>> session.save(folder, "my-cnn")                # NAME.weights.h5 and its card
    """

    def __init__(
        self, model, description: str, *, own: bool = False, trained_on: frozenset[str] | None = frozenset(),
        precision: Precision | None = None,
    ):
        self.saved: list[Path] = []  # files this session wrote: it may overwrite those, not others'
        # Of the training steps; the model itself stays float32 for every viewer and validation.
        self.precision = precision or detected()
        self.in_room = False  # counted among the room's sessions (cnnviz.room): once, whatever it trains
        self.runs: list[RunRecord] = []  # every start of this session that trained, for the comparison
        self._replace(model, description, own=own, trained_on=trained_on)

    @classmethod
    def untrained(cls, rate: float = DEFAULT_RATE, network: str = "tutorial") -> "SessionModel":
        """Random weights, as the tutorial starts: a room watches the network learn from a coin toss."""
        return cls(compile_model(build_network(network_line(network)), rate), UNTRAINED)

    def _replace(self, model, description, *, own, trained_on, start=RANDOM_START, base_epoch=0, started_from=None) -> None:
        self.model = model
        census.track(census.MODELS, model)
        self.description = description
        self.own = own  # trained or loaded here: only then do the other pages offer it
        self.trained_on = trained_on  # names relative to the dataset root; None: unknown
        self.base_epoch = base_epoch  # epochs the loaded file had had: a loaded file's epochs go on counting
        self.started_from = started_from  # the loaded file, as a card's `started_from`
        if self.runs and not self.runs[-1].rows:
            self.runs.pop()  # a start that never trained is nothing to compare
        self.runs.append(RunRecord(len(self.runs) + 1, line_of(model.layers), start, frozen_parameters(model)))
        self.rows: list[dict] = self.runs[-1].rows  # the current run's epochs
        self.first_layers: list[tuple[np.ndarray, np.ndarray]] = []  # after each row's epoch
        self.start_first_layer = first_layer(model)
        self.job: TrainingJob | None = None
        self.job_recorded = False
        self.dataset = self.split = None  # of the last epoch started: what a card describes
        self.started_lr: float | None = None  # of the epoch running or last ended
        self._narrowed: tuple[tuple, Split, int | None] | None = None
        self._stall: tuple[tuple, Stall | None] | None = None

    # --- state -------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.job is not None and self.job.is_alive()

    def next_epoch(self) -> int:
        """Epochs whose weights the model holds (whole or in part), plus one."""
        kept = [row["epoch"] for row in self.rows if row["kept"]]
        return max(kept, default=self.base_epoch) + 1

    def epoch_seconds(self, train: int, val: int) -> tuple[float, int] | None:
        """(seconds an epoch of `train` / `val` photos would take at this session's last measured
        rates, the epoch they were measured in); None before an epoch has finished."""
        rows = [row for row in self.rows if row.get("images_per_second") and row.get("val_accuracy") is not None]
        if not rows or self.split is None or not self.split.val:
            return None
        row = rows[-1]
        train_seconds = row["images"] / row["images_per_second"]
        val_per_photo = max(0.0, row["seconds"] - train_seconds) / len(self.split.val)
        return train / row["images_per_second"] + val * val_per_photo, row["epoch"]

    def rate_jump(self) -> tuple[float, float] | None:
        """(the learning rate the next epoch uses, the one the loaded weights' training ended at)
        when the first is over 3 times the second: the next epoch may undo what they learned."""
        runs = card_runs(self.started_from) if self.started_from else []
        last = next((run["rates"][1] for run in reversed(runs) if run["rates"]), None)
        now = learning_rate(self.model)
        if last is None or now is None or now < 3 * last:
            return None
        return now, last

    def snapshots(self) -> list[Snapshot]:
        """The first layer at the start and after every kept epoch, for the learning timeline."""
        return snapshots(self.start_first_layer, self.rows, self.first_layers)

    def _require_idle(self, then: str) -> None:
        if self.training:
            raise EpochRunning(f"An epoch is running: {then}")

    # --- changing the weights ------------------------------------------------------------------

    def load(self, path: str | os.PathLike, label: str) -> dict:
        """Load a weight file into a fresh network and return its card; on any error the current model stays."""
        self._require_idle("stop it or wait for it to end, then load.")
        fresh = compile_model(build_network(network_of(path)))  # the network the file's card names
        card = load_weights(fresh, path)
        parent = parent_summary(path)  # now: an uploaded file is gone once loaded
        self._replace(
            fresh, f"loaded from {label}", own=True, trained_on=card_trained_on(card), start=f"from {label}",
            base_epoch=card_epochs(card) or 0, started_from=parent,
        )
        return card

    def transfer(self, source=None, card: dict | None = None) -> None:
        """A new run that trains only a fresh head: on `source`'s convolutions (a trained model,
        read, never changed; `card` its card), or on random convolutions when `source` is None,
        both frozen (`cnnviz.model.transfer_network`), in the session's optimizer and rate.

        Both starts leave out the source's training photos from validation, so the pair is judged
        on the same photos: learned features against random ones, nothing else changed.
        """
        self._require_idle("stop it first, then start a transfer run.")
        line = line_of((source or self.model).layers)
        rate = learning_rate(self.model) or DEFAULT_RATE
        fresh = compile_model(transfer_network(line, source), rate, optimizer_of(self.model))
        convolutions = "the shipped convolutions" if source is not None else "random convolutions"
        self._replace(
            fresh, f"untrained head on {convolutions}, frozen", own=False,
            trained_on=card_trained_on(card) if card else frozenset(), start=f"{convolutions.removeprefix('the ')}, frozen",
        )

    def set_optimizer(self, name: str) -> None:
        """Train the epochs to come with another optimizer (at the current learning rate); the
        weights stay, the old optimizer's running averages go."""
        self._require_idle("wait for it to end, or stop it first, then change the optimizer.")
        compile_model(self.model, learning_rate(self.model) or DEFAULT_RATE, name)

    def reset(self, rate: float | None = None, network: str | None = None) -> None:
        """New random weights and a fresh optimizer (at learning rate `rate`, else the current one),
        of `network` (a name or a line), else of the same network; the history starts over."""
        self._require_idle("stop it first, then reset.")
        rate = rate or learning_rate(self.model) or DEFAULT_RATE
        # A reset trains the whole network again, even after a transfer run froze its convolutions.
        fresh = build_network(network_line(network) if network else line_of(self.model.layers))
        self._replace(compile_model(fresh, rate, optimizer_of(self.model)), RESET, own=False, trained_on=frozenset())

    def epoch_split(self, split: Split, root) -> tuple[Split, int | None]:
        """(the split the next epoch uses, validation photos left out; None when that is unknown).

        Its validation side leaves out the photos the model has been trained on: by the file it
        was loaded from, or by epochs on another split (the workshop split's validation photos
        are training photos in the tutorial's). The training side is the split's own.
        """
        if self.trained_on is None:
            return split, None
        key = (split.key, str(root), hash(self.trained_on))
        if self._narrowed is None or self._narrowed[0] != key:
            # Kept, so that the epochs that follow reuse the narrowed split's decoded photos.
            self._narrowed = (key, *unseen_validation(split, root, self.trained_on))
        return self._narrowed[1], self._narrowed[2]

    def start_epoch(self, split: Split, dataset, *, batch_size: int = 32, augment: bool = False) -> TrainingJob:
        """Start the next epoch on `split` (the chosen one: its validation side is narrowed here)."""
        self._require_idle("wait for it to end, or stop it first.")
        narrowed, _ = self.epoch_split(split, dataset.root)
        if not narrowed.val:
            raise CnnvizError(
                "The model has been trained on every validation photo of this split, so an epoch could not be judged: "
                "choose another seed on the Data page, or reset the model below."
            )
        self.started_lr = learning_rate(self.model)
        job = start_epoch(
            self.model, narrowed, epoch=self.next_epoch(), batch_size=batch_size, augment=augment,
            precision=self.precision.name,
        )
        self.job, self.job_recorded = job, False
        self.dataset, self.split = dataset, split
        self.description = f"being trained: epoch {job.epoch} is running"
        self.own = True
        if self.trained_on is not None:  # from now on: even a stopped epoch may have seen any of them
            self.trained_on = self.trained_on | set(photo_names(narrowed.train, dataset.root))
        return job

    def record(self) -> bool:
        """Add the job's epoch once it has ended and is not yet recorded; True if added."""
        job = self.job
        if job is None or self.job_recorded or job.is_alive():
            return False
        status = job.status()
        result = status.result
        self.rows.append(
            {
                **(result.as_dict() if result else dict.fromkeys(RESULT_FIELDS)),
                "epoch": status.epoch,
                "batches_done": status.batches_done,
                "batches": status.batches,
                "seconds": result.seconds if result else status.seconds,
                "learning_rate": self.started_lr,
                "state": status.state,
                "kept": True,
                "optimizer": optimizer_of(job.model),
                "batch_size": job.batch_size,
                "augment": job.augment,
                "photos": len(job.split.train),
            }
        )
        self.runs[-1].curves.append(batch_curve(status.progress, status.epoch - 1))
        self.first_layers.append(first_layer(self.model))
        self.job_recorded = True
        self.description = status.model_state
        # Only loaded weights set started_from: without it, an epoch 1 began from random weights.
        # A transfer run's frozen convolutions make its first epoch another experiment than the room's.
        random_start = self.started_from is None and not self.runs[-1].frozen
        room.ROOM.add(room.draw(self.rows[-1], job, random_start=random_start), new_session=not self.in_room)
        self.in_room = True
        return True

    def set_rate(self, rate: float) -> None:
        """The learning rate of the epochs to come; the weights and RMSprop's averages stay."""
        self._require_idle("wait for it to end, or stop it first, then change the learning rate.")
        set_learning_rate(self.model, rate)

    def stall(self) -> Stall | None:
        """The diagnosis of the last epoch when it finished near chance (computed once per epoch), else None.

        Looked for only near 50%: a network that answers one P(dog) for every photo scores
        about half of a balanced validation set, and a healthy epoch is spared the forward pass.
        """
        if not self.rows or self.training or self.job is None:
            return None
        row = self.rows[-1]
        if row["state"] != "finished" or not row["kept"] or row["val_accuracy"] is None:
            return None
        key = (len(self.rows), row["epoch"])
        if self._stall is None or self._stall[0] != key:
            found = None
            if abs(row["val_accuracy"] - 0.5) < NEAR_CHANCE:
                running = [p.loss for p in self.job.status().progress]
                found = diagnose(self.model, validation_inputs(self.job.split, STALL_PHOTOS), running)
            self._stall = (key, found)
        return self._stall[1]

    def roll_back(self) -> None:
        """Put back the weights the ended epoch started from; its row stays, marked not kept."""
        if self.job is None or self.job.is_alive():
            return
        self.record()
        self.job.roll_back()
        self.rows[-1]["kept"] = False
        self.description = self.job.status().model_state

    # --- saving --------------------------------------------------------------------------------

    def card(self, dataset=None, split=None, *, batch_size: int = 32, augment: bool = False) -> dict:
        """The card a save writes, by `cnnviz.cards.make_card` as the CLI's.

        It describes the data of the last epoch started here; before any, `dataset` and
        `split` (the page's current choice, None without photos), with the recipe an epoch
        would have used.
        """
        precision = self.precision.name
        if self.split is not None:
            dataset, split = self.dataset, self.split
            batch_size, augment, precision = self.job.batch_size, self.job.augment, self.job.precision
        history = [
            {**{k: v for k, v in row.items() if k not in PAGE_FIELDS}, "epoch": row["epoch"] - self.base_epoch}
            for row in self.rows
            if row["kept"]
        ]
        return make_card(
            dataset=dataset,
            split=split,
            history=history,
            recipe=make_recipe(learning_rate=learning_rate(self.model), batch_size=batch_size, augment=augment, precision=precision),
            trained_on=self.trained_on,
            started_from=self.started_from,
            description=self.description,
            saved_from=SAVED_FROM,
        )

    def save(self, folder: str | os.PathLike, raw_name: str, dataset=None, split=None, **recipe) -> Path:
        """Write the weights and their card as `folder/NAME.weights.h5`; never over another session's file."""
        self._require_idle("stop it or wait for it to end, then save.")
        path = Path(folder) / clean_name(raw_name)
        if path.exists() and path not in self.saved:
            raise CnnvizError(f"{path.name} already exists in {path.parent} (saved by someone else): choose another name.")
        save_weights(self.model, path, self.card(dataset, split, **recipe))
        self.saved.append(path)
        return path

    @property
    def last_saved(self) -> Path | None:
        return self.saved[-1] if self.saved else None


def epoch_notes(result: EpochResult) -> list[str]:
    """What a finished epoch's figures mean, in sentences for the Training page.

    Training accuracy is a running mean taken with dropout on and weights still moving, so it
    usually trails val_accuracy in a first epoch (the tutorial's: 61% against 72.8%). An epoch
    that stalled is explained by `SessionModel.stall`, with its own numbers.
    """
    notes = []
    if result.val_accuracy is None:
        return notes
    if result.accuracy < result.val_accuracy:
        notes.append(
            f"Training accuracy ({result.accuracy:.1%}) trails val_accuracy ({result.val_accuracy:.1%}): it is the "
            "mean over the epoch's batches, taken while the weights were still changing and with dropout switching "
            "off half the dense layer's units, while validation uses the epoch's final weights with dropout off. "
            "The tutorial's own epoch shows the same, 61% against 72.8%."
        )
    return notes
