"""The Build page's epoch estimate against real epochs, for the three named networks.

    .venv/bin/python -m benchmarks.epoch_estimate [--train 320 --val 128]

Measures this machine's speed once as the page does (`cnnviz.calibration.measure`), then for
each of the tutorial's, the pooled and the modern network trains a fresh `SessionModel` two
epochs on the same real photos, as the Training page does, and prints the second epoch's
seconds (photos already decoded, as every epoch after a session's first) beside the estimate
for that many photos. The estimate scales by multiply-adds alone, so the ratio shows what the
rest of an epoch (pooling, ReLU, batch norm, the input pipeline) adds for each network.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cnnviz.architecture import NETWORKS
from cnnviz.calibration import measure
from cnnviz.dataset import find_dataset
from cnnviz.session import SessionModel
from cnnviz.split import split_dataset

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared/data/dogs-vs-cats")) / "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=320)
    parser.add_argument("--val", type=int, default=128)
    args = parser.parse_args()
    dataset = find_dataset(DATA)
    split = split_dataset(dataset, args.train, args.val, 13)
    speed = measure()
    print(f"measured: {speed.train / 1e9:.1f} billion multiply-adds a second training ({speed.precision}), "
          f"{speed.validate / 1e9:.1f} validating; load average {speed.load:.2f} on {os.cpu_count()} CPUs", flush=True)
    for name, line in NETWORKS.items():
        mine = SessionModel.untrained(network=line)
        for _ in range(2):
            mine.start_epoch(split, dataset).join()
            mine.record()
        real = mine.rows[-1]["seconds"]
        estimate = speed.epoch_seconds(line, len(split.train), len(split.val))
        print(f"{name:9} epoch 2 of {len(split.train)} + {len(split.val)} photos: {real:6.1f} s real, "
              f"{estimate:6.1f} s estimated (real / estimate {real / estimate:.2f}); load average {os.getloadavg()[0]:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
