"""Mosaics of feature maps and filters, as RGB arrays and as PNG bytes; a map's range and summary.

Each map is normalised on its own (a map's pattern matters, not its scale next to its
neighbours), coloured with a matplotlib colour map and laid out in a grid with borders.
The tutorial's helper for this had `xrange` and `nimags` bugs; this one is tested.
"""

from __future__ import annotations

import functools
import math
import struct
import zlib

import numpy as np
from isal import isal_zlib

BORDER_COLOUR = (255, 255, 255)


def normalise(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant map (a dead ReLU, say) becomes all zeros."""
    x = np.asarray(x, dtype="float32")
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def map_summary(feature_map: np.ndarray) -> dict[str, float]:
    """Smallest, largest and mean value of a map, and the share of values that are exactly 0."""
    m = np.asarray(feature_map, dtype="float64")
    return {"min": float(m.min()), "max": float(m.max()), "mean": float(m.mean()), "zero_share": float(np.mean(m == 0))}


def colourise(x01: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """A [0, 1] array (..., ) -> uint8 RGB (..., 3) through a matplotlib colour map."""
    index = np.rint(np.asarray(x01) * 255)  # in the input's own precision, as before
    np.clip(index, 0, 255, out=index)
    return np.take(_lut(cmap), index.astype("uint8"), axis=0)  # uint8 indices: one byte each, no bounds checks


@functools.lru_cache(maxsize=16)
def _lut(cmap: str) -> np.ndarray:
    """256 RGB colours of a matplotlib colour map, looked up once per name (it costs milliseconds)."""
    from matplotlib import colormaps  # imported late: matplotlib costs start-up time

    lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype("uint8")
    lut.flags.writeable = False
    return lut


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """`normalise` applied to every map (h, w, c) of a layer at once: each on its own range."""
    maps = np.asarray(maps, dtype="float32")
    lo = maps.min(axis=(0, 1), keepdims=True)
    span = maps.max(axis=(0, 1), keepdims=True) - lo
    out = (maps - lo) / np.where(span > 0, span, 1.0)
    out[..., (span <= 0).ravel()] = 0.0  # a constant map (a dead ReLU, say) becomes all zeros
    return out


def grid(tiles: np.ndarray, cols: int | None = None, border: int = 1) -> np.ndarray:
    """Lay out tiles (n, h, w, 3) uint8 in a grid with `border`-pixel lines around every tile."""
    return _layout(np.asarray(tiles, dtype="uint8"), cols, border, BORDER_COLOUR)


def grid_columns(n: int) -> int:
    """How many columns `grid` lays n tiles out in when not told: as near a square as it gets."""
    return math.ceil(math.sqrt(n))


def _layout(tiles: np.ndarray, cols: int | None, border: int, fill) -> np.ndarray:
    """`grid` for tiles (n, h, w, ...) of any dtype, borders and empty cells set to `fill`."""
    n, h, w = tiles.shape[:3]
    rest = tiles.shape[3:]
    cols = cols or grid_columns(n)
    rows = math.ceil(n / cols)
    # Every tile with its border to the right and below, as one (rows, h+b, cols, w+b) block.
    cells = np.empty((rows, h + border, cols, w + border, *rest), dtype=tiles.dtype)
    cells[:] = fill
    padded = np.empty((rows * cols, h, w, *rest), dtype=tiles.dtype)
    padded[:n] = tiles
    padded[n:] = fill
    cells[:, :h, :, :w] = np.swapaxes(padded.reshape(rows, cols, h, w, *rest), 1, 2)
    out = np.empty((rows * (h + border) + border, cols * (w + border) + border, *rest), dtype=tiles.dtype)
    out[:border] = fill
    out[:, :border] = fill
    out[border:, border:] = cells.reshape(rows * (h + border), cols * (w + border), *rest)
    return out


def upscale(tile: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: a 3x3 kernel stays nine honest squares."""
    return np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)


def feature_mosaic(maps: np.ndarray, cols: int | None = None, cmap: str = "viridis", border: int = 1) -> np.ndarray:
    """All channels of a layer output (h, w, c) as one coloured RGB grid, each map normalised."""
    return np.take(_palette(cmap), _feature_indices(maps, cols, border), axis=0)


def feature_mosaic_png(maps: np.ndarray, cols: int | None = None, cmap: str = "viridis", border: int = 1) -> bytes:
    """`feature_mosaic` as PNG bytes, pixel for pixel, written as a palette PNG.

    One byte a pixel instead of three: a third of the bytes to compress and to send, which
    is most of the Layer Explorer's time for a new photo.
    """
    return to_png(_feature_indices(maps, cols, border), palette=_palette(cmap))


def _feature_indices(maps: np.ndarray, cols: int | None, border: int) -> np.ndarray:
    """The grid as uint8 indices into `_palette`: 0..254 a map's value, 255 the border."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"expected (height, width, channels), got shape {maps.shape}")
    index = np.rint(np.moveaxis(normalise_maps(maps), -1, 0) * (BORDER_INDEX - 1))
    return _layout(index.astype("uint8"), cols, border, BORDER_INDEX)


BORDER_INDEX = 255  # a palette PNG holds 256 colours: 255 levels of the colour map and the border


@functools.lru_cache(maxsize=16)
def _palette(cmap: str) -> np.ndarray:
    from matplotlib import colormaps

    levels = (colormaps[cmap](np.linspace(0, 1, BORDER_INDEX))[:, :3] * 255).astype("uint8")
    palette = np.concatenate([levels, np.array([BORDER_COLOUR], dtype="uint8")])
    palette.flags.writeable = False
    return palette


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


def to_png(image: np.ndarray, compress_level: int = 1, palette: np.ndarray | None = None) -> bytes:
    """PNG bytes of a uint8 RGB, RGBA or grey array, or of indices into `palette`
    ((n <= 256, 3) uint8 colours): exactly its pixels, quickly.

    Written here rather than by Pillow: rows unfiltered and deflated by ISA-L (`isal`, levels
    0-3). The explorer encodes a dozen large mosaics for every photo, and deflate is most of
    that time: Pillow's adaptive row filters at its default level 6 took several times longer
    than zlib's level 1 for files little smaller, and ISA-L's level 1 makes files the size of
    zlib's level 1 about 10x faster (benchmarks/explorer_latency.py). Deflate releases the
    GIL, so several encode at once (cnnviz.report makes a photo's mosaics two at a time).
    """
    image = np.ascontiguousarray(image, dtype="uint8")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    if palette is not None and channels != 1:
        raise ValueError(f"a palette image holds one index a pixel, got shape {image.shape}")
    colour_type = 3 if palette is not None else {1: 0, 3: 2, 4: 6}[channels]
    rows = np.zeros((height, 1 + width * channels), dtype="uint8")  # each row: filter byte 0, then pixels
    rows[:, 1:] = image.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    colours = [] if palette is None else [_chunk(b"PLTE", np.ascontiguousarray(palette, dtype="uint8").tobytes())]
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            *colours,
            _chunk(b"IDAT", isal_zlib.compress(rows, compress_level)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))

