"""A training run, as `cnnviz train` runs it: its starting point, its split, its epochs, its files.

A run starts from fresh weights, from a weight file (`weights`: a warm restart, a fresh
optimizer, epochs counted from 1) or from its checkpoint folder (resuming where it stopped).
It trains one epoch at a time, halving the learning rate or stopping when val_accuracy stops
improving, saves its best epoch (or every epoch) with a card from `cnnviz.cards.make_card`,
and checkpoints after every epoch.

Its validation side never holds a photo the weights were trained on before (`unseen_validation`,
the app's rule too): a val_accuracy over learned photos would flatter them, and choosing the best
epoch by it would choose badly. The card keeps the split's sizes and seed, so
`validation_of` rebuilds the same photos from it.

Nothing here prints: sentences worth telling go to `say`, progress to `on_batch` and `on_epoch`.
"""

from __future__ import annotations

import random

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cnnviz import distribute
from cnnviz.backend import keras
from cnnviz.cards import (
    WEIGHTS_SUFFIX,
    card_split,
    card_trained_on,
    make_card,
    make_recipe,
    parent_summary,
    validation_summary,
    verified_card,
)
from cnnviz.checkpoint import load_checkpoint, save_checkpoint
from cnnviz.dataset import Dataset, hold_out, photo_names, unseen
from cnnviz.split import Split, split_dataset
from cnnviz.errors import CnnvizError
from cnnviz.evaluation import evaluate_items
from cnnviz.architecture import parameters
from cnnviz.model import (
    OPTIMIZERS, arithmetic_twin, build_like, build_network, compile_model, copy_training_state, learning_rate, load_weights,
    network_for, save_weights,
)
from cnnviz.precision import resolve
from cnnviz.training import BatchProgress, EpochResult, Plateau, set_learning_rate, train

SAVED_FROM = "cnnviz train (the command line)"


@dataclass(frozen=True)
class RunOptions:
    """What a run is asked for: `cnnviz train`'s flags."""

    train_samples: int = 16_000
    val_samples: int = 6_400
    epochs: int = 1  # in all, counting the epochs a resumed run already has
    batch_size: int = 32  # per replica when distributed
    learning_rate: float = 1e-3
    optimizer: str = "rmsprop"
    network: str | None = None  # tutorial, modern or a line of cnnviz.architecture; None: the tutorial's, or --weights' own
    seed: int = 13
    precision: str = "auto"  # cnnviz.precision: bfloat16 where the hardware has it
    augment: bool = False
    weights: Path | None = None
    out: Path | None = None
    keep_last: bool = False
    checkpoint: Path | None = None
    patience: int | None = None
    halve_after: int | None = None
    distribute: bool = False
    logical_cpus: int | None = None
    scale_lr: bool = True


def _silent(sentence: str) -> None:
    pass


def check_out(options: RunOptions) -> None:
    """Refuse an `out` that could not be saved to, or that would replace the starting file,
    before anything slow."""
    out, weights = options.out, options.weights
    if out and not out.name.endswith(WEIGHTS_SUFFIX):
        raise CnnvizError(f"--out must name a {WEIGHTS_SUFFIX} file, got {out.name!r}.")
    if weights and out and weights.resolve() == out.resolve():
        raise CnnvizError(
            "--out must name another file than --weights: the run's card records the file it started from, "
            "and a resumed run must find that file unchanged."
        )


def exclude(dataset: Dataset, folder: Path) -> tuple[Dataset, list[str]]:
    """`dataset` without the photos named like one in `folder` (`--exclude`), and their names:
    photos kept for a final test must be neither trained nor validated on."""
    if not folder.is_dir():
        raise CnnvizError(f"--exclude needs a folder, and {folder} is not one.")
    return hold_out(dataset, {p.name for p in folder.iterdir()})


def unseen_validation(split: Split, root, seen: frozenset[str] | None) -> tuple[Split, int | None]:
    """`split` without the validation photos in `seen` (names as a card lists them), and how many
    were left out; (split, None) when `seen` is unknown. The training side stays whole.

    Weights validated on photos they were trained on would look better than they are: a warm
    restart on another split, or a model trained on one split and validated on another.
    """
    if seen is None:
        return split, None
    val, left_out = unseen(split.val, root, seen)
    if not left_out:
        return split, 0  # the same object, with the decoded photos it holds
    return Split(split.train, val, split.seed, split.note), left_out


def validation_of(dataset: Dataset, weights_path: Path) -> tuple[Split, int]:
    """The split a weight file was chosen on, rebuilt from its card, its validation side without
    the photos the file was trained on (as its run left them out), and how many those were.

    The same held-out names, sizes and seed give the same split, so the card's figures can be checked.
    """
    card = verified_card(weights_path)
    recorded = card_split(card)
    if recorded is None:
        raise CnnvizError(
            f"{weights_path.name} has no card with its split (data.seed, data.held_out, split): "
            "only weights saved by `cnnviz train --out` can be checked this way."
        )
    held_out, train_size, val_size, seed = recorded
    split = split_dataset(hold_out(dataset, set(held_out))[0], train_size, val_size, seed=seed)
    # A card that does not list trained_on comes from a run that validated on its whole split.
    return unseen_validation(split, dataset.root, card_trained_on(card) or frozenset())


TRANSFER_SIZES = (200, 800)  # photos to train a head on, and to judge it: a few minutes' epochs
# Seven updates an epoch: a head on learned features needs about this many epochs to pull
# clear of chance (benchmarks/transfer.py), one on random features stays near it.
TRANSFER_EPOCHS = 8


def transfer_split(dataset: Dataset, weights_path: Path, sizes: tuple[int, int] = TRANSFER_SIZES, seed: int = 13) -> Split:
    """A small split for transfer runs from `weights_path`'s convolutions: training photos from
    the file's own training side, validation photos from its validation side that it never
    trained on, each class-balanced. Heads on learned and on random convolutions train and are
    judged on the same photos, none of which the convolutions were judged by."""
    base, _ = validation_of(dataset, weights_path)
    rng = random.Random(seed)

    def balanced(side: list[tuple[str, int]], size: int) -> list[tuple[str, int]]:
        chosen = []
        for label in (0, 1):
            photos = [photo for photo in side if photo[1] == label]
            chosen += rng.sample(photos, min(size // 2, len(photos)))
        return sorted(chosen)

    train, val = balanced(base.train, sizes[0]), balanced(base.val, sizes[1])
    note = None
    if (len(train), len(val)) != sizes:
        note = f"Using {len(train):,} training and {len(val):,} validation photos (asked for {sizes[0]:,} and {sizes[1]:,})."
    return Split(train, val, seed, note)


class Run:
    """One training run over `dataset` (already without its `held_out` photos)."""

    def __init__(self, dataset: Dataset, options: RunOptions, *, held_out=(), say: Callable[[str], None] = _silent):
        self.dataset, self.options, self.held_out, self.say = dataset, options, list(held_out), say
        # Read before any epoch: the card describes the starting file as the run found it.
        self.parent = parent_summary(options.weights) if options.weights else None
        self.split = split_dataset(dataset, options.train_samples, options.val_samples, seed=options.seed)
        if self.split.note:
            say(self.split.note)
        self.epoch_split, self.trained_on = self._sides()
        self.line = network_for(options.network, options.weights)
        say(f"network: {self.line} ({parameters(self.line):,} parameters)")
        self.precision = resolve(options.precision)
        say(f"training steps in {self.precision.name}: {self.precision.reason}" if options.precision == "auto"
            else f"training steps in {self.precision.name}")
        say(
            f"training on {len(self.epoch_split.train):,} images, validating on {len(self.epoch_split.val):,} "
            f"(seed {self.split.seed})"
        )
        keras.utils.set_random_seed(options.seed)  # the same command gives the same starting weights and order
        self.batch_size, rate, scope = self._distribution()
        with scope:
            self.model, self.history = self._starting_point(rate)
            twin = arithmetic_twin(self.model, self.precision.name)
            if twin is not self.model:  # made now, in the strategy's scope, where its variables and optimizer slots must live
                copy_training_state(self.model, twin)
        self.plateau = Plateau(patience=options.patience, halve_after=options.halve_after)
        for past in self.history:
            self.plateau.update(past["val_accuracy"], past["epoch"])

    def _sides(self) -> tuple[Split, frozenset[str] | None]:
        """(the split the epochs use, every photo the saved weights will have been trained on).

        The second is this run's training side plus what the starting file had learned, or None
        when that file's card does not say; the first leaves the latter out of validation.
        """
        weights, root = self.options.weights, self.dataset.root
        before = card_trained_on(verified_card(weights)) if weights else frozenset()
        epoch_split, left_out = unseen_validation(self.split, root, before)
        if left_out is None:
            self.say(f"note: {weights.name}'s card does not list the photos it was trained on, so this run's card cannot either")
            return epoch_split, None
        if left_out:
            self.say(
                f"left out {left_out:,} of the split's {len(self.split.val):,} validation photos: "
                f"{weights.name} was trained on them (its card lists them)"
            )
        if not epoch_split.val:
            raise CnnvizError(
                f"{weights.name} was trained on every one of this split's validation photos: split as that file was "
                "(its card's data.seed and split sizes, with the same --exclude)."
            )
        return epoch_split, frozenset(photo_names(self.split.train, root)) | before

    def _distribution(self):
        """(global batch size, learning rate, the scope to build the model in)."""
        o = self.options
        if not o.distribute:
            return o.batch_size, o.learning_rate, nullcontext()
        if o.logical_cpus:
            distribute.split_cpu(o.logical_cpus)
        strategy = distribute.choose_strategy()
        replicas = strategy.num_replicas_in_sync
        batch_size, rate = distribute.scaled(o.batch_size, o.learning_rate, replicas, o.scale_lr)
        self.say(
            f"distributed: {type(strategy).__name__} over {replicas} replicas; "
            f"global batch {batch_size} ({o.batch_size} per replica), learning rate {rate:.1e}"
        )
        return batch_size, rate, strategy.scope()

    def _starting_point(self, rate: float) -> tuple[keras.Model, list[dict]]:
        """The compiled network and its history: the checkpoint's when there is one, else fresh
        weights or those of the starting file."""
        o = self.options
        resumed = load_checkpoint(o.checkpoint) if o.checkpoint else None
        if resumed:
            self.say(f"resuming from {o.checkpoint} after epoch {len(resumed[1])}")
            return resumed
        # float32: validation and the saved file are scored as viewers score them
        model = compile_model(build_network(self.line), rate, o.optimizer)
        if o.weights:
            load_weights(model, o.weights)
        return model, []

    def train(
        self,
        on_batch: Callable[[BatchProgress], None] | None = None,
        on_epoch: Callable[[EpochResult, float], None] | None = None,
    ) -> None:
        """Epochs until `options.epochs` in all, or until the plateau says stop. `on_epoch` gets
        each epoch's result and the learning rate it trained at."""
        for epoch in range(len(self.history) + 1, self.options.epochs + 1):
            if self.epoch(epoch, on_batch, on_epoch) == "stop":
                break

    def epoch(self, epoch: int, on_batch=None, on_epoch=None) -> str:
        """Train epoch `epoch`, then save, checkpoint and adjust as its val_accuracy says; returns
        the plateau's verdict ('best', 'halve', 'stop' or 'wait')."""
        o = self.options
        rate = learning_rate(self.model)
        (result,) = train(
            self.model, self.epoch_split, 1, batch_size=self.batch_size, augment=o.augment, first_epoch=epoch,
            on_batch=on_batch, precision=self.precision.name,
        )
        self.history.append({**result.as_dict(), "learning_rate": rate})
        if on_epoch:
            on_epoch(result, rate)
        verdict = self.plateau.update(result.val_accuracy, epoch)
        if o.out and (verdict == "best" or o.keep_last):
            save_weights(self.model, o.out, self.card())
            self.say(f"saved {o.out} (epoch {epoch})")
        if o.checkpoint:
            save_checkpoint(self.model, o.checkpoint, self.history)
        if verdict == "halve":
            set_learning_rate(self.model, rate / 2)
            self.say(f"no better val_accuracy for {self.plateau.waited} epochs: learning rate halved to {rate / 2:.2e}")
        if verdict == "stop":
            self.say(f"no better val_accuracy for {self.plateau.waited} epochs: stopping (best: epoch {self.plateau.best_epoch})")
        return verdict

    def card(self) -> dict:
        """The card of the weights as they are now. Its split is the one made, so `validation_of`
        rebuilds it; its `validation` is measured on the photos the epochs validated on."""
        o = self.options
        recipe = make_recipe(
            learning_rate=o.learning_rate,
            batch_size=o.batch_size,
            augment=o.augment,
            precision=self.precision.name,
            distributed=o.distribute,
            halve_after=o.halve_after,
            patience=o.patience,
            optimizer=OPTIMIZERS[o.optimizer],
        )
        return make_card(
            dataset=self.dataset,
            split=self.split,
            history=self.history,
            recipe=recipe,
            trained_on=self.trained_on,
            held_out=self.held_out,
            best_epoch=self.plateau.best_epoch,
            started_from=self.parent,
            validation=self._validate_in_float32(),
            saved_from=SAVED_FROM,
        )

    def _validate_in_float32(self) -> dict:
        """The validation photos, with their confusion matrix, scored as every viewer of the file
        scores them: in float32 (a checkpoint from before training steps and validation were
        separated resumes a model that computes in bfloat16)."""
        viewer = build_like(self.model)
        viewer.set_weights(self.model.get_weights())
        return validation_summary(evaluate_items(viewer, self.epoch_split.val, batch_size=64))
