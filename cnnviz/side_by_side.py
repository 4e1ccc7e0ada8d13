"""Two networks on the same photo and the same validation photos: what a side-by-side view shows.

What architecture alone buys is only visible when everything else is held still: the same
photos to judge, the same photo to look at, the same machine. For each network, `side()`
gathers its size (parameters, multiply-adds a photo), its speed here (a forward pass timed on
this machine now), its accuracy with a 95% interval on the photos given, and its verdict on
the photo with where it looked (Grad-CAM on its last convolution, the Layer Explorer's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cnnviz.architecture import line_of, multiply_adds, network_name, parameters
from cnnviz.evaluation import Evaluation, evaluate_items
from cnnviz.images import Photo
from cnnviz.inspect import Verdict
from cnnviz.model import predict_dog_probability
from cnnviz.report import photo_report

TIMED_BATCH = 32  # the batch the timing runs, as validation does
TIMED_REPEATS = 3


@dataclass(frozen=True)
class Side:
    name: str  # "tutorial", "modern", or "custom"
    parameters: int
    multiply_adds: int  # a photo's forward pass
    ms_per_photo: float  # a forward pass in batches of TIMED_BATCH on this machine, the best of TIMED_REPEATS
    evaluation: Evaluation
    verdict: Verdict  # on the photo
    looked: np.ndarray  # Grad-CAM of the verdict's class over the network's input (RGB), as the Explorer shows it


def ms_per_photo(model, network_input: np.ndarray) -> float:
    """Milliseconds a photo through `model` here: a batch of copies of `network_input`, once
    untimed (the first call traces), then the fastest of a few (the least disturbed by other work)."""
    batch = np.repeat(network_input[None], TIMED_BATCH, axis=0)
    predict_dog_probability(model, batch)
    best = float("inf")
    for _ in range(TIMED_REPEATS):
        start = time.perf_counter()
        predict_dog_probability(model, batch)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / TIMED_BATCH


def side(model, photo: Photo, items: list[tuple[str, int]], on_batch=None) -> Side:
    """`model`'s figures on `photo` and on the labelled `items` (judged through the validation pipeline)."""
    line = line_of(model.layers)
    report = photo_report(model, photo)
    return Side(
        name=network_name(line) or "custom",
        parameters=parameters(line),
        multiply_adds=multiply_adds(line),
        ms_per_photo=ms_per_photo(model, photo.network_input),
        evaluation=evaluate_items(model, items, on_batch=on_batch),
        verdict=report.verdict,
        looked=report.looked[f"gradcam-{report.verdict.label}"],
    )
