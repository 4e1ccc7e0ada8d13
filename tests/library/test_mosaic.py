"""Mosaics: every map present, borders where they belong, each map normalised."""

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz.mosaic import BORDER_COLOUR, feature_mosaic, filter_mosaic, grid, normalise, to_png


def test_grid_places_every_tile_with_borders():
    tiles = np.stack([np.full((4, 5, 3), i * 20, dtype="uint8") for i in range(7)])
    out = grid(tiles, cols=3, border=1)
    assert out.shape == (3 * 5 + 1, 3 * 6 + 1, 3)
    assert (out[0] == BORDER_COLOUR).all() and (out[:, 0] == BORDER_COLOUR).all()
    for i in range(7):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(out[1 + r * 5, 1 + c * 6], [i * 20] * 3)
    assert (out[-2, -2] == BORDER_COLOUR).all()  # the empty eighth and ninth cells


def test_each_map_is_normalised_on_its_own():
    maps = np.zeros((6, 6, 2), dtype="float32")
    maps[:3, :, 0] = 1.0  # small values
    maps[:3, :, 1] = 1000.0  # large values: same pattern must give the same colours
    out = feature_mosaic(maps, cols=2)
    left, right = out[1:7, 1:7], out[1:7, 8:14]
    np.testing.assert_array_equal(left, right)
    assert not np.array_equal(left[0, 0], left[5, 0])


def test_constant_map_does_not_divide_by_zero():
    assert np.all(normalise(np.full((3, 3), 7.0)) == 0)
    out = feature_mosaic(np.full((4, 4, 3), 2.0))
    assert np.isfinite(out).all()


def test_filter_mosaic_rgb_and_channel():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 3, 32))
    rgb = filter_mosaic(kernel, scale=4)
    assert rgb.shape == (6 * 14 + 2, 6 * 14 + 2, 3)
    one = filter_mosaic(kernel, channel=2, scale=4)
    assert one.shape == rgb.shape and not np.array_equal(one, rgb)


def test_png_round_trip():
    image = (np.arange(60, dtype="uint8").reshape(4, 5, 3))
    back = np.asarray(Image.open(io.BytesIO(to_png(image))))
    np.testing.assert_array_equal(back, image)


@pytest.mark.parametrize("shape", [(5, 7, 3), (13, 1, 3), (1, 9), (20, 30), (8, 8, 4), (6, 6, 1)])
def test_the_png_writer_keeps_every_pixel_of_every_mode(shape):
    image = np.random.default_rng(3).integers(0, 256, shape, dtype="uint8")
    back = np.asarray(Image.open(io.BytesIO(to_png(image))))
    assert np.array_equal(back, image.reshape(back.shape))


def test_feature_mosaic_colours_each_map_as_one_map_at_a_time_would():
    from matplotlib import colormaps

    maps = np.random.default_rng(4).standard_normal((9, 11, 5)).astype("float32")
    maps[..., 2] = 1.5  # constant: all zeros, the colour map's first colour
    # 255 levels: the 256th colour of a palette PNG is the border
    lut = (colormaps["viridis"](np.linspace(0, 1, 255))[:, :3] * 255).astype("uint8")
    one_by_one = np.stack([lut[np.rint(normalise(maps[:, :, i]) * 254).astype("int32")] for i in range(5)])
    assert np.array_equal(feature_mosaic(maps, cols=3), grid(one_by_one, cols=3))


def test_the_palette_png_of_a_mosaic_is_the_rgb_mosaic_pixel_for_pixel_in_fewer_bytes():
    from cnnviz.mosaic import feature_mosaic_png

    maps = np.random.default_rng(5).standard_normal((40, 40, 12)).astype("float32")
    maps[..., 3] = 0.0  # a dead map
    png = feature_mosaic_png(maps, cols=4)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P"
    assert np.array_equal(np.asarray(image.convert("RGB")), feature_mosaic(maps, cols=4))
    assert len(png) < 0.7 * len(to_png(feature_mosaic(maps, cols=4)))  # even for noise, which hardly compresses


def test_a_palette_image_must_hold_one_index_a_pixel():
    with pytest.raises(ValueError, match="one index a pixel"):
        to_png(np.zeros((4, 4, 3), dtype="uint8"), palette=np.zeros((2, 3), dtype="uint8"))
