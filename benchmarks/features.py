"""What a filter looks for, and the network's map of the photos (issue 17): seconds, in-process.

    .venv/bin/python -m benchmarks.features [--sweep] [--filters 2] [--map-photos 500] [--map-runs 3]

- Made input (activation maximisation), seconds per unit at `cnnviz.maximise.STEPS` steps:
  `--filters` filters of every convolution layer, plus the dog and cat outputs, on the
  tutorial's network and on the modern one, both with their shipped weights. The first unit of a layer pays for tracing
  its step; the others do not. Target: 10 s a unit on 2 cores.
- Patches: the nine strongest of `--patch-photos` photos, cold (the layer's pass over the
  photos, decoded already) and warm (another filter of a layer already passed).
- Warm memo hit: a made input asked for again (what a second session showing the shipped
  weights waits).
- Photo map of `--map-photos` photos (shipped weights): decoding, the forward pass, PCA,
  t-SNE, then a warm hit. Target for t-SNE: a few seconds.

With `--sweep`, first every filter of the shipped network against its best patch of the
300 `originals/` (photos its weights never trained on): how many made inputs lose, and the
smallest ratio of made input to best patch.

Prints the load average too: these figures move with whatever else shares the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from cnnviz import maximise, photomap
from cnnviz.dataset import find_dataset
from cnnviz.evaluation import sample_items
from cnnviz.model import load_default_model
from cnnviz.pipeline import decoded_images

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parent.parent.parent / "shared/data/dogs-vs-cats"))
TARGET = 10.0  # seconds a unit (issue 17)


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype="float64"), q))


def made_inputs(name: str, model, per_layer: int) -> list[float]:
    """Seconds of each unit's made input; prints one line a unit."""
    seconds = []
    units = []
    for layer in maximise.conv_layers(model):
        filters = model.get_layer(layer).filters
        units += [maximise.filter_unit(model, layer, k) for k in np.linspace(0, filters - 1, per_layer).astype(int)]
    units += [maximise.output_unit(model, side) for side in maximise.OUTPUTS]
    traced = set()
    for unit in units:
        made = maximise.made_input(model, unit)
        first = unit.layer not in traced
        traced.add(unit.layer)
        seconds.append(made.seconds)
        view = maximise.canvas(model, unit)
        print(f"  {name} {unit.words():<28} {made.seconds:6.2f} s{' (traces the step)' if first else '':<19} "
              f"{view.side}x{view.side}, reaches {made.activation:.3f} from {made.start:.3f}", flush=True)
    return seconds


def summary(label: str, seconds: list[float]) -> None:
    p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
    print(f"{label}: p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(seconds):.2f} s over {len(seconds)} units "
          f"(target {TARGET:.0f} s: {'met' if max(seconds) <= TARGET else 'NOT met'})")


def sweep(model) -> None:
    sample = maximise.photo_sample(find_dataset(DATA / "originals").items, maximise.SAMPLE)
    ratios = []
    for layer in maximise.conv_layers(model):
        for k in range(model.get_layer(layer).filters):
            unit = maximise.filter_unit(model, layer, k)
            best = maximise.top_patches(model, unit, sample).patches[0].activation
            ratios.append((maximise.made_input(model, unit).activation / best, unit.words()))
    lost = [words for ratio, words in ratios if ratio <= 1]
    smallest = min(ratios)
    print(f"sweep: {len(lost)} of {len(ratios)} made inputs lose to their best of {len(sample)} photo patches"
          f"{': ' + ', '.join(lost) if lost else ''}; smallest ratio {smallest[0]:.2f} ({smallest[1]})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=2, help="filters a convolution layer")
    parser.add_argument("--patch-photos", type=int, default=maximise.SAMPLE)
    parser.add_argument("--map-photos", type=int, default=photomap.SAMPLE)
    parser.add_argument("--map-runs", type=int, default=3)
    parser.add_argument("--sweep", action="store_true", help="first, every filter of the shipped network against its patches")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {maximise.STEPS} steps a unit")

    tutorial = load_default_model()[0]
    modern = load_default_model(network="modern")[0]
    if args.sweep:
        sweep(tutorial)
    tutorial_seconds = made_inputs("tutorial", tutorial, args.filters)
    modern_seconds = made_inputs("modern", modern, args.filters)
    summary("made input, tutorial (shipped weights)", tutorial_seconds)
    summary("made input, modern (shipped weights)", modern_seconds)
    summary("made input, both", tutorial_seconds + modern_seconds)

    unit = maximise.filter_unit(tutorial, "conv2d_1", 0)
    hits = []
    for _ in range(20):
        started = time.perf_counter()
        maximise.made_input(tutorial, unit)
        hits.append(time.perf_counter() - started)
    print(f"warm memo hit (a made input asked for again): p50 {1000 * percentile(hits, 50):.2f} ms, p95 {1000 * percentile(hits, 95):.2f} ms")

    items = find_dataset(DATA / "train").items
    sample = maximise.photo_sample(items, args.patch_photos)
    started = time.perf_counter()
    decoded_images(sample).decode_all()
    print(f"patches: decoding {len(sample)} photos {time.perf_counter() - started:.2f} s (once per sample, shared)")
    for model, name in ((tutorial, "tutorial"), (modern, "modern")):
        for layer in maximise.conv_layers(model)[:: max(1, len(maximise.conv_layers(model)) // 3)] + ["output"]:
            unit = maximise.output_unit(model, "dog") if layer == "output" else maximise.filter_unit(model, layer, 0)
            started = time.perf_counter()
            maximise.top_patches(model, unit, sample)
            cold = time.perf_counter() - started
            warm = []
            for k in range(1, 11):
                other = maximise.output_unit(model, "cat") if layer == "output" else maximise.filter_unit(model, layer, k)
                started = time.perf_counter()
                maximise.top_patches(model, other, sample)
                warm.append(time.perf_counter() - started)
            print(f"  {name} {unit.layer:<10} top {maximise.PATCHES} of {len(sample)}: cold (the layer's pass) {cold:.2f} s, "
                  f"warm (another filter) p50 {1000 * percentile(warm, 50):.1f} ms, p95 {1000 * percentile(warm, 95):.1f} ms")

    stages: dict[str, list[float]] = {}
    for run in range(args.map_runs):
        photos = sample_items(items, args.map_photos, seed=100 + run)
        started = time.perf_counter()
        decoded_images(photos).decode_all()
        stages.setdefault("decode", []).append(time.perf_counter() - started)
        found = photomap.photo_map(tutorial, photos, seed=13)
        for key, value in found.seconds.items():
            stages.setdefault(key, []).append(value)
        started = time.perf_counter()
        photomap.photo_map(tutorial, photos, seed=13)
        stages.setdefault("warm hit", []).append(time.perf_counter() - started)
        print(f"  map run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in stages.items())
              + f"; nearest neighbour has its class: PCA {photomap.neighbour_accuracy(found.pca, found.labels):.0%}, "
              f"t-SNE {photomap.neighbour_accuracy(found.tsne, found.labels):.0%}", flush=True)
    print(f"photo map of {args.map_photos} photos (tutorial, shipped weights), median of {args.map_runs} runs: "
          + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in stages.items() if k != "warm hit")
          + f"; warm hit {1000 * statistics.median(stages['warm hit']):.2f} ms (the first t-SNE also imports scikit-learn)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
