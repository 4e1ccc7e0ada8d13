"""A seeded, class-balanced train/validation split of a Dataset, copies of one photo on one side.

Nothing here imports TensorFlow: the CLI and the app must start fast.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from cnnviz.dataset import Dataset
from cnnviz.errors import CnnvizError


@dataclass
class Split:
    train: list[tuple[str, int]]
    val: list[tuple[str, int]]
    seed: int
    note: str | None = None  # set when the sizes asked for were not what was used
    # Decoded pixels of each side, kept for as long as this split is (see cnnviz.pipeline's
    # `decoded_images`): the app trains one epoch per call, and each call would otherwise
    # decode every JPEG again.
    decoded: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def key(self) -> int:
        """Two splits with equal keys hold the same photos in the same order, so what was computed
        for one (a memo's entry) is right for the other. An id() would not do: Python gives a freed
        object's id to the next one made."""
        return hash((tuple(self.train), tuple(self.val), self.seed))


def split_dataset(dataset: Dataset, train_size: int = 16_000, val_size: int = 6_400, seed: int = 13) -> Split:
    """A seeded, class-balanced train/validation split; copies of one photo stay on one side.

    The defaults are the tutorial's 16,000 and 6,400. A folder too small for them gets both
    sizes scaled down in proportion, and `note` says what was used.
    """
    if train_size < 2 or val_size < 2:
        raise CnnvizError(
            f"Asked for {train_size} training and {val_size} validation images: "
            "each needs at least 2 (one cat and one dog)."
        )
    counts = dataset.counts()
    for name, n in counts.items():
        if n == 0:
            raise CnnvizError(f"The dataset has no {name} photos, so it cannot be split: add some and scan again.")
    per_train, per_val = _fit(train_size // 2, val_size // 2, min(counts.values()))
    groups = _duplicate_groups(dataset)
    random.Random(seed).shuffle(groups)
    train, val = _assign(groups, per_train, per_val)
    note = None
    if (len(train), len(val)) != (train_size, val_size):
        note = (
            f"The folder holds {counts['cat']:,} cats and {counts['dog']:,} dogs; using {len(train):,} train "
            f"and {len(val):,} validation images (asked for {train_size:,} and {val_size:,})."
        )
    return Split(sorted(train), sorted(val), seed, note)


def _fit(per_train: int, per_val: int, available: int) -> tuple[int, int]:
    """Per-class sizes that fit in `available` photos per class, keeping their ratio."""
    if per_train + per_val <= available:
        return per_train, per_val
    if available < 2:
        raise CnnvizError(
            f"A class has only {available} photo, too few to split: each class needs at least 2 "
            "(one for training, one for validation)."
        )
    scale = available / (per_train + per_val)
    fitted_train = min(max(1, int(per_train * scale)), available - 1)
    return fitted_train, max(1, int(per_val * scale))


def _duplicate_groups(dataset: Dataset) -> list[list[tuple[str, int]]]:
    """Items grouped by their bytes' digest, in a fixed order so a seed means one split."""
    by_digest = defaultdict(list)
    for path, label in dataset.items:
        by_digest[dataset.digests.get(path, path)].append((path, label))
    return sorted(by_digest.values())


def _assign(groups: list[list[tuple[str, int]]], per_train: int, per_val: int) -> tuple[list, list]:
    """Fill each side to its per-class size, whole groups at a time, then even out the classes."""
    sides = [([], Counter(), per_train), ([], Counter(), per_val)]
    for group in groups:
        need = Counter(label for _, label in group)
        for items, have, size in sides:
            if all(have[label] + n <= size for label, n in need.items()):
                items.extend(group)
                have.update(need)
                break
    return _balanced(sides[0][0]), _balanced(sides[1][0])


def _balanced(side: list[tuple[str, int]]) -> list[tuple[str, int]]:
    # Duplicates that did not fit can leave a class short; drop the other's last additions.
    counts = Counter(label for _, label in side)
    keep = {label: min(counts[0], counts[1]) for label in (0, 1)}
    kept = []
    for path, label in side:
        if keep[label] > 0:
            keep[label] -= 1
            kept.append((path, label))
    return kept

