"""Everything the Layer Explorer shows for one photo, as PNG files and one "workshop pack" zip.

A presenter preparing slides, or an attendee going home, gets the same pictures the app
draws, computed from the same weights: the photo and what the network gets, the verdict in
words, every layer's feature maps, the filters, where the network looked, and the
convolution check with its numbers.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import numpy as np

from cnnviz import pictures
from cnnviz.mosaic import feature_mosaic, filter_mosaic, to_png, upscale

MAP_KINDS = ("convolution", "relu", "max pooling")  # layers whose output is a stack of maps


def image_figures(model, photo, description: str = "", on_step: Callable[[str], None] | None = None) -> dict[str, bytes]:
    """File name -> PNG (or text) bytes of every figure for one photo (a cnnviz.images.Photo).

    `description` says which weights these are, for the verdict's text; `on_step` hears the
    name of each part as it is computed (a progress line).
    """
    from cnnviz.explain import explain, overlay
    from cnnviz.inspect import activations, conv_filters, convolution_check, verdict
    from cnnviz.model import layer_table

    def step(name: str) -> None:
        if on_step:
            on_step(name)

    x = photo.network_input
    files: dict[str, bytes] = {}
    step("the photo")
    files["01-photo.png"] = to_png(photo.original)
    files["02-network-input.png"] = to_png(pictures.network_view(x, 2))

    step("every layer's feature maps")
    acts = activations(model, x)
    last = model.layers[-1].name
    v = verdict(float(acts[last].ravel()[0]))
    files["03-verdict.txt"] = _verdict_text(v, description).encode()
    kinds = {row.name: row.kind for row in layer_table(model)}
    for i, (name, a) in enumerate(acts.items(), start=1):
        if a.ndim == 3 and kinds[name] in MAP_KINDS:
            files[f"04-feature-maps/{i:02d}-{name}.png"] = to_png(feature_mosaic(a, cols=8))

    step("the filters")
    for name, (kernel, _bias) in conv_filters(model).items():
        if kernel.shape[2] == 3:
            files[f"05-filters/{name}-rgb.png"] = to_png(filter_mosaic(kernel, scale=12))
            for c, colour in enumerate(("red", "green", "blue")):
                files[f"05-filters/{name}-{colour}.png"] = to_png(filter_mosaic(kernel, channel=c, scale=12))
        else:
            files[f"05-filters/{name}-input-channel-0.png"] = to_png(filter_mosaic(kernel, channel=0, scale=12))

    step("where the network looked")
    found = explain(model, x)
    view = pictures.network_view(x, 2)
    files["06-where-it-looked/grad-cam-dog.png"] = to_png(overlay(view, found.grad_cams["dog"].heatmap))
    files["06-where-it-looked/grad-cam-cat.png"] = to_png(overlay(view, found.grad_cams["cat"].heatmap))
    files["06-where-it-looked/saliency.png"] = to_png(overlay(view, found.saliency, alpha=0.8, cmap="hot", lift=1.0))

    step("the convolution check")
    check = convolution_check(model, x, 0)
    maps = [check.network, check.correlate, check.flipped_convolve, check.tutorial]
    strip = np.concatenate([np.pad(upscale(m, 2), ((0, 0), (0, 8), (0, 0)), constant_values=255) for m in pictures.shared_scale(maps, check.network)], axis=1)
    files["07-convolution-check.png"] = to_png(strip)
    files["07-convolution-check.txt"] = _check_text(check).encode()
    files["README.txt"] = _readme(files).encode()
    return files


def _verdict_text(v, description: str) -> str:
    lines = [
        f"Verdict: {v.label}, {v.probability:.1%} sure",
        f"P(dog) = {v.dog_probability:.4f} (dog if P(dog) >= 0.5, else cat)",
    ]
    if description:
        lines.append(f"Weights: {description}")
    return "\n".join(lines) + "\n"


def _check_text(check) -> str:
    lines = [
        f"First-layer filter {check.filter_index}: its feature map recomputed by hand, compared with the network's own.",
        "Left to right in the PNG: the network's map, correlate2d, flipped convolve2d, the tutorial's grayscale convolve2d.",
    ]
    lines += [f"{name}: max |difference| = {d:.3g}" for name, d in check.max_abs_difference.items()]
    return "\n".join(lines) + "\n"


def _readme(files: dict[str, bytes]) -> str:
    listing = "\n".join(f"  {name}" for name in files)
    return (
        "cnnviz workshop pack: every figure the Layer Explorer shows for one photo.\n"
        "Feature maps: each map coloured on its own scale (yellow its largest value, dark blue its smallest).\n"
        "Filters: RGB, then one input channel at a time (red positive weight, blue negative).\n"
        f"Files:\n{listing}\n  README.txt\n"
    )


def zip_bytes(files: dict[str, bytes], folder: str = "") -> bytes:
    """A zip of name -> bytes, optionally inside one folder, so it unpacks tidily."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}" if folder else name, data)
    return buffer.getvalue()

