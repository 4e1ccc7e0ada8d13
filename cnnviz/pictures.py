"""Pictures made from numpy arrays and shown as plain images: photos shrunk for grids, the
network's input enlarged pixel for pixel, feature maps coloured on their own range or on a
shared one, and red frames around the pixels a step works on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnviz.mosaic import colourise, normalise, upscale


def thumbnail(rgb: np.ndarray, side: int = 200) -> np.ndarray:
    """A photo shrunk so its longer side is `side` pixels (aspect kept), for sample grids."""
    image = Image.fromarray(np.asarray(rgb, dtype="uint8"))
    image.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image)


def square_thumbnail(rgb: np.ndarray, side: int = 200) -> np.ndarray:
    """A centre crop to a square, then `side` x `side`: a grid of these lines up."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = np.ascontiguousarray(rgb[top : top + s, left : left + s])
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.Resampling.BILINEAR))


def enlarge(rgb: np.ndarray, side: int) -> np.ndarray:
    """A small square picture (a receptive field's patch, say) at side x side without smoothing:
    each pixel stays one flat block, as the network saw it."""
    return np.asarray(Image.fromarray(np.asarray(rgb, dtype="uint8")).resize((side, side), Image.Resampling.NEAREST))


def network_view(network_input: np.ndarray, factor: int = 2) -> np.ndarray:
    """The 150x150 [0, 1] input as uint8 RGB, enlarged without smoothing: what the network sees."""
    rgb = np.clip(np.rint(np.asarray(network_input) * 255), 0, 255).astype("uint8")
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def shared_scale(maps: Sequence[np.ndarray], reference: np.ndarray, cmap: str = "viridis") -> list[np.ndarray]:
    """Colour several maps on the reference map's value range, so equal pictures mean equal numbers."""
    lo, hi = float(np.min(reference)), float(np.max(reference))
    span = hi - lo if hi > lo else 1.0
    return [colourise(np.clip((np.asarray(m, dtype="float64") - lo) / span, 0, 1), cmap) for m in maps]


def patch_outline(rgb: np.ndarray, top: int, left: int, size: int, width: int = 3) -> np.ndarray:
    """The photo with a red frame around the patch shown by cnnviz.charts.pixel_patch."""
    out = np.array(rgb, dtype="uint8", copy=True)
    h, w = out.shape[:2]
    t0, t1 = max(top - width, 0), min(top + size + width, h)
    l0, l1 = max(left - width, 0), min(left + size + width, w)
    red = np.array([230, 20, 20], dtype="uint8")
    out[t0 : top, l0:l1] = red
    out[min(top + size, h) : t1, l0:l1] = red
    out[t0:t1, l0:left] = red
    out[t0:t1, min(left + size, w) : l1] = red
    return out


def map_with_pixel(feature_map: np.ndarray, row: int, col: int, scale: int = 3, sweep: bool = True, size: int = 1) -> np.ndarray:
    """A feature map coloured on its own range, enlarged, with the size x size block of pixels
    whose top-left is (row, col) framed in red.

    With `sweep`, the pixels a row-by-row sweep has not reached yet are greyed out, so the
    map fills in as the window moves: the framed pixel is the one being written.
    """
    m = np.asarray(feature_map)
    rgb = colourise(normalise(m)).astype("float32")
    if sweep:
        index = np.arange(m.size).reshape(m.shape)
        later = index > row * m.shape[1] + col
        rgb[later] = 0.25 * rgb[later] + 0.75 * 235
    big = upscale(np.rint(rgb).astype("uint8"), scale)
    frame = max(1, scale // 2)
    return patch_outline(big, row * scale, col * scale, size * scale, width=frame)


def window_zoom(network_input: np.ndarray, row: int, col: int, size: int = 3, around: int = 6, scale: int = 16) -> np.ndarray:
    """The pixels around a size x size window, enlarged so each is a square, the window framed
    in red: the window moving over the photo's pixels, where the whole photo would show a dot."""
    rgb = network_view(network_input, 1)
    h, w = rgb.shape[:2]
    top, left = max(0, row - around), max(0, col - around)
    bottom, right = min(h, row + size + around), min(w, col + size + around)
    crop = np.repeat(np.repeat(rgb[top:bottom, left:right], scale, axis=0), scale, axis=1)
    return patch_outline(crop, (row - top) * scale, (col - left) * scale, size * scale, width=max(2, scale // 4))


PATCH_CELL = 64  # pixels a cell of `pixel_numbers`: room for three numbers of four characters


def pixel_numbers(rgb: np.ndarray, top: int, left: int, size: int, unit_range: bool = False) -> np.ndarray:
    """A size x size patch of a photo, each pixel a square cell of its colour with its R, G and B
    numbers written in it: uint8 (numbers 0..255), or with `unit_range` the float network input
    in [0, 1] (two decimals, as the network gets them).

    Drawn as a plain image rather than an interactive chart: it is the Layer Explorer's first
    view, and a chart's script costs every browser opening it a second of CPU, which a room of
    them on the server's own cores waits for.
    """
    window = np.asarray(rgb)[top : top + size, left : left + size]
    patch = np.clip(np.rint(window * 255), 0, 255).astype("uint8") if unit_range else window.astype("uint8")
    h, w = patch.shape[:2]
    image = Image.fromarray(np.repeat(np.repeat(patch, PATCH_CELL, axis=0), PATCH_CELL, axis=1))
    draw = ImageDraw.Draw(image)
    font = _font()
    brightness = patch.astype("float32") @ np.array([0.299, 0.587, 0.114], dtype="float32")
    for y in range(h):
        for x in range(w):
            numbers = "\n".join(f"{v:.2f}" if unit_range else str(v) for v in window[y, x])
            centre = ((x + 0.5) * PATCH_CELL, (y + 0.5) * PATCH_CELL)
            ink = "black" if brightness[y, x] >= 128 else "white"  # dark on light pixels, light on dark
            draw.multiline_text(centre, numbers, fill=ink, font=font, anchor="mm", align="center", spacing=2)
    return np.asarray(image)


def _font():
    return ImageFont.load_default(size=15)


@functools.lru_cache(maxsize=16)
def font(size: int = 15) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at `size` pixels, from matplotlib's own files: it has ε and ×, which Pillow's
    built-in font lacks. (`pixel_numbers` keeps Pillow's: the Explorer's first view would
    otherwise wait for matplotlib's import.)"""
    from matplotlib import get_data_path  # imported late: matplotlib costs start-up time

    return ImageFont.truetype(str(Path(get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def captioned(panels: Sequence[np.ndarray], captions: Sequence[str], size: int = 15, gap: int = 16) -> np.ndarray:
    """uint8 RGB pictures side by side on white, each with its caption (lines split at newlines)
    under it: one figure for a file, such as `cnnviz inspect` writes."""
    lines = max(caption.count("\n") + 1 for caption in captions)
    top = max(p.shape[0] for p in panels)
    width = gap + sum(p.shape[1] + gap for p in panels)
    image = Image.new("RGB", (width, gap + top + 8 + lines * (size + 5) + gap), "white")
    draw = ImageDraw.Draw(image)
    left = gap
    for panel, caption in zip(panels, captions, strict=True):
        image.paste(Image.fromarray(np.asarray(panel, dtype="uint8")), (left, gap))
        draw.multiline_text((left, gap + top + 8), caption, fill=(40, 40, 40), font=font(size), spacing=5)
        left += panel.shape[1] + gap
    return np.asarray(image)
