"""One output pixel of a convolution, and one of a max-pooling, worked out in full.

The Layer Explorer's step-through shows the arithmetic behind a single number of a feature
map: the 3x3x3 window of the input under the filter, the 27 products of window and weights,
their sum, the bias, the ReLU. Done at every position, this is the whole layer; the tests
check that each number equals the network's own to 1e-5. The same for one 2x2 max-pooling
step: four numbers in, their largest out.

Plain numpy over arrays, no Keras: the weights come from cnnviz.inspect.conv_filters and the
maps from cnnviz.inspect.activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvStep:
    row: int  # of the output pixel, which is also the window's top row in the input
    col: int
    filter_index: int
    patch: np.ndarray  # (kh, kw, channels) of the input under the window
    weights: np.ndarray  # (kh, kw, channels) of the filter
    products: np.ndarray  # patch * weights, element by element
    total: float  # the sum of the products
    bias: float
    pre_activation: float  # total + bias: what the convolution layer itself outputs
    output: float  # ReLU(pre_activation) = max(0, total + bias): the feature map's pixel


def conv_step(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray, filter_index: int, row: int, col: int) -> ConvStep:
    """The output pixel (row, col) of filter `filter_index` of a 'valid' convolution with ReLU.

    `image` is the network input (h, w, channels) in [0, 1]; `kernel` (kh, kw, channels,
    filters) and `bias` (filters,) are the layer's weights. Like Keras, the kernel is not
    flipped: the window's top-left weight multiplies the window's top-left pixel.
    """
    x = np.asarray(image, dtype="float64")
    k = np.asarray(kernel, dtype="float64")
    kh, kw, _, n_filters = k.shape
    out_h, out_w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    if not 0 <= filter_index < n_filters:
        raise ValueError(f"filter_index must be in 0..{n_filters - 1}")
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"(row, col) must lie in the {out_h}x{out_w} output, got ({row}, {col})")
    patch = x[row : row + kh, col : col + kw, :]
    weights = k[:, :, :, filter_index]
    products = patch * weights
    total = float(products.sum())
    b = float(np.asarray(bias, dtype="float64")[filter_index])
    pre = total + b
    return ConvStep(row, col, filter_index, patch, weights, products, total, b, pre, max(0.0, pre))


@dataclass(frozen=True)
class PoolStep:
    row: int  # of the pooled pixel
    col: int
    window: np.ndarray  # (size, size) of the map being pooled
    top: int  # the window's top-left corner in the map: (row * size, col * size)
    left: int
    argmax: tuple[int, int]  # where the largest value sits, in the map's coordinates
    output: float  # the largest value: the pooled map's pixel


def pool_step(feature_map: np.ndarray, row: int, col: int, size: int = 2) -> PoolStep:
    """The pooled pixel (row, col) of a size x size max-pooling with stride `size` over one 2-D map.

    Keras drops the last row and column when a map's side is odd (146 -> 73 has none to drop,
    but 71 -> 35 drops one), and so does this: a window never hangs over the edge.
    """
    m = np.asarray(feature_map, dtype="float64")
    out_h, out_w = m.shape[0] // size, m.shape[1] // size
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"(row, col) must lie in the {out_h}x{out_w} pooled map, got ({row}, {col})")
    top, left = row * size, col * size
    window = m[top : top + size, left : left + size]
    r, c = np.unravel_index(int(np.argmax(window)), window.shape)
    return PoolStep(row, col, window, top, left, (top + int(r), left + int(c)), float(window.max()))


def next_position(row: int, col: int, height: int, width: int, step: int = 1) -> tuple[int, int]:
    """Where a window sweeping row by row, left to right, is `step` positions on (back, if
    negative), wrapping from the last position to the first: the step-through's Next and Play."""
    index = (int(row) * int(width) + int(col) + int(step)) % (int(height) * int(width))
    return divmod(index, int(width))
