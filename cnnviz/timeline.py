"""Learning over time: the first layer's filters after every epoch, and what they make of a probe photo.

Training records the first convolution's kernel and bias (3x3x3x32 + 32 numbers, under 4 kB)
before the first epoch and after each one (cnnviz.session.SessionModel). That is all the timeline
needs: the feature map of any probe photo follows from them exactly (correlate each colour
channel with the filter, add them up, add the bias, ReLU), so no photo or map is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class Snapshot:
    label: str  # "start", "epoch 1", ...
    kernel: np.ndarray  # (3, 3, 3, filters)
    bias: np.ndarray  # (filters,)


def snapshots(start, rows: list[dict], after: list) -> list[Snapshot]:
    """The start, then every epoch whose weights the model kept (a rolled-back epoch is left out).

    `start` is the first layer's (kernel, bias) before the first epoch, `after[i]` the same
    after the epoch of `rows[i]` (an epoch row with its `kept`).
    """
    if start is None:
        return []
    kept = [Snapshot(f"epoch {row['epoch']}", *layer) for row, layer in zip(rows, after) if row["kept"]]
    return [Snapshot("start", *start), *kept]


def movement(shots: list[Snapshot]) -> np.ndarray:
    """(len(shots) - 1, filters): how far each filter's 27 weights moved in each epoch (Euclidean distance)."""
    if len(shots) < 2:
        return np.zeros((0, shots[0].kernel.shape[-1] if shots else 0))
    kernels = np.stack([s.kernel for s in shots]).astype("float64")
    steps = np.diff(kernels, axis=0)  # (epochs, 3, 3, 3, filters)
    return np.sqrt((steps**2).sum(axis=(1, 2, 3)))


def typical_length(kernel: np.ndarray) -> float:
    """The mean Euclidean length of a layer's filters: the yardstick for how far they moved."""
    return float(np.sqrt((np.asarray(kernel, dtype="float64") ** 2).sum(axis=(0, 1, 2))).mean())


def first_layer_map(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray, filter_index: int) -> np.ndarray:
    """The first layer's feature map (after ReLU) of one filter for a network input, recomputed from the weights."""
    x = np.asarray(image, dtype="float64")
    k = np.asarray(kernel, dtype="float64")[:, :, :, filter_index]
    total = sum(signal.correlate2d(x[:, :, c], k[:, :, c], mode="valid") for c in range(x.shape[-1]))
    return np.maximum(total + float(bias[filter_index]), 0.0)
