"""Memory per parameter: what one attendee's network costs the server while it trains.

    .venv/bin/python -m benchmarks.model_memory [--units 16 64 256 512] [--optimizers rmsprop adam]

For each size (the tutorial's network with `--units` in dense_1, 1.3 M to 40 M parameters)
and optimizer, a fresh process does what a Training page session does: a `SessionModel` of
that line, one epoch of 64 real photos through `start_epoch` (training steps in this
machine's `auto` precision, so its bfloat16 twin where the CPU has bfloat16 units), then
`record`. It reports RSS growth from just before the model was built to after the epoch
(what the session holds: weights, the optimizer's slots, the twin and its slots, the start of
epoch copy that Roll back restores) and to the process's peak (plus the gradients and the
copies made while the epoch ran). A least-squares line through the sizes gives bytes per
parameter (slope) and the fixed cost of a session (intercept); the last lines turn the peak
slope into the number of parameters `--attendees` sessions can each hold in `--budget-gb`.
The per-attendee limit, `cnnviz.architecture.MAX_PARAMETERS`, was chosen from its output.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", ROOT.parent / "shared/data/dogs-vs-cats")) / "train"
MB = 2**20
SERVER_GB = round(psutil.virtual_memory().total / 2**30 - 3.4 - 2.0, 1)

ONE = """
import json, sys
from cnnviz import architecture
from cnnviz.architecture import parameters
from cnnviz.dataset import find_dataset
from cnnviz.model import build_network, compile_model
from cnnviz.precision import detected
from cnnviz.session import SessionModel
from cnnviz.split import split_dataset
from benchmarks.model_memory import rss, peak

line, optimizer, folder = sys.argv[1:4]
architecture.MAX_PARAMETERS = 10**12  # the sizes above the limit are what it is chosen from
dataset = find_dataset(folder)
split = split_dataset(dataset, 64, 32, 13)
before = rss()
mine = SessionModel(compile_model(build_network(line), optimizer=optimizer), "benchmark")
job = mine.start_epoch(split, dataset)
job.join()
assert mine.record() and mine.rows[-1]["state"] == "finished", mine.rows
print(json.dumps({"parameters": parameters(line), "before": before, "after": rss(), "peak": peak(),
                  "precision": detected().name}))
"""


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def peak() -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line."""
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[16, 64, 256, 512], help="dense_1's units, one process each")
    parser.add_argument("--optimizers", nargs="+", default=["rmsprop", "adam"])
    parser.add_argument("--attendees", type=int, default=20)
    parser.add_argument(
        "--budget-gb", type=float, default=SERVER_GB,
        help="memory for the attendees' sessions: this machine's, less the server's 3.4 GB peak under a room "
        "(README, Serving a workshop) and 2 GB for the system",
    )
    args = parser.parse_args()

    from tests.appserver import copy_photos

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    worst = (0.0, 0.0)  # (bytes a parameter, fixed bytes) at the peak, of the hungriest optimizer
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_photos(DATA, Path(tmp) / "train", per_class=48)
        env = {**os.environ, "CNNVIZ_CACHE": str(Path(tmp) / "cache"), "PYTHONPATH": str(ROOT)}
        for optimizer in args.optimizers:
            points = []
            for units in args.units:
                line = f"conv32 conv32 pool conv64 pool dense{units} dropout0.5"
                out = subprocess.run(
                    [sys.executable, "-c", ONE, line, optimizer, str(folder)], capture_output=True, text=True, cwd=ROOT, env=env,
                )
                if out.returncode:
                    raise SystemExit(out.stderr[-3000:])
                m = json.loads(out.stdout.strip().splitlines()[-1])
                held, top = m["after"] - m["before"], m["peak"] - m["before"]
                points.append((m["parameters"], held, top))
                print(
                    f"{optimizer:8} dense{units:<4} {m['parameters']:>11,} parameters: held {held / MB:7.0f} MB, "
                    f"peak {top / MB:7.0f} MB over the {m['before'] / MB:.0f} MB before ({m['precision']})",
                    flush=True,
                )
            params = [p for p, _, _ in points]
            held_slope, held_fixed = fit(params, [h for _, h, _ in points])
            peak_slope, peak_fixed = fit(params, [t for _, _, t in points])
            worst = max(worst, (peak_slope, peak_fixed))
            print(
                f"{optimizer}: held {held_slope:.1f} bytes a parameter + {held_fixed / MB:.0f} MB; "
                f"peak {peak_slope:.1f} bytes a parameter + {peak_fixed / MB:.0f} MB",
                flush=True,
            )
    share = args.budget_gb * 2**30 / args.attendees
    slope, fixed = worst
    print(
        f"{args.attendees} attendees in {args.budget_gb:g} GB: {share / MB:,.0f} MB each, less {fixed / MB:.0f} MB fixed, "
        f"holds {(share - fixed) / slope:,.0f} parameters at the hungriest peak ({slope:.1f} bytes a parameter)"
    )


if __name__ == "__main__":
    main()
