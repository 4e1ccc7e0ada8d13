"""The whole network at a glance: one photo flowing through it, drawn as one picture.

From left to right: the photo as the network sees it (its 150 x 150 input, enlarged), then
one column per layer that hands maps on, then the verdict, P(cat) and P(dog). The columns
are the ReLU after every convolution and every max pooling, found by their kind in the
layer table (`cnnviz.model.layer_table`), never by name, so the tutorial's, the pooled and the
modern network and any line of `cnnviz.architecture` get one. A convolution's raw output
and batch norm's are left out: the ReLU after the convolution shows what the step passes
on, and the Layer Explorer shows every layer. A network with more than MAX_COLUMNS such layers
(the modern line has twelve) gets a column per pooling layer only, the end of each block: at
a page's width, twelve columns shrank every tile and label to a few unreadable pixels.

Each column shows a few of its layer's maps: the ones with the highest mean value on this
photo, the highest at the top, each coloured on its own range like the Explorer's mosaics
(viridis: dark purple is the map's lowest value, yellow its highest).

What it shows: how the photo turns into stacks of smaller and smaller maps, and how
many maps each layer has (the shape under each column), ending in the verdict.
What it does not show: that a tile is brighter than its neighbour (each is coloured on
its own range), the other maps of a layer (which may weigh as much in the verdict), or
which maps decide the verdict: a high mean says where a map fires, not that the verdict
depends on it (Grad-CAM and occlusion ask that). Deep maps are a few pixels wide, enlarged
without smoothing, so their squares are the real pixels.

`Overview.columns` gives each column's layer name and its left and right edge in the
picture's pixels, so a page can turn a click on the picture into a layer; `Overview.regions`
gives every part to click (the photo, each column, the verdict) with a few words on each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageDraw

from cnnviz.inspect import Verdict
from cnnviz.mosaic import normalise_maps, colourise, to_png
from cnnviz.pictures import font, network_view

COLUMN_KINDS = ("relu", "max pooling")  # the layer table's kinds that get a column, when their output is maps
MAX_COLUMNS = 6  # beyond this, only the pooling layers (each block's end) get a column
MAPS_PER_COLUMN = 4
PHOTO_SCALE = 2  # the 150x150 input drawn at 300x300
TILE = 72  # a map's side in the picture
TILE_GAP = 4
COLUMN_GAP = 30  # between columns: room for the arrow and a long layer name
MARGIN = 12
HEADER = 44  # the layer's name and its output's shape, above each column
VERDICT_WIDTH = 210
INPUT, VERDICT = "input", "verdict"  # the names of the photo's and the verdict's regions (layers have their own)
BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
FAINT = (150, 150, 150)
CLASS_COLOURS = {"cat": (31, 119, 180), "dog": (255, 127, 14)}


@dataclass(frozen=True)
class Column:
    layer: str  # the layer's name, as the Layer Explorer and the layer table call it
    kind: str  # "relu" or "max pooling"
    shape: tuple[int, int, int]  # the layer's output: height, width, maps
    channels: tuple[int, ...]  # the maps shown, top to bottom: the highest mean first
    left: int  # the column's extent in the picture, in its pixels: left <= x < right
    right: int


@dataclass(frozen=True, eq=False)
class Overview:
    image: np.ndarray  # (height, width, 3) uint8
    columns: tuple[Column, ...]
    photo: tuple[int, int]  # the photo's extent, left <= x < right
    verdict: tuple[int, int]  # the verdict panel's extent

    @cached_property
    def png(self) -> bytes:
        return to_png(self.image)

    def regions(self) -> list[tuple[str, int, int, str]]:
        """(name, left, right, words) of each part of the picture, left to right: the photo (INPUT),
        each column (its layer's name, kind and output shape) and the verdict (VERDICT)."""
        return (
            [(INPUT, *self.photo, "the photo, as the network gets it")]
            + [(c.layer, c.left, c.right, f"{c.layer} · {c.kind} · {'×'.join(map(str, c.shape))}") for c in self.columns]
            + [(VERDICT, *self.verdict, "the verdict: P(cat) and P(dog)")]
        )

    def layer_at(self, x: float) -> str | None:
        """The layer whose column holds picture column x, or None. x is in the picture's own pixels:
        a page that shows the picture at another width multiplies a click's x by width / shown width."""
        return next((c.layer for c in self.columns if c.left <= x < c.right), None)


def column_layers(activations: Mapping[str, np.ndarray], kinds: Mapping[str, str]) -> list[str]:
    """The layers that get a column, in layer order: COLUMN_KINDS whose output is a stack of maps;
    only the pooling ones where that makes more than MAX_COLUMNS (and the network pools at all)."""
    names = [name for name, a in activations.items() if a.ndim == 3 and kinds[name] in COLUMN_KINDS]
    pools = [name for name in names if kinds[name] == "max pooling"]
    return pools if len(names) > MAX_COLUMNS and pools else names


def strongest_maps(maps: np.ndarray, k: int) -> tuple[int, ...]:
    """The k channels of (h, w, c) with the highest mean value, highest first (ties: lower index first)."""
    means = np.asarray(maps, dtype="float64").mean(axis=(0, 1))
    return tuple(int(i) for i in np.argsort(-means, kind="stable")[:k])


def overview(
    network_input: np.ndarray,
    activations: Mapping[str, np.ndarray],
    kinds: Mapping[str, str],
    verdict: Verdict,
    maps_per_column: int = MAPS_PER_COLUMN,
) -> Overview:
    """The overview picture of one photo: `activations` is every layer's output for
    `network_input` as `cnnviz.inspect.activations` gives it, `kinds` the layer table's kind of
    each layer, `verdict` the network's. `cnnviz.report.PhotoReport.overview` calls it."""
    if maps_per_column < 1:
        raise ValueError("maps_per_column must be at least 1")
    names = column_layers(activations, kinds)
    photo = network_view(network_input, PHOTO_SCALE)
    body = max(photo.shape[0], maps_per_column * TILE + (maps_per_column - 1) * TILE_GAP)
    pitch = TILE + COLUMN_GAP
    width = MARGIN + photo.shape[1] + COLUMN_GAP + len(names) * pitch + VERDICT_WIDTH + MARGIN
    height = HEADER + body + MARGIN
    canvas = np.empty((height, width, 3), dtype="uint8")
    canvas[:] = BACKGROUND
    top = HEADER + (body - photo.shape[0]) // 2
    canvas[top : top + photo.shape[0], MARGIN : MARGIN + photo.shape[1]] = photo

    columns = []
    left = MARGIN + photo.shape[1] + COLUMN_GAP
    for name in names:
        maps = activations[name]
        channels = strongest_maps(maps, maps_per_column)
        coloured = colourise(normalise_maps(maps[:, :, list(channels)]))
        for row, tile in enumerate(np.moveaxis(coloured, 2, 0)):
            y = HEADER + row * (TILE + TILE_GAP)
            canvas[y : y + TILE, left : left + TILE] = _fit(tile, TILE)
        columns.append(Column(name, kinds[name], tuple(int(d) for d in maps.shape), channels, left, left + TILE))
        left += pitch

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    middle = HEADER + body // 2
    edges = [(MARGIN, MARGIN + photo.shape[1])] + [(c.left, c.right) for c in columns] + [(left, left + VERDICT_WIDTH)]
    for (_, end), (start, _) in zip(edges, edges[1:]):
        _arrow(draw, end + 4, start - 6, middle)
    _label(draw, (MARGIN, MARGIN + photo.shape[1]), "input", f"{network_input.shape[0]}×{network_input.shape[1]}×3")
    for c in columns:
        _label(draw, (c.left - COLUMN_GAP // 2 + 2, c.right + COLUMN_GAP // 2 - 2), c.layer, "×".join(map(str, c.shape)))
    _verdict_panel(draw, left, HEADER, body, verdict)
    return Overview(np.asarray(image), tuple(columns), edges[0], edges[-1])


def _fit(tile: np.ndarray, side: int) -> np.ndarray:
    """A coloured map at side x side: shrunk smoothly, or enlarged without smoothing so a deep
    layer's few pixels stay squares."""
    smaller = tile.shape[0] >= side
    method = Image.Resampling.BILINEAR if smaller else Image.Resampling.NEAREST
    return np.asarray(Image.fromarray(tile).resize((side, side), method))


def _label(draw: ImageDraw.ImageDraw, span: tuple[int, int], name: str, shape: str) -> None:
    """The layer's name over its shape, centred on span, each shrunk until it fits."""
    centre, room = (span[0] + span[1]) / 2, span[1] - span[0]
    for text, size, y, colour in ((name, 13, 6, INK), (shape, 11, 24, FAINT)):
        while size > 8 and draw.textlength(text, font=font(size)) > room:
            size -= 1
        draw.text((centre, y), text, fill=colour, font=font(size), anchor="mt")


def _arrow(draw: ImageDraw.ImageDraw, x0: int, x1: int, y: int) -> None:
    draw.line([(x0, y), (x1, y)], fill=FAINT, width=2)
    draw.polygon([(x1 + 5, y), (x1 - 2, y - 5), (x1 - 2, y + 5)], fill=FAINT)


def _verdict_panel(draw: ImageDraw.ImageDraw, left: int, top: int, height: int, verdict: Verdict) -> None:
    """The verdict's word, then P(cat) and P(dog) as bars of the panel's width."""
    draw.text((left + 6, top + height // 2 - 78), "verdict", fill=FAINT, font=font(13))
    draw.text((left + 6, top + height // 2 - 60), verdict.label, fill=CLASS_COLOURS[verdict.label], font=font(34))
    bar = VERDICT_WIDTH - 12
    for row, (label, p) in enumerate((("cat", 1 - verdict.dog_probability), ("dog", verdict.dog_probability))):
        y = top + height // 2 + row * 44
        draw.text((left + 6, y), f"P({label}) = {p:.3f}", fill=INK, font=font(14))
        draw.rectangle([left + 6, y + 20, left + 6 + bar, y + 32], outline=FAINT)
        if p > 0:
            draw.rectangle([left + 6, y + 20, left + 6 + round(bar * p), y + 32], fill=CLASS_COLOURS[label])
