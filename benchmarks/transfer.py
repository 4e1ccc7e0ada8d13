"""What the shipped convolutions are worth: a head on them, frozen, against the same head on random ones.

The Training page's Transfer buttons, without the page: each start is a `SessionModel.transfer`
run on the transfer sample (`cnnviz.runs.transfer_split`: 200 training photos, 800 validation
photos the shipped weights never trained on), in the machine's `auto` precision, and prints
val_accuracy after each epoch for learned and random convolutions side by side, per learning
rate and random start.

    python -m benchmarks.transfer --starts 2 --learning-rates 1e-3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from cnnviz.backend import keras
from cnnviz.dataset import find_dataset
from cnnviz.model import default_weights_path, load_default_model
from cnnviz.runs import TRANSFER_EPOCHS, transfer_split
from cnnviz.session import SessionModel

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared/data/dogs-vs-cats")) / "train"


def one_run(mine: SessionModel, source, card, split, dataset, epochs: int, batch_size: int) -> list[float]:
    mine.transfer(source, card)
    accuracies = []
    for _ in range(epochs):
        mine.start_epoch(split, dataset, batch_size=batch_size).join()
        mine.record()
        accuracies.append(mine.rows[-1]["val_accuracy"])
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-3, 1e-4])
    parser.add_argument("--epochs", type=int, default=TRANSFER_EPOCHS)
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    dataset = find_dataset(DATA)
    split = transfer_split(dataset, default_weights_path())
    shipped, card = load_default_model()
    print(f"transfer sample: {len(split.train)} training, {len(split.val)} validation photos (none trained on by the shipped weights)")
    print("rate    start  convolutions  val_accuracy after each epoch          seconds")
    for rate in args.learning_rates:
        for seed in range(args.starts):
            for name, source in (("shipped", shipped), ("random", None)):
                keras.utils.set_random_seed(seed)
                mine = SessionModel.untrained(rate)
                began = time.perf_counter()
                accuracies = one_run(mine, source, card, split, dataset, args.epochs, args.batch_size)
                shown = "  ".join(f"{a:.3f}" for a in accuracies)
                print(f"{rate:<7g} {seed:<6} {name:<13} {shown:<38} {time.perf_counter() - began:7.1f}", flush=True)


if __name__ == "__main__":
    main()
