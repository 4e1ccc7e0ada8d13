"""Memory: the app with the shipped model loaded, and what each extra training session adds.

    .venv/bin/python -m benchmarks.memory [--sessions 3] [--n 512]

1. App: a fresh process that holds what the server holds once a page has shown the
   shipped network: cnnviz imported, `load_default_model()`, and one Layer Explorer pass
   (activations and every mosaic). Peer, in a process of its own too: the tutorial's way,
   `import tensorflow, keras`, the same network built and loaded, an activation model's
   `predict`. RSS measured with psutil after each is done.
2. Training sessions, in-process as the Training page runs them: for each session a
   `copy_model` of the shipped network and a `TrainingJob` of one epoch on the same split of
   N photos (a split made per session, as each browser session makes its own). RSS after
   each session's epoch; then all sessions are dropped and RSS measured again (after
   gc and glibc's malloc_trim, which hands freed heap pages back to the system).
   Peer: the same sessions with the plain Keras pipeline (`image_dataset_from_directory`
   + `.cache()`), each session decoding and holding its own pixels.
Targets (issue 5): app <= 1.5 GB; each extra training session <= 300 MB, released at its end.
(benchmarks/attendees.py measures the real server under a room of Chromium sessions.)
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", ROOT.parent / "shared/data/dogs-vs-cats"))
MB = 2**20

APP = """
import json, psutil, sys
from cnnviz import inspect
from cnnviz.images import load_photo
from cnnviz.model import load_default_model, layer_table
from cnnviz.mosaic import feature_mosaic, filter_mosaic, to_png
model, card = load_default_model()
photo = load_photo({photo!r})
acts = inspect.activations(model, photo.network_input)
pngs = [to_png(feature_mosaic(a, cols=8)) for a in acts.values() if a.ndim == 3]
pngs += [to_png(filter_mosaic(k, channel=0)) for k, _ in inspect.conv_filters(model).values()]
print(json.dumps({{"rss": psutil.Process().memory_info().rss, "shipped": card is not None}}))
"""

PEER = """
import json, psutil, sys, numpy as np
import tensorflow as tf, keras
from PIL import Image
from cnnviz.model import build_model, default_weights_path
model = build_model()
path = default_weights_path()
if path: model.load_weights(path)
x = np.asarray(Image.open({photo!r}).convert("RGB").resize((150, 150)), dtype="float32")[None] / 255
activation_model = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
outputs = activation_model.predict(x, verbose=0)
print(json.dumps({{"rss": psutil.Process().memory_info().rss}}))
"""


def in_fresh_process(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rss() -> int:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss


def trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--n", type=int, default=512, help="training photos per session's split")
    p.add_argument("--data", type=Path, default=DATA / "train")
    args = p.parse_args(argv)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    photo = str(sorted(args.data.glob("*.jpg"))[0])
    app = in_fresh_process(APP.format(photo=photo))
    peer_app = in_fresh_process(PEER.format(photo=photo))

    from cnnviz.backend import keras  # noqa: F401
    from cnnviz.dataset import find_dataset
    from cnnviz.split import split_dataset
    from cnnviz.jobs import TrainingJob
    from cnnviz.model import compile_model, copy_model, load_default_model

    dataset = find_dataset(args.data)
    shipped, _ = load_default_model()
    compile_model(shipped)  # as the Training page's copy_model expects a learning rate to copy

    def ours_session():
        split = split_dataset(dataset, args.n, 32, seed=13)
        model = copy_model(shipped)
        job = TrainingJob(model, split, epoch=1).start()
        job.join()
        assert job.status().state == "finished", job.status().error
        return (split, model, job)

    tmp = tempfile.TemporaryDirectory()

    def peer_session():
        split = split_dataset(dataset, args.n, 32, seed=13)
        root = Path(tempfile.mkdtemp(dir=tmp.name))
        for name in ("cat", "dog"):
            (root / name).mkdir()
        for i, (path, label) in enumerate(split.train):
            (root / ("cat", "dog")[label] / f"{i:05d}.jpg").symlink_to(path)
        ds = keras.utils.image_dataset_from_directory(root, label_mode="binary", image_size=(150, 150), batch_size=32, verbose=False)
        ds = ds.map(lambda x, y: (x / 255.0, y)).cache()
        model = copy_model(shipped)
        model.fit(ds, epochs=1, verbose=0)
        return (ds, model)

    rows = {}
    for who, make in (("cnnviz", ours_session), ("peer", peer_session)):
        make()  # warm-up: traces the training step once, so session costs exclude one-off compilation
        trim()
        before = rss()
        sessions, steps = [], []
        for _ in range(args.sessions):
            sessions.append(make())
            steps.append(rss())
            print(f"  {who}: {len(sessions)} session(s), RSS {steps[-1] / MB:.0f} MB", flush=True)
        sessions.clear()
        trim()
        after = rss()
        first = steps[0] - before
        extra = (steps[-1] - steps[0]) / max(1, args.sessions - 1)
        rows[who] = (first, extra, after - before)
        print(f"  {who}: all sessions ended, RSS {after / MB:.0f} MB", flush=True)
    tmp.cleanup()

    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"| {'MB':<52} | {'cnnviz':>7} | {'peer':>7} | {'ratio':>5} | target |")
    print(f"|{'-' * 54}|{'-' * 9}|{'-' * 9}|{'-' * 7}|--------|")
    lines = [
        (f"process with the {'shipped' if app['shipped'] else 'untrained'} model, one photo explored", app["rss"], peer_app["rss"], "<=1536"),
        (f"first training session ({args.n} photos)", rows["cnnviz"][0], rows["peer"][0], "<=300"),
        ("each further session on the same photos", rows["cnnviz"][1], rows["peer"][1], "<=300"),
        ("left after every session ended", rows["cnnviz"][2], rows["peer"][2], "~0"),
    ]
    for name, ours, peer, target in lines:
        ratio = f"{ours / peer:.2f}" if peer > 0 else "-"
        print(f"| {name:<52} | {ours / MB:>7.0f} | {peer / MB:>7.0f} | {ratio:>5} | {target:>6} |")


if __name__ == "__main__":
    main()
