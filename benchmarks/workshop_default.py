"""How soon a room sees the workshop epoch learn: val_accuracy against seconds from the first click.

Every attendee trains the same network on the same photos from a different random start, so
this trains `--starts` fresh networks (seeds 0, 1, ...) on the Training page's workshop split,
the way the page does (a `SessionModel`, its epochs in a background job, training steps in
the machine's `auto` precision, validation in float32), and prints, per start, val_accuracy
after each epoch with the seconds since the first click. Decoding is included: each start
splits afresh, as a new session's first epoch does, and the first start decodes every photo.
The last lines give the first epoch's button-to-val_accuracy seconds and count the starts that
reached `--goal` within `--within` seconds.

    python -m benchmarks.workshop_default --learning-rate 1e-4 --epochs 6 --starts 10
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from cnnviz.backend import keras
from cnnviz.dataset import find_dataset
from cnnviz.precision import resolve
from cnnviz.session import SessionModel
from cnnviz.split import split_dataset

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared/data/dogs-vs-cats")) / "train"


def one_start(dataset, seed: int, args, held: list) -> list[tuple[float, float]]:
    """[(seconds since the click, val_accuracy)] after each epoch of one random start."""
    keras.utils.set_random_seed(seed)
    split = split_dataset(dataset, args.train, args.val, 13)
    held.append(split)  # as in a room, the decoded pixels stay shared while a session holds the split
    mine = SessionModel.untrained(args.learning_rate)
    if args.precision != "auto":
        mine.precision = resolve(args.precision)
    clicked = time.perf_counter()
    points = []
    for _ in range(args.epochs):
        job = mine.start_epoch(split, dataset, batch_size=args.batch_size)
        job.join()
        mine.record()
        points.append((time.perf_counter() - clicked, mine.rows[-1]["val_accuracy"]))
        if points[-1][0] > args.within:  # what a start does after the deadline does not count
            break
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--train", type=int, default=2_000)
    parser.add_argument("--val", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--goal", type=float, default=0.65)
    parser.add_argument("--within", type=float, default=180.0)
    args = parser.parse_args()
    dataset = find_dataset(DATA)
    print(
        f"lr {args.learning_rate:g}, {args.train:,}/{args.val:,} photos, batch {args.batch_size}, precision "
        f"{resolve(args.precision).name}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    reached, first_epochs, held = [], [], []
    for seed in range(args.first_seed, args.first_seed + args.starts):
        points = one_start(dataset, seed, args, held)
        print(f"start {seed}: " + "  ".join(f"{acc:.3f}@{s:.0f}s" for s, acc in points), flush=True)
        reached.append(any(acc >= args.goal and s <= args.within for s, acc in points))
        first_epochs.append(points[0][0])
    print(f"first epoch, click to val_accuracy: {first_epochs[0]:.1f} s decoding the photos, then "
          + ", ".join(f"{s:.1f}" for s in first_epochs[1:]) + " s with them decoded")
    print(f"{sum(reached)} of {len(reached)} starts reached {args.goal:.0%} within {args.within:.0f} s")


if __name__ == "__main__":
    main()
