"""The pictures made from arrays: here, a patch of pixels with their numbers written in."""

import numpy as np

from cnnviz.images import chelsea
from cnnviz.pictures import PATCH_CELL, pixel_numbers


def cells(image: np.ndarray, size: int) -> np.ndarray:
    """(size, size, PATCH_CELL, PATCH_CELL, 3): the picture cut into its cells."""
    return image.reshape(size, PATCH_CELL, size, PATCH_CELL, 3).swapaxes(1, 2)


def test_each_cell_is_its_pixels_colour_with_its_numbers_in_ink_that_shows():
    photo = chelsea().original
    top, left, size = 100, 200, 8
    image = pixel_numbers(photo, top, left, size)
    assert image.shape == (size * PATCH_CELL, size * PATCH_CELL, 3) and image.dtype == np.uint8
    patch = photo[top : top + size, left : left + size]
    for y in range(size):
        for x in range(size):
            cell = cells(image, size)[y, x]
            assert (cell[0, 0] == patch[y, x]).all(), "the cell's corner, clear of text, is the pixel's colour"
            written = np.any(cell != patch[y, x], axis=-1)
            assert 0.03 < written.mean() < 0.5, "three numbers are written in every cell"
            dark = patch[y, x] @ np.array([0.299, 0.587, 0.114]) < 128
            ink = cell[written].mean()
            assert (ink > patch[y, x].mean()) == dark, "light ink on dark pixels, dark ink on light ones"


def test_the_network_input_shows_the_colours_it_was_scaled_from():
    network_input = chelsea().network_input
    image = pixel_numbers(network_input, 10, 20, 4, unit_range=True)
    expected = np.clip(np.rint(network_input[10:14, 20:24] * 255), 0, 255).astype(np.uint8)
    assert (cells(image, 4)[:, :, 0, 0] == expected).all()
