"""How right the network is on labelled photos: accuracy, confusion matrix, per-image probabilities."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cnnviz.pipeline import make_pipeline
from cnnviz.inspect import verdict
from cnnviz.model import predict_dog_probability


@dataclass(frozen=True)
class Evaluation:
    items: list[tuple[str, int]]
    dog_probabilities: np.ndarray  # one per item, the sigmoid's output

    @property
    def labels(self) -> np.ndarray:
        return np.array([label for _, label in self.items])

    @property
    def predictions(self) -> np.ndarray:
        return np.array([1 if verdict(p).label == "dog" else 0 for p in self.dog_probabilities])

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predictions == self.labels)) if self.n else float("nan")

    @property
    def right(self) -> int:
        return int(np.sum(self.predictions == self.labels))

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of `accuracy`: how far another sample of n photos could land."""
        return accuracy_interval(self.right, self.n)

    @property
    def confusion(self) -> np.ndarray:
        """[[true cat -> cat, true cat -> dog], [true dog -> cat, true dog -> dog]]."""
        matrix = np.zeros((2, 2), dtype=int)
        np.add.at(matrix, (self.labels, self.predictions), 1)
        return matrix


def accuracy_interval(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for an accuracy of `right` out of `n` (95% for z = 1.96).

    A sample of photos gives an accuracy that another sample of the same size would miss by a
    few points; the interval says how many. Wilson's stays inside [0, 1] and, unlike
    p ± z·sqrt(p(1-p)/n), does not shrink to nothing at 0% or 100%.
    """
    if n <= 0:
        return float("nan"), float("nan")
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sample_items(items: list[tuple[str, int]], n: int, seed: int = 13) -> list[tuple[str, int]]:
    """A seeded sample of n items (all of them if fewer), half of each class where the items
    allow; a class that runs short leaves its share to the other."""
    rng = random.Random(seed)
    by_class = [[it for it in items if it[1] == label] for label in (0, 1)]
    n = min(n, len(items))
    cats = min(n // 2, len(by_class[0]))
    dogs = min(n - cats, len(by_class[1]))
    cats = n - dogs  # fills in when the dogs ran short
    return sorted(rng.sample(by_class[0], cats) + rng.sample(by_class[1], dogs))


def evaluate_items(
    model, items: list[tuple[str, int]], batch_size: int = 64, on_batch: Callable[[int], None] | None = None
) -> Evaluation:
    """P(dog) for every item, through the same input pipeline that validation uses."""
    probabilities = []
    for x, _y in make_pipeline(items, batch_size, training=False, cache=False):
        probabilities.append(predict_dog_probability(model, x.numpy()))
        if on_batch:
            on_batch(len(probabilities[-1]))
    return Evaluation(list(items), np.concatenate(probabilities) if probabilities else np.zeros(0))


def confidently_wrong(evaluation: Evaluation, k: int = 8) -> list[int]:
    """Indices of the k wrong verdicts the network was surest of, surest first.

    A verdict's confidence is the probability of the class it named (P(dog) for "dog",
    1 - P(dog) for "cat"), so a cat called a dog at P(dog) = 0.97 comes before one at 0.6.
    """
    return surest_first(evaluation, np.flatnonzero(evaluation.predictions != evaluation.labels))[:k]


def cell_photos(evaluation: Evaluation, true: int, said: int) -> list[int]:
    """Indices of the photos in one cell of the confusion matrix (true class `true`, verdict
    `said`; 0 cat, 1 dog), the verdicts the network was surest of first."""
    return surest_first(evaluation, np.flatnonzero((evaluation.labels == true) & (evaluation.predictions == said)))


def surest_first(evaluation: Evaluation, indices: np.ndarray) -> list[int]:
    """`indices` ordered by how far each photo's P(dog) is from 0.5, farthest first (ties keep their order)."""
    p = np.asarray(evaluation.dog_probabilities, dtype="float64")
    indices = np.asarray(indices, dtype=int)
    return [int(i) for i in indices[np.argsort(-np.abs(p[indices] - 0.5), kind="stable")]]
