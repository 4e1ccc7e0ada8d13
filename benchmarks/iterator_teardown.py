"""End-of-epoch wait: how long `model.fit` goes on after its last batch, with and without
tf.data's autotuner, in one run, epochs alternating.

    .venv/bin/python -m benchmarks.iterator_teardown [--n 512] [--epochs 12]

Every arm trains its own copy of the network (cnnviz.model.build_model, same starting
weights) on the same N photos, decoded once into memory, fed by one of two sources:
- `tensors`: `from_tensor_slices` of the pixels, batch, rescale, prefetch: the shape of
  `keras.utils.image_dataset_from_directory`'s pipeline, without its JPEG decoding;
- `cnnviz`: cnnviz's own epoch pipeline (`cached_pipeline`, a generator over the cache);
each with `options.autotune.enabled` on and off. Epochs go round the arms in turn, so a
load that comes and goes hits all alike. For each epoch the script times the training pass (first batch to
`on_train_end`) and the tail: `on_train_end` to `fit` returning, which is mostly Keras
deleting the epoch's iterator.

Why it matters: the autotuner's thread sleeps in doubling periods (10 ms, 20 ms, 40 ms,
... 5.12 s, ...), and the deletion sometimes waits for the current period to end instead of
cutting it short. With 512 photos (16 batches, about 6 s on 2 cores) the wait lands on the
period ending at 10.23 s, which turns 85 images/s into exactly 50.0: the "one core's worth"
the plain Keras pipeline showed in many steady epochs of benchmarks/train_speed.py (which
now prints how long each of its epochs waited).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from pathlib import Path


from cnnviz.backend import keras, tf
from cnnviz.dataset import find_dataset
from cnnviz.pipeline import cached_pipeline, decoded_images
from cnnviz.split import split_dataset
from cnnviz.model import build_model, compile_model

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parent.parent.parent / "shared/data/dogs-vs-cats"))


class Marks(keras.callbacks.Callback):
    """perf_counter at the first batch and at on_train_end."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.first_batch = time.perf_counter()

    def on_train_end(self, logs=None):
        self.train_end = time.perf_counter()


def with_autotune(ds, enabled: bool):
    # cached_pipeline turns the autotuner off; turning it back on makes tf.data log a warning.
    logging.getLogger("absl").setLevel(logging.ERROR)
    options = tf.data.Options()
    options.autotune.enabled = enabled
    return ds.with_options(options)


def source(name: str, decoded, batch_size: int, epoch: int):
    if name == "cnnviz":
        return cached_pipeline(decoded, batch_size, order_seed=(13, epoch))
    ds = tf.data.Dataset.from_tensor_slices((decoded.images, decoded.labels)).shuffle(len(decoded), seed=epoch)
    return ds.batch(batch_size).map(lambda x, y: (tf.cast(x, "float32") / 255.0, y)).prefetch(2)


def one_epoch(model, ds) -> tuple[float, float, float]:
    """(seconds of the training pass, seconds of the tail, seconds of the whole fit call)."""
    marks = Marks()
    start = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0, callbacks=[marks])
    end = time.perf_counter()
    return marks.train_end - marks.first_batch, end - marks.train_end, end - start


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=512, help="training photos (half cats, half dogs)")
    p.add_argument("--epochs", type=int, default=12, help="epochs per arm")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data", type=Path, default=DATA / "train")
    p.add_argument("--sources", default="tensors,cnnviz", help="comma-separated: tensors, cnnviz")
    args = p.parse_args(argv)
    arms = [(name, autotune) for name in args.sources.split(",") for autotune in (True, False)]

    split = split_dataset(find_dataset(args.data), args.n, 2, seed=13)
    decoded = decoded_images(split.train)
    for _ in cached_pipeline(decoded, args.batch_size):  # decode once, outside the timing
        pass
    n = len(decoded)
    print(f"{n} photos from {args.data}, decoded in memory; batch {args.batch_size}; TensorFlow {tf.__version__}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    keras.utils.set_random_seed(13)
    models = {arm: compile_model(build_model()) for arm in arms}
    for model in models.values():
        model.set_weights(models[arms[0]].get_weights())
    results: dict[tuple[str, bool], list[tuple[float, float, float]]] = {arm: [] for arm in arms}
    for epoch in range(1, args.epochs + 1):
        for arm in arms:
            name, autotune = arm
            ds = with_autotune(source(name, decoded, args.batch_size, epoch), autotune)
            results[arm].append(one_epoch(models[arm], ds))
            train_s, tail_s, total_s = results[arm][-1]
            print(
                f"  epoch {epoch:>2} {name:<7} autotune {'on ' if autotune else 'off'}: pass {train_s:5.2f} s, "
                f"tail {tail_s:5.2f} s, {n / total_s:5.1f} images/s",
                flush=True,
            )

    print()
    print(f"| {'source':<7} | {'autotune':<8} | {'epochs':>6} | {'tail > 0.5 s':>12} | {'median tail s':>13} | {'mean tail s':>11} | {'max tail s':>10} | {'pass img/s':>10} | {'fit img/s':>9} |")
    print(f"|{'-' * 9}|{'-' * 10}|{'-' * 8}|{'-' * 14}|{'-' * 15}|{'-' * 13}|{'-' * 12}|{'-' * 12}|{'-' * 11}|")
    rates = {}
    for arm in arms:
        # Epoch 1 traces the step function: left out of the rates, kept in the tail counts.
        name, autotune = arm
        rows = results[arm]
        tails = [tail for _, tail, _ in rows]
        steady = rows[1:] or rows
        rates[arm] = n * len(steady) / sum(total for _, _, total in steady)
        print(
            f"| {name:<7} | {'on' if autotune else 'off':<8} | {len(rows):>6} | {sum(t > 0.5 for t in tails):>12} | "
            f"{statistics.median(tails):>13.3f} | {statistics.mean(tails):>11.3f} | {max(tails):>10.3f} | "
            f"{n * len(steady) / sum(s for s, _, _ in steady):>10.1f} | {rates[arm]:>9.1f} |"
        )
    print()
    for name in args.sources.split(","):
        print(f"{name}: images/s over whole fit calls, epoch 2 on, autotune off / on = {rates[name, False] / rates[name, True]:.2f}")


if __name__ == "__main__":
    main()
