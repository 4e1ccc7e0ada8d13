"""Occlusion: hide one part of the photo at a time and watch the score fall.

A grey square (`size` pixels, stepped by `stride` over the 150 x 150 network input, the
last step flush with the far edge) replaces the photo's pixels at each position in turn;
the occluded copies go through the network in batches, and each position's *drop* is
P(class) of the whole photo minus P(class) with that square hidden. P(dog) is the sigmoid's
output, and P(cat) = 1 - P(dog). `Occlusion.heatmap` gives every pixel the mean drop of
the squares that covered it, a map at the photo's 150 x 150.

It asks the network directly, with no gradients: where does hiding the photo hurt the
score most? That makes it a check of Grad-CAM (`cnnviz.explain`), which reads the same
answer off gradients at the last convolution: `agreement` says how far the two maps order
the photo's places alike.

What it does not show: a square of grey is not "nothing" to the network but a patch of
its own, so part of a drop is the network's reaction to grey; a part that matters only
together with another (two ears) hardly drops when one is hidden; anything smaller than
the square blurs into its neighbours; where P(class) is near 0 or 1 the sigmoid is flat,
so even hiding what matters moves it little (the map is scaled to its largest drop: read
that number too); and a negative drop (hiding there raises the score) marks a place that
argued against the class. The map is of the network's reasons, not of where the animal is.

The defaults (a 30-pixel square, a 20-pixel stride: 7 x 7 = 49 copies of the photo, the
last square flush with the edge) keep the view under a second on 2 cores with the shipped
tutorial network (`benchmarks/views.py`; a 15-pixel stride's 81 copies took 0.47 CPU-seconds
to this one's 0.27); a smaller stride gives a finer map for proportionally more passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from cnnviz.backend import keras
from cnnviz.model import predict_dog_probability

SIZE = 30  # the square's side, in the network input's pixels
STRIDE = 20
FILL = 0.5  # mid grey in the network's [0, 1] input
BATCH = 25  # photos a forward pass, at most: the default's 50 (the photo and 49 squares) in two, near 100 MB each
CHANCE = 0.4  # an agreement within ±CHANCE is what two unrelated smooth maps often reach (see `agreement`)


@dataclass(frozen=True)
class Occlusion:
    target: str  # "dog" or "cat": the class whose score is watched
    score: float  # P(target) of the whole photo
    size: int
    stride: int
    positions: tuple[int, ...]  # the squares' top (and left) offsets; the same along both axes
    drops: np.ndarray  # (n, n): score minus P(target) with the square at (positions[row], positions[col])
    heatmap: np.ndarray  # (150, 150): each pixel's mean drop over the squares that covered it

    @property
    def largest_drop(self) -> tuple[float, int, int]:
        """(drop, top, left) of the square whose hiding lowered the score most."""
        row, col = np.unravel_index(int(np.argmax(self.drops)), self.drops.shape)
        return float(self.drops[row, col]), self.positions[row], self.positions[col]


def positions(side: int, size: int, stride: int) -> tuple[int, ...]:
    """Offsets of a square of `size` stepped by `stride` along `side` pixels, the last flush with the
    far edge, so every pixel is covered at least once."""
    if not 0 < size <= side or stride < 1:
        raise ValueError(f"need 0 < size <= {side} and stride >= 1, got size {size}, stride {stride}")
    found = list(range(0, side - size + 1, stride))
    if found[-1] != side - size:
        found.append(side - size)
    return tuple(found)


def occlusion(
    model: keras.Model,
    image: np.ndarray,
    target: str,
    size: int = SIZE,
    stride: int = STRIDE,
    fill: float = FILL,
    batch: int = BATCH,
) -> Occlusion:
    """The occlusion map of one network input (h, w, 3) in [0, 1] for "dog" or "cat"."""
    if target not in ("dog", "cat"):
        raise ValueError(f"target must be 'dog' or 'cat', got {target!r}")
    x = np.asarray(image, dtype="float32")
    side = x.shape[0]
    offsets = positions(side, size, stride)
    # The whole photo first, then a copy per square, in passes of one shape: the same arithmetic
    # for all (a pass of another batch size rounds differently), so a square that hides nothing
    # the network reads drops by exactly 0. The last pass is filled up with whole photos.
    squares = [None] + [(top, left) for top in offsets for left in offsets]
    passes = -(-len(squares) // batch)
    per_pass = -(-len(squares) // passes)
    p_dog = []
    for start in range(0, len(squares), per_pass):
        chunk = np.repeat(x[None], per_pass, axis=0)
        for copy, square in zip(chunk, squares[start : start + per_pass]):
            if square is not None:
                top, left = square
                copy[top : top + size, left : left + size] = fill
        p_dog.extend(predict_dog_probability(model, chunk)[: len(squares) - start].tolist())
    p = np.asarray(p_dog, dtype="float64")
    scores = p if target == "dog" else 1.0 - p
    drops = (scores[0] - scores[1:]).reshape(len(offsets), len(offsets))
    return Occlusion(target, float(scores[0]), size, stride, offsets, drops, _spread(drops, offsets, size, side))


def _spread(drops: np.ndarray, offsets: tuple[int, ...], size: int, side: int) -> np.ndarray:
    """Each pixel's mean drop over the squares that covered it."""
    total = np.zeros((side, side))
    count = np.zeros((side, side))
    for i, top in enumerate(offsets):
        for j, left in enumerate(offsets):
            total[top : top + size, left : left + size] += drops[i, j]
            count[top : top + size, left : left + size] += 1
    return (total / count).astype("float32")


def square_means(m: np.ndarray, offsets: tuple[int, ...], size: int) -> np.ndarray:
    """The mean of a per-pixel map under each occluding square: (n, n), as `Occlusion.drops` is laid out."""
    summed = np.pad(np.asarray(m, dtype="float64").cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # a summed-area table
    o = np.asarray(offsets)
    t, l = o[:, None], o[None, :]
    return (summed[t + size, l + size] - summed[t, l + size] - summed[t + size, l] + summed[t, l]) / size**2


def agreement(found: Occlusion, grad_cam_heatmap: np.ndarray) -> float | None:
    """How alike occlusion and Grad-CAM (of the same class) order the photo's places: Spearman's
    rank correlation, over the occluding squares, of each square's drop with Grad-CAM's mean
    under it. None when either is the same everywhere (a blank Grad-CAM, say).

    At the squares' resolution, because that is all occlusion measured: comparing the 150 x 150
    maps would count one square's drop thousands of times. Spearman rather than Pearson because
    the two are in different units on scales with no reason to be linear in each other (a drop
    in probability; a ReLU'd gradient-weighted sum, scaled to its maximum), and a few hot
    squares would carry a Pearson correlation: ranks ask only "are the places that matter most
    to one the places that matter most to the other?". +1: the same order; 0: unrelated;
    negative: occlusion hurts most where Grad-CAM is coolest. Neighbouring squares overlap and
    both maps are smooth, so the 49 values are far from 49 independent ones: in a simulation of
    unrelated random smooth maps (Gaussian-blurred noise, σ 5-20 pixels) under the default
    squares, one pair in ten reached ±0.30 to ±0.50 (the smoother the maps, the higher). Only a
    value well beyond ±0.4 says the two agree or disagree; read it as that, not to two decimals.
    """
    cam = square_means(grad_cam_heatmap, found.positions, found.size).ravel()
    drops = found.drops.ravel()
    if np.ptp(cam) == 0 or np.ptp(drops) == 0:
        return None
    return float(stats.spearmanr(drops, cam).statistic)


def agreement_meaning(agreement_: float | None) -> str:
    """What an agreement says, read against CHANCE: one sentence for a person."""
    if agreement_ is None:
        return "No agreement can be measured: one of the two maps is the same everywhere."
    if abs(agreement_) < CHANCE:
        return (f"{agreement_:+.2f} is within ±{CHANCE:g}, what two unrelated maps often reach by chance: "
                "this photo gives no evidence that the two rank its places alike or in opposite order.")
    if agreement_ > 0:
        return (f"{agreement_:+.2f} is past the ±{CHANCE:g} that two unrelated maps often reach by chance: "
                "the places that matter most to one tend to matter most to the other.")
    return (f"{agreement_:+.2f} is past the ±{CHANCE:g} that two unrelated maps often reach by chance, the other way: "
            "hiding hurts most where Grad-CAM is coolest.")


def occlusion_words(found: Occlusion, agreement_: float | None) -> str:
    """One line of what the map found, every number from it: the CLI's, and a caption's source."""
    drop, top, left = found.largest_drop
    n = len(found.positions)
    where = (
        f"hiding the one at x {left}, y {top} lowers P({found.target}) most, by {drop:.3f}"
        if drop > 0
        else f"hiding none of them lowers P({found.target})"
    )
    agree = "none (a blank map)" if agreement_ is None else f"{agreement_:+.2f}"
    return f"{n}x{n} grey {found.size}-pixel squares, stride {found.stride}: {where}; agreement with Grad-CAM (Spearman over the squares): {agree}"
