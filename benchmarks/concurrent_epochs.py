"""What a server keeps after epochs that ran at the same time: RSS in-process, as the soak sees it.

    .venv/bin/python -m benchmarks.concurrent_epochs [--train 2000] [--sessions 3]

The shipped tutorial network is copied per session and trained one workshop epoch (`--train`
photos, 800 to validate) by a `TrainingJob`, as the Training page does: one session, a second
(nothing more is kept), then `--sessions` at once in threads, then one more. After each, the
RSS once Python has collected and glibc has trimmed its free pages (`malloc_trim`) (and how
long the epochs at once took, start to last end), the bytes
of numpy arrays still alive, and how many functions TensorFlow's eager context holds. Run it
with environment variables to see who keeps what, e.g. `TF_ENABLE_ONEDNN_OPTS=0` (oneDNN's
kernels off) or `TF_NUM_INTEROP_THREADS=1`.
"""

from __future__ import annotations

import argparse
import gc
import os
import threading
import time

import numpy as np
import psutil

from benchmarks.memory import DATA, MB, rss, trim


def arrays() -> float:
    return sum(o.nbytes for o in gc.get_objects() if isinstance(o, np.ndarray)) / MB


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--sessions", type=int, default=3)
    args = p.parse_args(argv)

    from cnnviz.dataset import find_dataset  # cnnviz first: cnnviz.backend imports TensorFlow quietly
    from cnnviz.jobs import TrainingJob
    from cnnviz.model import compile_model, copy_model, load_default_model
    from cnnviz.split import split_dataset
    from tensorflow.python.eager import context

    dataset = find_dataset(DATA / "train")
    shipped, _ = load_default_model()
    compile_model(shipped)

    def session() -> None:
        job = TrainingJob(copy_model(shipped), split_dataset(dataset, args.train, 800, seed=13), epoch=1).start()
        job.join()
        assert job.status().state == "finished", job.status().error

    def line(what: str) -> None:
        trim()
        print(f"{what:<34} RSS {rss() / MB:6.0f} MB, numpy arrays alive {arrays():4.0f} MB, "
              f"eager functions {len(context.context().list_function_names())}", flush=True)

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          + ", ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith(("TF_ENABLE", "TF_NUM", "ONEDNN", "MALLOC"))))
    line("start (shipped network loaded)")
    session()
    line("after one session's epoch")
    session()
    line("after a second, alone")
    threads = [threading.Thread(target=session) for _ in range(args.sessions)]
    for t in threads:
        t.start()
    peak, started = 0.0, time.perf_counter()
    while any(t.is_alive() for t in threads):
        peak = max(peak, psutil.Process().memory_info().rss / MB)
        time.sleep(0.5)
    line(f"after {args.sessions} at once ({time.perf_counter() - started:.0f} s, peak {peak:.0f} MB)")
    session()
    line("after one more, alone")


if __name__ == "__main__":
    main()
