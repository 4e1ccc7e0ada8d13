"""Mosaics of feature maps and filters, as RGB arrays and as PNG bytes.

Each map is normalised on its own (a map's pattern matters, not its scale next to its
neighbours), coloured with a matplotlib colour map and laid out in a grid with borders.
The tutorial's helper for this had `xrange` and `nimags` bugs; this one is tested.
"""

from __future__ import annotations

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
    from matplotlib import colormaps  # imported late: matplotlib costs start-up time

    lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype("uint8")
    return lut[np.clip(np.rint(x01 * 255), 0, 255).astype("int32")]


def grid(tiles: np.ndarray, cols: int | None = None, border: int = 1) -> np.ndarray:
    """Lay out tiles (n, h, w, 3) uint8 in a grid with `border`-pixel lines around every tile."""
    n, h, w, _ = tiles.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.empty((rows * (h + border) + border, cols * (w + border) + border, 3), dtype="uint8")
    out[:] = BORDER_COLOUR
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = border + r * (h + border), border + c * (w + border)
        out[top : top + h, left : left + w] = tiles[i]
    return out


def upscale(tile: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: a 3x3 kernel stays nine honest squares."""
    return np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)


def feature_mosaic(maps: np.ndarray, cols: int | None = None, cmap: str = "viridis", border: int = 1) -> np.ndarray:
    """All channels of a layer output (h, w, c) as one coloured grid, each map normalised."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"expected (height, width, channels), got shape {maps.shape}")
    tiles = np.stack([colourise(normalise(maps[:, :, i]), cmap) for i in range(maps.shape[-1])])
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


def to_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB (or grey) array."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype="uint8")).save(buffer, format="PNG")
    return buffer.getvalue()
