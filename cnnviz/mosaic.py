"""Mosaics of feature maps and filters, as RGB arrays and as PNG bytes.

Each map is normalised on its own (a map's pattern matters, not its scale next to its
neighbours), coloured with a matplotlib colour map and laid out in a grid with borders.
The tutorial's helper for this had `xrange` and `nimags` bugs; this one is tested.
"""

from __future__ import annotations

import functools
import io
import math

import numpy as np
from PIL import Image

BORDER_COLOUR = (255, 255, 255)


def normalise(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant map (a dead ReLU, say) becomes all zeros."""
    x = np.asarray(x, dtype="float32")
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def colourise(x01: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """A [0, 1] array (..., ) -> uint8 RGB (..., 3) through a matplotlib colour map."""
    return _lut(cmap)[np.clip(np.rint(x01 * 255), 0, 255).astype("int32")]


@functools.lru_cache(maxsize=16)
def _lut(cmap: str) -> np.ndarray:
    """256 RGB colours of a matplotlib colour map, looked up once per name (it costs milliseconds)."""
    from matplotlib import colormaps  # imported late: matplotlib costs start-up time

    lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype("uint8")
    lut.flags.writeable = False
    return lut


def _normalise_maps(maps: np.ndarray) -> np.ndarray:
    """`normalise` applied to every map (h, w, c) of a layer at once: each on its own range."""
    maps = np.asarray(maps, dtype="float32")
    lo = maps.min(axis=(0, 1), keepdims=True)
    span = maps.max(axis=(0, 1), keepdims=True) - lo
    out = (maps - lo) / np.where(span > 0, span, 1.0)
    out[..., (span <= 0).ravel()] = 0.0  # a constant map (a dead ReLU, say) becomes all zeros
    return out


def grid(tiles: np.ndarray, cols: int | None = None, border: int = 1) -> np.ndarray:
    """Lay out tiles (n, h, w, 3) uint8 in a grid with `border`-pixel lines around every tile."""
    n, h, w, _ = tiles.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    # Every tile with its border to the right and below, as one (rows, h+b, cols, w+b) block.
    cells = np.empty((rows, h + border, cols, w + border, 3), dtype="uint8")
    cells[:] = BORDER_COLOUR
    padded = np.empty((rows * cols, h, w, 3), dtype="uint8")
    padded[:n] = tiles
    padded[n:] = BORDER_COLOUR
    cells[:, :h, :, :w] = padded.reshape(rows, cols, h, w, 3).transpose(0, 2, 1, 3, 4)
    out = np.empty((rows * (h + border) + border, cols * (w + border) + border, 3), dtype="uint8")
    out[:border] = BORDER_COLOUR
    out[:, :border] = BORDER_COLOUR
    out[border:, border:] = cells.reshape(rows * (h + border), cols * (w + border), 3)
    return out


def upscale(tile: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: a 3x3 kernel stays nine honest squares."""
    return np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)


def feature_mosaic(maps: np.ndarray, cols: int | None = None, cmap: str = "viridis", border: int = 1) -> np.ndarray:
    """All channels of a layer output (h, w, c) as one coloured grid, each map normalised."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"expected (height, width, channels), got shape {maps.shape}")
    tiles = colourise(np.moveaxis(_normalise_maps(maps), -1, 0), cmap)  # all maps in one pass
    return grid(tiles, cols, border)


def filter_mosaic(kernel: np.ndarray, channel: int | None = None, scale: int = 12, cmap: str = "RdBu_r") -> np.ndarray:
    """Convolution filters (kh, kw, in, out) as a grid, enlarged so each weight is visible.

    With `channel=None` and three input channels, each filter is shown in colour (its RGB
    weights normalised together); otherwise the slice for one input channel is shown with a
    diverging colour map, so the sign of each weight is visible.
    """
    kernel = np.asarray(kernel)
    if channel is None and kernel.shape[2] == 3:
        tiles = [(normalise(kernel[:, :, :, i]) * 255).astype("uint8") for i in range(kernel.shape[-1])]
    else:
        c = 0 if channel is None else channel
        tiles = [colourise(_symmetric(kernel[:, :, c, i]), cmap) for i in range(kernel.shape[-1])]
    return grid(np.stack([upscale(t, scale) for t in tiles]), border=2)


def _symmetric(x: np.ndarray) -> np.ndarray:
    """Map to [0, 1] with zero at 0.5, so a diverging colour map shows positive vs negative."""
    m = float(np.abs(x).max())
    return 0.5 + 0.5 * x / m if m > 0 else np.full_like(x, 0.5, dtype="float32")


def to_png(image: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of a uint8 RGB (or grey) array.

    Level 1 of zlib's 9: mosaics are flat colour areas that compress well even so, and the
    explorer makes a dozen for every photo (Pillow's default, 6, takes several times longer).
    """
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype="uint8")).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()
