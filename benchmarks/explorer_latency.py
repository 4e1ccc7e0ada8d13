"""Layer Explorer latency: an uploaded photo's bytes to the verdict, every activation mosaic
and the filters, all as PNG bytes, in-process, after warm-up.

    .venv/bin/python -m benchmarks.explorer_latency [--runs 50]

cnnviz's path is what pages/layer_explorer.py computes for a new photo, by the same calls:
`load_photo`, then `report.photo_report` (one pass for every layer, and the verdict), its
`mosaics` (a palette PNG of every convolution, ReLU and pooling output, two at a time), then
its `filter_png` of the first layer (RGB and its three channels) and of each deeper layer's
first input channel. The page itself computes only the open tab's parts; this is all of them.
The peer, run alternately in the same process on the same photos, is the tutorial's way:
an activation model called with `Model.predict`, per-map mosaics coloured one map at a time,
PNGs by Pillow at its default compression, one after another. Targets (issue 5): p50 <= 150 ms, p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import time
from pathlib import Path


import numpy as np
from PIL import Image

from cnnviz import inspect
from cnnviz.backend import keras
from cnnviz.images import load_photo
from cnnviz.model import layer_table, load_default_model
from cnnviz.report import MAP_KINDS, photo_report

DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", Path(__file__).resolve().parent.parent.parent / "shared/data/dogs-vs-cats"))


def cnnviz_path(model, data: bytes, stages: dict) -> dict:
    t0 = time.perf_counter()
    photo = load_photo(data)
    t1 = time.perf_counter()
    report = photo_report(model, photo)
    t2 = time.perf_counter()
    pngs = dict(report.mosaics)
    t3 = time.perf_counter()
    (first, _), *deeper = report.filters.items()
    pngs[f"{first} rgb"] = report.filter_png(first)
    for c in range(3):
        pngs[f"{first} {c}"] = report.filter_png(first, c)
    for name, _ in deeper:
        pngs[f"{name} 0"] = report.filter_png(name, 0)
    t4 = time.perf_counter()
    timed = (("decode photo", t1 - t0), ("network and verdict", t2 - t1), ("feature-map PNGs", t3 - t2), ("filter PNGs", t4 - t3))
    for key, dt in timed:
        stages.setdefault(key, []).append(dt)
    return {"verdict": report.verdict, "pngs": pngs}


# --- the peer: the tutorial's way -------------------------------------------------------------


def _peer_colourise(x01, cmap="viridis"):
    from matplotlib import colormaps

    lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype("uint8")
    return lut[np.clip(np.rint(x01 * 255), 0, 255).astype("int32")]


def _peer_normalise(x):
    x = np.asarray(x, dtype="float32")
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _peer_grid(tiles, cols=None, border=1):
    n, h, w, _ = tiles.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + border) + border, cols * (w + border) + border, 3), 255, dtype="uint8")
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = border + r * (h + border), border + c * (w + border)
        out[top : top + h, left : left + w] = tiles[i]
    return out


def _peer_png(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def peer_path(model, activation_model, kinds, data: bytes) -> dict:
    photo = load_photo(data)
    outputs = activation_model.predict(photo.network_input[None], verbose=0)
    acts = {layer.name: out[0] for layer, out in zip(model.layers, outputs)}
    verdict = inspect.verdict(float(acts[model.layers[-1].name].ravel()[0]))
    images = {}
    for name, a in acts.items():
        if a.ndim == 3 and kinds[name] in MAP_KINDS:
            images[name] = _peer_grid(np.stack([_peer_colourise(_peer_normalise(a[:, :, i])) for i in range(a.shape[-1])]), 8)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k = keras.ops.convert_to_numpy(layer.kernel)
            tiles = [_peer_colourise(0.5 + 0.5 * k[:, :, 0, i] / np.abs(k[:, :, 0, i]).max(), "RdBu_r") for i in range(k.shape[-1])]
            images[layer.name] = _peer_grid(np.stack([np.repeat(np.repeat(t, 12, 0), 12, 1) for t in tiles]), border=2)
    return {"verdict": verdict, "pngs": {name: _peer_png(image) for name, image in images.items()}}


def _pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--data", type=Path, default=DATA / "train")
    args = p.parse_args(argv)

    photos = sorted(args.data.glob("*.jpg"))[: args.runs + args.warmup]
    blobs = [path.read_bytes() for path in photos]
    model, card = load_default_model()
    kinds = {row.name: row.kind for row in layer_table(model)}
    activation_model = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
    print(f"{len(blobs)} photos from {args.data} ({args.warmup} for warm-up); weights: {'shipped' if card else 'untrained'}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    stages: dict[str, list[float]] = {}
    ours, peer, ours_cpu, peer_cpu = [], [], [], []
    for i, data in enumerate(blobs):
        t, c = time.perf_counter(), time.process_time()
        a = cnnviz_path(model, data, stages)
        dt_ours, dc_ours = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        b = peer_path(model, activation_model, kinds, data)
        dt_peer, dc_peer = time.perf_counter() - t, time.process_time() - c
        assert a["verdict"].label == b["verdict"].label
        if i >= args.warmup:
            ours.append(dt_ours)
            peer.append(dt_peer)
            ours_cpu.append(dc_ours)
            peer_cpu.append(dc_peer)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"PNG images per photo: cnnviz {len(a['pngs'])} ({sum(map(len, a['pngs'].values())) / 1e3:.0f} kB), peer {len(b['pngs'])} ({sum(map(len, b['pngs'].values())) / 1e3:.0f} kB)")
    print()
    print(f"| {'ms per photo':<12} | {'cnnviz':>7} | {'peer':>7} | {'ratio':>5} | target |")
    print(f"|{'-' * 14}|{'-' * 9}|{'-' * 9}|{'-' * 7}|--------|")
    for name, q, target in (("p50", 50, 150), ("p95", 95, 300)):
        o, r = 1e3 * _pct(ours, q), 1e3 * _pct(peer, q)
        print(f"| {name:<12} | {o:>7.1f} | {r:>7.1f} | {r / o:>5.2f} | {'<=' + str(target):>6} |")
    o, r = 1e3 * statistics.median(ours_cpu), 1e3 * statistics.median(peer_cpu)
    print(f"| {'CPU ms, p50':<12} | {o:>7.1f} | {r:>7.1f} | {r / o:>5.2f} | (all threads; the load hardly moves it)")
    print()
    print("cnnviz's stages, median ms: " + ", ".join(f"{k} {1e3 * statistics.median(v[args.warmup:]):.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
