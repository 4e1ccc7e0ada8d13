"""Training speed: cnnviz against the plain Keras pipeline, in one run, epochs interleaved.

    .venv/bin/python -m benchmarks.train_speed [--n 1024] [--epochs 3]

(a) the peer: `keras.utils.image_dataset_from_directory` on a class-folder tree of
    symlinks to N photos, a `Rescaling(1/255)` map, `model.fit` one epoch at a time;
(b) cnnviz: `cnnviz.training.train` once per epoch on a split of the same N photos, as
    `python -m cnnviz train` calls it (so the decoded-image cache lives as it does there),
    once for each `--precision`: `auto` (the default of `train` and the Training page:
    mixed_bfloat16 where the CPU has bfloat16 units, cnnviz.precision), then float32.
    mixed_bfloat16 keeps float32 weights and multiplies in bfloat16, which AVX512_BF16 and
    AMX units run natively; validation stays float32 either way.
All train the same network (cnnviz.model.build_model, RMSprop, BCE, batch 32), from the
same fresh weights, with epochs interleaved peer, cnnviz float32, cnnviz bfloat16, peer, ...
so a load that comes and goes on a shared machine hits all alike. Epoch 1 of the first
cnnviz model decodes the photos; the second finds them decoded. The sgemm-equivalent rate is measured
between epochs too: a float32 numpy matmul's GFLOP/s divided by 1.84 GFLOP per training
image. Training-pass rates only (validation excluded, as the CLI's epoch line reports).

On a shared machine wall-clock rates follow the other processes' load, so the table also
gives images per CPU-second of this process (all threads; cnnviz's includes its validation
pass over --val photos), which the load hardly moves: the work each way costs. It also
says how long each of the peer's epochs went on after its last batch: tf.data's autotuner
sometimes holds the end of an epoch for seconds (benchmarks/iterator_teardown.py), which
cnnviz's pipelines avoid by turning it off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


import numpy as np

from cnnviz.backend import keras, tf
from cnnviz.dataset import find_dataset
from cnnviz.split import split_dataset
from cnnviz.model import build_model, compile_model
from cnnviz.precision import detected, resolve
from cnnviz.training import train
from benchmarks.iterator_teardown import Marks

GFLOP_PER_IMAGE = 1.84  # forward + backward of the tutorial network, one 150x150x3 image
DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parent.parent.parent / "shared/data/dogs-vs-cats"))


def sgemm_gflops(n: int = 2048, repeats: int = 3) -> float:
    a = np.random.default_rng(0).random((n, n), dtype="float32")
    b = np.random.default_rng(1).random((n, n), dtype="float32")
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def class_tree(items, root: Path) -> Path:
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (path, label) in enumerate(items):
        (root / ("cat", "dog")[label] / f"{i:05d}{Path(path).suffix}").symlink_to(path)
    return root


def peer_dataset(root: Path, batch_size: int, seed: int):
    ds = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="binary", image_size=(150, 150), batch_size=batch_size,
        shuffle=True, seed=seed, verbose=False,
    )
    rescale = keras.layers.Rescaling(1.0 / 255)
    return ds.map(lambda x, y: (rescale(x), y))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1024, help="training photos (half cats, half dogs)")
    p.add_argument("--val", type=int, default=16, help="validation photos for cnnviz's epochs (not timed)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data", type=Path, default=DATA / "train")
    p.add_argument("--precisions", default="auto,float32", help="cnnviz's runs, comma-separated")
    args = p.parse_args(argv)
    precisions = args.precisions.split(",")
    resolved = {precision: resolve(precision).name for precision in precisions}
    print("auto here: " + f"{detected().name}, because {detected().reason}")

    split = split_dataset(find_dataset(args.data), args.n, args.val, seed=13)
    n = len(split.train)
    print(f"{n} training photos from {args.data}; batch {args.batch_size}; TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs")
    tmp = tempfile.TemporaryDirectory()
    peer_ds = peer_dataset(class_tree(split.train, Path(tmp.name)), args.batch_size, seed=13)
    keras.utils.set_random_seed(13)
    peer_model = compile_model(build_model())
    ours_models = {precision: compile_model(build_model()) for precision in precisions}
    for model in ours_models.values():
        model.set_weights(peer_model.get_weights())

    peer_tails = []  # seconds each peer epoch's fit went on after on_train_end
    rows, sgemm, loads = [], [], []  # rows: (peer img/s, peer img/CPU-s, {precision: (img/s, img/CPU-s)})
    for epoch in range(1, args.epochs + 1):
        sgemm.append(sgemm_gflops())
        cpu, marks = time.process_time(), Marks()
        seconds = _timed(lambda: peer_model.fit(peer_ds, epochs=1, verbose=0, callbacks=[marks]))
        peer, peer_cpu = n / seconds, n / (time.process_time() - cpu)
        peer_tails.append(time.perf_counter() - marks.train_end)  # after its last batch: the autotuner's wait
        ours = {}
        for precision, model in ours_models.items():
            cpu = time.process_time()
            (result,) = train(model, split, 1, batch_size=args.batch_size, first_epoch=epoch, precision=resolved[precision])
            ours[precision] = (result.images_per_second, n / (time.process_time() - cpu))
        loads.append(os.getloadavg()[0])
        rows.append((peer, peer_cpu, ours))
        print(
            f"  epoch {epoch}: plain Keras {peer:.1f} images/s ({peer_cpu:.1f} per CPU-s, {peer_tails[-1]:.1f} s after its last batch), "
            + ", ".join(f"cnnviz {k} {v[0]:.1f} images/s ({v[1]:.1f} per CPU-s)" for k, v in ours.items())
            + f", sgemm {sgemm[-1]:.0f} GFLOP/s, load {loads[-1]:.2f}",
            flush=True,
        )
    sgemm.append(sgemm_gflops())

    gflops = statistics.median(sgemm)
    limit = gflops / GFLOP_PER_IMAGE
    print()
    print(f"sgemm: {gflops:.0f} GFLOP/s (median of {len(sgemm)}, range {min(sgemm):.0f}-{max(sgemm):.0f}) -> limit {limit:.1f} images/s at {GFLOP_PER_IMAGE} GFLOP/image")
    print(f"load average over the run: {min(loads):.2f}-{max(loads):.2f}")
    waited = [t for t in peer_tails if t > 0.5]
    print(
        f"plain Keras waited more than 0.5 s after its last batch in {len(waited)} of {len(peer_tails)} epochs"
        + (f" ({', '.join(f'{t:.1f}' for t in waited)} s): tf.data's autotuner, see benchmarks/iterator_teardown.py" if waited else "")
    )
    print()
    print(
        f"| {'epochs':<14} | {'cnnviz':<14} | {'img/s':>6} | {'plain Keras img/s':>17} | {'ratio':>5} | {'% of sgemm':>10} "
        f"| {'peer % of sgemm':>15} | {'img/CPU-s':>9} | {'peer img/CPU-s':>14} | {'ratio':>5} |"
    )
    print(f"|{'-' * 16}|{'-' * 16}|{'-' * 8}|{'-' * 19}|{'-' * 7}|{'-' * 12}|{'-' * 17}|{'-' * 11}|{'-' * 16}|{'-' * 7}|")
    groups = [("1 (decoding)", rows[:1])] + ([(f"2-{args.epochs} (steady)", rows[1:])] if rows[1:] else [])
    for name, group in groups:
        peer, peer_cpu = (statistics.mean(r[k] for r in group) for k in (0, 1))
        for precision in precisions:
            ours, ours_cpu = (statistics.mean(r[2][precision][k] for r in group) for k in (0, 1))
            print(
                f"| {name:<14} | {label(precision, resolved):<14} | {ours:>6.1f} | {peer:>17.1f} | {ours / peer:>5.2f} | {100 * ours / limit:>9.0f}% "
                f"| {100 * peer / limit:>14.0f}% | {ours_cpu:>9.1f} | {peer_cpu:>14.1f} | {ours_cpu / peer_cpu:>5.2f} |"
            )
    tmp.cleanup()


def label(precision: str, resolved: dict[str, str]) -> str:
    return precision if resolved[precision] == precision else f"{precision} = {resolved[precision].replace('mixed_', '')}"


if __name__ == "__main__":
    main()
