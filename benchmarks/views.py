"""The three views of one photo (issue 17): overview, occlusion beside Grad-CAM, and fooling the
network (FGSM), each timed warm over N photos, in-process, by the calls the app and
`cnnviz inspect` make.

    .venv/bin/python -m benchmarks.views [--photos 20] [--warmup 3] [--network tutorial]

For each photo a fresh `report.photo_report` (nothing is shared between photos but the model
and its traced functions), then:
- overview: the report itself (the one forward pass and the verdict) and `report.overview`'s
  picture as PNG bytes, what Home draws;
- occlusion: `report.occlusion` (the default 30-pixel square, stride 20: 50 images through the
  network), the Grad-CAMs (`report.explanation`), the agreement and both overlays, what the view
  shows side by side;
- FGSM: the gradient's sign, the smallest flipping ε (`report.smallest_flip`), and the
  perturbed photo, its verdict and the amplified change at that ε: the view's first paint;
  then "ε moved", one more ε alone, what a slider's step costs. Untimed, a control: random
  ±ε signs at the flipping ε and at 4 times it, which an aimed change is to be compared with.
`--network modern` times the modern network's shipped weights; `pooled` has random weights
(none ship): its overview's figure is still the one to read, occlusion and FGSM on an untrained
network mean little.
Target (issue 17): each view's p95 under 1 s warm, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks.attendees import DATA, percentile
from cnnviz.adversarial import MAX_EPSILON, amplified, fool, random_direction
from cnnviz.images import load_photo
from cnnviz.model import load_default_model
from cnnviz.report import photo_report

TARGET = 1.0  # seconds, each view's p95 (issue 17)


def overview(model, photo) -> None:
    photo_report(model, photo).overview.png


def occlusion(report) -> None:
    report.occlusion, report.occlusion_agreement, report.occluded, report.looked


def fgsm(report) -> None:
    epsilon = report.smallest_flip or MAX_EPSILON
    fooled = report.fooled(epsilon)
    amplified(report.photo.network_input, fooled.perturbed, epsilon)


def slider(report) -> None:
    report.fooled(0.5 * (report.smallest_flip or MAX_EPSILON))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--network", default="tutorial", help="tutorial or modern (their shipped weights), or pooled (random weights)")
    p.add_argument("--data", type=Path, default=DATA / "train")
    args = p.parse_args(argv)

    paths = sorted(args.data.glob("*.jpg"))
    # Cats and dogs alternately: the sorted folder starts with thousands of cats.
    half = (args.photos + args.warmup + 1) // 2
    cats, dogs = [x for x in paths if x.name.startswith("cat.")][:half], [x for x in paths if x.name.startswith("dog.")][:half]
    chosen = [x for pair in zip(cats, dogs) for x in pair][: args.photos + args.warmup]
    photos = [load_photo(path) for path in chosen]
    model, card = load_default_model(network=args.network)
    print(f"{len(photos)} photos from {args.data} ({args.warmup} for warm-up); network: {args.network}, "
          f"weights: {'shipped' if card else 'random (untrained)'}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    views = {"overview": [], "occlusion + Grad-CAM": [], "FGSM": [], "FGSM, ε moved": []}
    cpu = {name: [] for name in views}
    flips, agreements, random_flips = [], [], {1: [], 4: []}
    for i, photo in enumerate(photos):
        timings = {}
        t, c = time.perf_counter(), time.process_time()
        overview(model, photo)
        timings["overview"] = (time.perf_counter() - t, time.process_time() - c)
        report = photo_report(model, photo)
        for name, view in (("occlusion + Grad-CAM", occlusion), ("FGSM", fgsm), ("FGSM, ε moved", slider)):
            t, c = time.perf_counter(), time.process_time()
            view(report)
            timings[name] = (time.perf_counter() - t, time.process_time() - c)
        if i >= args.warmup:
            for name, (wall, used) in timings.items():
                views[name].append(wall)
                cpu[name].append(used)
            flips.append(report.smallest_flip)
            agreements.append(report.occlusion_agreement)
            if report.smallest_flip is not None:  # the control: random signs of the same size, and of 4x it
                random = random_direction(photo.network_input.shape, seed=i)
                for k in (1, 4):
                    random_flips[k].append(fool(model, photo.network_input, k * report.smallest_flip, random, report.verdict).flipped)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"| {'view, warm':<22} | {'p50 s':>6} | {'p95 s':>6} | {'CPU s, p50':>10} | target | met? |")
    print(f"|{'-' * 24}|{'-' * 8}|{'-' * 8}|{'-' * 12}|--------|------|")
    for name, walls in views.items():
        p50, p95 = percentile(walls, 0.50), percentile(walls, 0.95)
        print(f"| {name:<22} | {p50:>6.3f} | {p95:>6.3f} | {statistics.median(cpu[name]):>10.3f} | p95 < {TARGET:g} | {'yes' if p95 < TARGET else 'no':<4} |")
    print()
    found = [e for e in flips if e is not None]
    print(f"smallest flipping ε: flipped {len(found)} of {len(flips)} photos within {MAX_EPSILON}; "
          + (f"median {statistics.median(found):.4f} ({255 * statistics.median(found):.2f} of 255 levels)" if found else "none"))
    print("random ±ε signs instead (the control): flipped " + " and ".join(
        f"{sum(v)} of {len(v)} at {k}x the flipping ε" for k, v in random_flips.items()))
    known = [a for a in agreements if a is not None]
    if known:
        print(f"occlusion vs Grad-CAM agreement (Spearman): median {statistics.median(known):+.2f}, "
              f"range {min(known):+.2f} to {max(known):+.2f}, over {len(known)} photos")


if __name__ == "__main__":
    main()
