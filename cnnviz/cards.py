"""Weight cards: the JSON file beside every `NAME.weights.h5` that says what its weights are.

One format for every writer. The CLI's `train --out` and the app's "Save weights" both call
`make_card`, so a file saved from either face carries the same keys, lists the photos it was
trained on, and can be checked with `cnnviz evaluate --validation-of`. A key whose value is
unknown is present and None, never missing.

A card vouches for its weights only while its `sha256` matches the file (`verified_card`):
a save renames its card into place just before its weights, so a save killed between the
two renames leaves the next save's card beside the previous weights.

Nothing here imports TensorFlow: the app's Home page reads the shipped card before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from cnnviz.errors import CnnvizError

WEIGHTS_SUFFIX = ".weights.h5"
CARD_SUFFIX = ".card.json"
CONFUSION_LAYOUT = "rows: true cat, true dog; columns: predicted cat, predicted dog"


# --- writing -----------------------------------------------------------------------------


def make_card(
    *,
    dataset,
    split,
    history: Sequence[dict],
    recipe: dict,
    trained_on: Iterable[str] | None,
    held_out: Sequence[str] = (),
    best_epoch: int | None = None,
    started_from: dict | None = None,
    validation: dict | None = None,
    description: str | None = None,
    saved_from: str,
) -> dict:
    """What a weight file's card says, before `save_weights` adds architecture, date and sha256.

    `dataset` and `split` are the cnnviz.dataset.Dataset and cnnviz.split.Split of the last epoch
    (None, with `data` and `split` then None, for weights that no epoch here trained); `history` holds one
    `EpochResult.as_dict()` a row (with its `learning_rate`); `trained_on` names every photo
    the weights learned from, relative to the dataset's root (None when a parent's card did
    not say); `held_out` names the photos kept out of both sides (`--exclude`); `recipe` comes
    from `make_recipe`; `validation` from `validation_summary`.
    """
    finished = [h for h in history if h.get("val_accuracy") is not None]
    known = dataset is not None and split is not None  # an app session may save before it has photos
    return {
        "data": {
            "root": str(dataset.root),
            "layout": dataset.layout,
            "counts": dataset.counts(),
            "seed": split.seed,
            "held_out": sorted(held_out),
        }
        if known
        else None,
        "split": {"train": len(split.train), "val": len(split.val)} if known else None,
        "recipe": recipe,
        "epochs": len(history),
        "training_seconds": round(sum(h["seconds"] for h in history)),
        "machine": machine(),
        "epoch": history[-1]["epoch"] if history else None,
        "val_accuracy": finished[-1]["val_accuracy"] if finished else None,
        "best_epoch": best_epoch,
        "history": list(history),
        "started_from": started_from,
        "trained_on": None if trained_on is None else sorted(trained_on),
        "validation": validation,
        "description": description,
        "saved_from": saved_from,
    }


def make_recipe(
    *,
    learning_rate: float | None,
    batch_size: int,
    augment: bool,
    precision: str = "float32",
    distributed: bool = False,
    halve_after: int | None = None,
    patience: int | None = None,
    optimizer: str = "RMSprop",
) -> dict:
    """How the weights were trained, on binary cross-entropy: RMSprop unless said, as the tutorial does."""
    return {
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "distributed": distributed,
        "augment": augment,
        "precision": precision,
        "halve_after": halve_after,
        "patience": patience,
        "loss": "binary_crossentropy",
    }


def validation_summary(evaluation) -> dict:
    """A cnnviz.evaluation.Evaluation as a card's `validation`: the figure a viewer of the file gets."""
    return {
        "n": evaluation.n,
        "accuracy": evaluation.accuracy,
        "confusion": evaluation.confusion.tolist(),
        "confusion_layout": CONFUSION_LAYOUT,
    }


def parent_summary(weights_path: str | os.PathLike) -> dict:
    """A card's `started_from`: the file a warm restart begins with, read before training,
    since the run may replace it. Its epochs and time are part of the final weights' cost."""
    path = Path(weights_path)
    if not path.is_file():
        raise CnnvizError(f"--weights {path} is not a file.")
    card = verified_card(path)
    return {
        "file": path.name,
        "sha256": sha256_of(path),
        "epochs": card.get("epochs"),
        "training_seconds": card.get("training_seconds"),
        "val_accuracy": card_accuracy(card),
        "history": card.get("history"),
        "started_from": card.get("started_from"),
    }


def machine() -> dict:
    """The computer that trained the weights, for reading a card's times."""
    from cnnviz.backend import tf  # only a training run writes a card: TensorFlow is loaded then

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "system": platform.platform(),
        "tensorflow": tf.__version__,
    }


def write_json_atomically(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# --- reading -----------------------------------------------------------------------------


def card_path(weights_path: str | os.PathLike) -> Path:
    """`name.weights.h5` -> `name.card.json`, the card that travels beside it."""
    path = Path(weights_path)
    stem = path.name[: -len(WEIGHTS_SUFFIX)] if path.name.endswith(WEIGHTS_SUFFIX) else path.stem
    return path.with_name(stem + CARD_SUFFIX)


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(weights_path: str | os.PathLike) -> dict:
    """The card beside a weight file, or {} when there is none (an uploaded bare file)."""
    path = card_path(weights_path)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CnnvizError(f"The card {path.name} is not readable JSON ({e}); delete or fix it.") from e


def verified_card(weights_path: str | os.PathLike) -> dict:
    """The card beside a weight file when it describes that file, else {} (as for no card)."""
    card = read_card(weights_path)
    if card.get("sha256") not in (None, sha256_of(weights_path)):
        return {}
    return card


def card_accuracy(card: dict | None) -> float | None:
    """The validation accuracy a card vouches for: the float32 re-check when it has one.

    Runs before training steps and validation were separated recorded a `mixed_bfloat16`
    run's val_accuracy in bfloat16; `validation` holds the photos scored in float32, as everyone
    loads the file.
    """
    card = card or {}
    for value in ((card.get("validation") or {}).get("accuracy"), card.get("val_accuracy")):
        if isinstance(value, (int, float)):
            return float(value)
    return None


def card_epochs(card: dict | None) -> int | None:
    """Epochs of training behind a file, counting those of the weights a warm restart began from.

    A `--weights` run's own `epochs` restart at 1; `started_from` keeps its parent's count.
    """
    card = card or {}
    if not isinstance(card.get("epochs"), int):
        return None
    return card["epochs"] + (card_epochs(card.get("started_from")) or 0)


def card_history(card: dict | None) -> list[dict]:
    """Every epoch behind a file, oldest first: a warm restart's own epochs numbered on from
    those of the weights it began from (kept in `started_from`, with their history)."""
    card = card or {}
    parent = card.get("started_from")
    earlier = card_history(parent) if parent else []
    offset = card_epochs(parent) or 0
    return earlier + [{**h, "epoch": h["epoch"] + offset} for h in card.get("history") or []]


def card_trained_on(card: dict | None) -> frozenset[str] | None:
    """The photos a weight file was trained on (names relative to the dataset's root, counting
    the weights a warm restart began from), or None when its card does not say."""
    names = (card or {}).get("trained_on")
    return frozenset(names) if isinstance(names, list) else None


def card_split(card: dict | None) -> tuple[frozenset[str], int, int, int] | None:
    """(held-out names, train size, validation size, seed) a file's split was made with, or
    None when its card does not say: the same values rebuild the same split of the same folder."""
    try:
        data, sizes = card["data"], card["split"]
        return frozenset(data["held_out"]), int(sizes["train"]), int(sizes["val"]), int(data["seed"])
    except (KeyError, TypeError, ValueError):
        return None


def format_rate(rate: float) -> str:
    """A learning rate as people write it: 9.99e-05 (float32's 1e-4) -> "1e-4", 6.25e-06 -> "6.25e-6"."""
    mantissa, exponent = f"{float(rate):.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def card_runs(card: dict | None) -> list[dict]:
    """The training runs behind a file, oldest first: a warm restart's parents, then itself.

    Each is {"epochs", "rates" (first and last learning rate, or None), "recipe" (None where
    the card kept none: a parent's summary holds its history, not its recipe)}.
    """
    card = card or {}
    if not card:
        return []
    parent = card.get("started_from")
    rates = [h["learning_rate"] for h in card.get("history") or [] if isinstance(h.get("learning_rate"), (int, float))]
    run = {
        "epochs": card.get("epochs"),
        "rates": (rates[0], rates[-1]) if rates else None,
        "recipe": card.get("recipe"),
    }
    return (card_runs(parent) if parent else []) + [run]


def describe_recipe(card: dict | None) -> str | None:
    """How a file's weights were trained, in one sentence read from its card; None without one.

    E.g. "63 epochs behind these weights, in 3 runs, each starting from the weights the one before kept (...); RMSprop at learning rate
    1e-4 falling to 6.25e-6, then 1e-4 to 1.25e-5, then 1e-5; the last run without augmentation,
    in mixed_bfloat16 (the earlier runs' augmentation is not in the card); the epoch kept is the
    one that scored best on its 2,700 validation photos, which therefore flatter it a little".
    """
    runs = card_runs(card)
    if not runs or not card_epochs(card):
        return None
    parts = [
        f"{card_epochs(card)} epochs behind these weights"
        + (f", in {len(runs)} runs, each starting from the weights the one before kept" if len(runs) > 1 else "")
        + (" (epochs trained after a run's best are not counted)" if card.get("best_epoch") is not None else "")
    ]
    rates = []
    for run in runs:
        if run["rates"] is None:
            rates.append("an unrecorded rate")
        elif format_rate(run["rates"][0]) == format_rate(run["rates"][1]):
            rates.append(format_rate(run["rates"][0]))
        else:
            rates.append(f"{format_rate(run['rates'][0])} falling to {format_rate(run['rates'][1])}")
    optimizer = next((r["recipe"].get("optimizer") for r in runs if r["recipe"] and r["recipe"].get("optimizer")), None)
    parts.append(f"{optimizer + ' at ' if optimizer else ''}learning rate " + ", then ".join(rates))
    last = runs[-1]["recipe"]
    if last:
        augment = "with augmentation" if last.get("augment") else "without augmentation"
        which = "the last run " if len(runs) > 1 else ""
        unknown = " (the earlier runs' augmentation is not in the card)" if any(r["recipe"] is None for r in runs[:-1]) else ""
        parts.append(f"{which}{augment}, in {last.get('precision', 'float32')}{unknown}")
    val = (card.get("split") or {}).get("val")
    if card.get("best_epoch") is not None:
        on = f"its {val:,} validation photos" if val else "its validation photos"
        parts.append(f"the epoch kept is the one that scored best on {on}, which therefore flatter it a little")
    return "; ".join(parts)
