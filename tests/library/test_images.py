"""cnnviz.images: every kind of photo people upload becomes upright RGB, or one clear CnnvizError.

All odd files are built here with Pillow at test time; real photos come from ../shared/data.
"""

import io
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, ImageOps

from cnnviz.errors import CnnvizError
from cnnviz.images import IMAGE_SIZE, MAX_BYTES, MAX_PIXELS, Photo, load_photo, to_network_input

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def assert_close(pixel, expected, tolerance=12):
    assert np.abs(np.asarray(pixel, dtype=int) - np.asarray(expected)).max() <= tolerance, (pixel, expected)


def assert_valid(photo: Photo):
    assert photo.original.dtype == np.uint8 and photo.original.ndim == 3 and photo.original.shape[2] == 3
    assert photo.network_input.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    assert photo.network_input.dtype == np.float32
    assert 0.0 <= photo.network_input.min() and photo.network_input.max() <= 1.0


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's calling card."""
    data = bytearray(encode(Image.new("RGB", (4, 4), "red"), "PNG"))
    ihdr = data[12:29]  # chunk type and the 13 bytes of IHDR data, which the CRC covers
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def refusal(source, name=None) -> str:
    with pytest.raises(CnnvizError) as info:
        load_photo(source, name=name)
    return str(info.value)


# --- real photos ---------------------------------------------------------------------------


@pytest.mark.parametrize("photo_fixture", ["cat_photo", "dog_photo"])
def test_real_photo_from_path_and_bytes(request, photo_fixture):
    path = request.getfixturevalue(photo_fixture)
    from_path = load_photo(path)
    from_bytes = load_photo(path.read_bytes(), name=path.name)
    assert_valid(from_path)
    assert from_path.format == "JPEG" and from_path.warnings == ()
    with Image.open(path) as image:
        assert from_path.original.shape == (image.height, image.width, 3)
    np.testing.assert_array_equal(from_path.original, from_bytes.original)
    np.testing.assert_array_equal(from_path.network_input, from_bytes.network_input)
    assert from_path.network_input.std() > 0.05  # a photo, not a flat grey


def test_arrays_are_read_only(cat_photo):
    photo = load_photo(cat_photo)
    with pytest.raises(ValueError):
        photo.original[0, 0, 0] = 1
    with pytest.raises(ValueError):
        photo.network_input[0, 0, 0] = 1


# --- the network's input -------------------------------------------------------------------


def test_network_input_is_pillow_bilinear_over_255(cat_photo):
    original = load_photo(cat_photo).original
    resized = Image.fromarray(original).resize((150, 150), Image.BILINEAR)
    expected = np.asarray(resized, dtype=np.float32) / 255
    np.testing.assert_allclose(to_network_input(original), expected, atol=1e-7)


def test_network_input_squashes_instead_of_cropping():
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, :100] = RED  # the left third
    squashed = to_network_input(wide)
    assert squashed.shape == (150, 150, 3)
    assert_close(squashed[75, 10] * 255, RED, 1)  # still there: nothing was cropped
    assert_close(squashed[75, 140] * 255, (0, 0, 0), 1)
    assert abs(squashed[75, :, 0].mean() - 1 / 3) < 0.02  # and still a third of the width


def test_network_input_antialiases_when_shrinking():
    checkerboard = ((np.indices((600, 600)).sum(axis=0) % 2) * 255).astype(np.uint8)
    small = to_network_input(np.repeat(checkerboard[:, :, None], 3, axis=2))
    assert np.abs(small - 0.5).max() < 0.05  # point sampling would give stripes of 0 and 1


def test_network_input_rejects_arrays_that_are_not_uint8_rgb():
    with pytest.raises(ValueError):
        to_network_input(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError):
        to_network_input(np.zeros((10, 10), np.uint8))


# --- every mode to RGB ---------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb():
    photo = load_photo(encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"))
    assert photo.format == "JPEG"
    assert_close(photo.original[16, 16], RED)


def test_grayscale_l_keeps_its_values():
    gradient = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    photo = load_photo(encode(Image.fromarray(gradient, "L"), "PNG"))
    np.testing.assert_array_equal(photo.original, np.repeat(gradient[:, :, None], 3, axis=2))


def test_grayscale_with_alpha_is_composited_on_white():
    image = Image.new("LA", (2, 1), (0, 255))
    image.putpixel((1, 0), (0, 0))  # black but fully transparent
    photo = load_photo(encode(image, "PNG"))
    assert_close(photo.original[0, 0], (0, 0, 0), 0)
    assert_close(photo.original[0, 1], WHITE, 0)


def test_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (2, 1), 1)
    image.putpalette([0, 0, 0, *BLUE] + [0] * 762)
    image.putpixel((0, 0), 0)
    photo = load_photo(encode(image, "PNG", transparency=0))
    assert_close(photo.original[0, 0], WHITE, 0)  # index 0 is transparent black
    assert_close(photo.original[0, 1], BLUE, 0)


def test_palette_without_transparency():
    image = Image.new("RGB", (8, 8), BLUE).convert("P")
    photo = load_photo(encode(image, "PNG"))
    assert_close(photo.original[4, 4], BLUE, 0)


def test_rgba_half_transparent_red_over_white_is_pink():
    photo = load_photo(encode(Image.new("RGBA", (4, 4), (255, 0, 0, 128)), "PNG"))
    assert_close(photo.original[2, 2], (255, 127, 127), 1)


def test_16_bit_grayscale_is_scaled_not_clipped():
    gradient = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (4, 1))
    image = Image.fromarray(gradient)
    assert image.mode == "I;16"
    photo = load_photo(encode(image, "PNG"))
    row = photo.original[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0) and len(np.unique(row)) > 200  # a ramp, not a wall at 255
    assert abs(row[128] - 128) <= 1


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("I", [0, 100, 255], [0, 100, 255]),  # fits 8 bits: kept
        ("I", [0, 32768, 65535], [0, 128, 255]),  # fits 16 bits: scaled like I;16
        ("I", [-1000, 0, 1000], [0, 128, 255]),  # no convention: stretched
        ("F", [0.0, 0.5, 1.0], [0, 128, 255]),  # floats in [0, 1]
        ("F", [0.0, 100.0, 255.0], [0, 100, 255]),
    ],
)
def test_32_bit_integer_and_float_gray(mode, values, expected):
    array = np.array([values], dtype=np.int32 if mode == "I" else np.float32)
    photo = load_photo(encode(Image.fromarray(array, mode), "TIFF"))
    assert photo.format == "TIFF"
    np.testing.assert_array_equal(photo.original[0, :, 0], expected)


def test_bilevel_mode_1():
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    photo = load_photo(encode(image, "PNG"))
    assert_close(photo.original[0, 0], (0, 0, 0), 0)
    assert_close(photo.original[0, 1], WHITE, 0)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_gives_its_first_frame(fmt):
    red, blue = Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(red, fmt, save_all=True, append_images=[blue], duration=100, loop=0, **options)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 2
    photo = load_photo(data)
    assert photo.format == fmt
    assert_close(photo.original[8, 8], RED, 2)


def test_exif_orientation_is_applied():
    # Stored 64 wide, 32 tall, red square top-left; orientation 6 means "turn 90 degrees clockwise".
    image = Image.new("RGB", (64, 32), BLUE)
    image.paste(RED, (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = load_photo(encode(image, "JPEG", exif=exif, quality=95))
    assert photo.original.shape == (64, 32, 3)
    assert_close(photo.original[8, 24], RED, 40)  # the top-left corner went to the top right
    assert_close(photo.original[8, 8], BLUE, 40)
    assert_close(photo.original[56, 24], BLUE, 40)


def test_unreadable_exif_keeps_the_photo_with_a_warning(monkeypatch):
    def broken_exif(image):
        raise SyntaxError("bad EXIF")

    monkeypatch.setattr(ImageOps, "exif_transpose", broken_exif)
    photo = load_photo(encode(Image.new("RGB", (8, 4), RED), "JPEG"))
    assert photo.original.shape == (4, 8, 3)
    assert len(photo.warnings) == 1 and "orientation" in photo.warnings[0]


def test_camera_mpo_is_a_jpeg_showing_its_first_picture():
    second = Image.new("RGB", (16, 16), BLUE)
    data = encode(Image.new("RGB", (16, 16), RED), "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(data)) as check:
        assert check.format == "MPO"
    photo = load_photo(data)
    assert photo.format == "JPEG"
    assert_close(photo.original[8, 8], RED)


def test_webp():
    photo = load_photo(encode(Image.new("RGB", (10, 10), BLUE), "WEBP", lossless=True))
    assert photo.format == "WEBP"
    assert_close(photo.original[5, 5], BLUE, 0)


def test_format_comes_from_the_content_not_the_name(tmp_path):
    bmp = encode(Image.new("RGB", (6, 6), RED), "BMP")
    path = tmp_path / "actually_a_bitmap.jpg"
    path.write_bytes(bmp)
    assert load_photo(path).format == "BMP"
    assert load_photo(str(path)).format == "BMP"
    assert load_photo(bmp, name="photo.jpg").format == "BMP"


@pytest.mark.parametrize(("width", "height"), [(1, 1), (20, 5000), (5000, 20)])
def test_extreme_shapes(width, height):
    photo = load_photo(encode(Image.new("RGB", (width, height), RED), "PNG"))
    assert_valid(photo)
    assert photo.original.shape == (height, width, 3)
    np.testing.assert_allclose(photo.network_input, np.broadcast_to([1.0, 0.0, 0.0], (150, 150, 3)))


def test_bytearray_and_memoryview_are_bytes_too():
    data = encode(Image.new("RGB", (3, 3), RED), "PNG")
    assert load_photo(bytearray(data)).format == "PNG"
    assert load_photo(memoryview(data)).format == "PNG"


# --- refusals: each names the problem ------------------------------------------------------


def test_empty_bytes_and_empty_file(tmp_path):
    assert "empty" in refusal(b"")
    (tmp_path / "nothing.jpg").write_bytes(b"")
    message = refusal(tmp_path / "nothing.jpg")
    assert "empty" in message and "nothing.jpg" in message


@pytest.mark.parametrize(
    "data",
    [b"Dear diary, today I uploaded a text file.\n" * 20, np.random.default_rng(0).bytes(5000), b"\x00"],
)
def test_not_an_image(data):
    message = refusal(data, name="notes.txt")
    assert "not an image" in message and "notes.txt" in message and "JPEG" in message


@pytest.mark.parametrize("fmt", ["EPS", "TGA", "ICO", "PCX"])
def test_only_photo_formats_reach_a_decoder(fmt):
    # EPS would run Ghostscript on the upload; TGA has no signature to check.
    message = refusal(encode(Image.new("RGB", (16, 16), RED), fmt))
    assert "not an image" in message


def test_truncated_jpeg_is_refused(cat_photo):
    data = cat_photo.read_bytes()
    assert "truncated" in refusal(data[: len(data) // 2])


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "TIFF"])
def test_other_truncated_files_are_refused(cat_photo, fmt):
    with Image.open(cat_photo) as image:
        data = encode(image, fmt)
    assert "truncated" in refusal(data[: len(data) // 2])


def test_damaged_png_is_refused():
    data = bytearray(encode(Image.new("RGB", (64, 64), RED), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 20] = b"\xff" * 10  # garble the compressed pixels
    message = refusal(bytes(data))
    assert "damaged" in message or "truncated" in message


def gradient_file(fmt: str) -> bytes:
    return encode(Image.fromarray((np.arange(24 * 18 * 3) % 256).astype(np.uint8).reshape(18, 24, 3)), fmt)


@pytest.mark.parametrize(
    ("fmt", "offset", "value"),
    [
        ("PNG", 11, 0x00),  # IHDR length: Pillow raises ValueError
        ("PNG", 36, 0x00),  # IDAT length: SyntaxError
        ("TIFF", 12, 0x01),  # an IFD entry: ValueError
        ("BMP", 30, 0x01),  # the compression field: ValueError
    ],
)
def test_damage_that_pillow_reports_without_oserror(fmt, offset, value):
    data = bytearray(gradient_file(fmt))
    data[offset] = value
    message = refusal(bytes(data))
    assert "damaged" in message or "truncated" in message


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "HEIC"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "HEIC"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1" + b"\x00" * 200, "HEIF"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 200, "AVIF"),
        (b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 200, "video"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg/>', "SVG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    ],
)
def test_formats_it_cannot_read_are_named(data, named):
    message = refusal(data, name="upload")
    assert named in message and "JPEG or PNG" in message


# Over our limit only; also over Pillow's warning limit; also over its error limit.
@pytest.mark.parametrize("side", [7000, 10000, 50000])
def test_decompression_bomb_is_refused_from_its_header(monkeypatch, recwarn, side):
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or real_load(self))
    assert side * side > MAX_PIXELS
    start = time.perf_counter()
    message = refusal(png_claiming(side, side))
    assert time.perf_counter() - start < 0.5
    assert loads == []  # refused before decoding a single pixel
    assert "too many pixels" in message and "40 megapixels" in message
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_too_many_bytes(tmp_path):
    assert "25 MB" in refusal(b"\xff\xd8\xff" + bytes(MAX_BYTES))
    big = tmp_path / "huge.jpg"
    with big.open("wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: no 25 MB actually written
    message = refusal(big)
    assert "25 MB" in message and "huge.jpg" in message


def test_missing_path(tmp_path):
    message = refusal(tmp_path / "no_such_photo.jpg")
    assert "no file" in message and "no_such_photo.jpg" in message


def test_directory(tmp_path):
    assert "folder" in refusal(tmp_path)
    assert "folder" in refusal(str(tmp_path))


def test_a_path_with_a_nul_byte():
    assert "could not be read" in refusal("cat\0.jpg")


def test_wrong_argument_type_is_a_programming_error():
    with pytest.raises(TypeError):
        load_photo(12345)


# --- nothing but a Photo or a CnnvizError, whatever the bytes ------------------------------


@pytest.fixture(scope="session")
def seed_files(cat_photo) -> list[bytes]:
    """Small, valid files of every readable kind, made from a real photo, for mutation."""
    with Image.open(cat_photo) as image:
        small = image.resize((24, 18))
    exif = Image.Exif()
    exif[0x0112] = 6
    return [
        encode(small, "JPEG", exif=exif),
        encode(small, "PNG"),
        encode(small.convert("RGBA"), "PNG"),
        encode(small.convert("P"), "GIF", save_all=True, append_images=[small.convert("P")]),
        encode(small, "WEBP"),
        encode(small, "BMP"),
        encode(small, "TIFF"),
    ]


def load_or_refuse(data: bytes) -> None:
    try:
        photo = load_photo(data)
    except CnnvizError as error:
        assert str(error)
    else:
        assert_valid(photo)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "Corrupt EXIF data" and the like
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_give_a_photo_or_a_cnnviz_error(data):
    load_or_refuse(data)


edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "delete"]),
        st.integers(min_value=0, max_value=2**20),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, edit_list) -> bytes:
    data = bytearray(data)
    for kind, where, payload in edit_list:
        at = where % (len(data) + 1)
        if kind == "flip":
            data[at : at + len(payload)] = bytes(b ^ p for b, p in zip(data[at : at + len(payload)], payload))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = payload
        else:
            del data[at : at + len(payload)]
    return bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(min_value=0, max_value=6), edit_list=edits)
def test_mutated_files_give_a_photo_or_a_cnnviz_error(seed_files, which, edit_list):
    load_or_refuse(mutate(seed_files[which], edit_list))


def test_mutation_seeds_all_load(seed_files):
    formats = [load_photo(data).format for data in seed_files]
    assert formats == ["JPEG", "PNG", "PNG", "GIF", "WEBP", "BMP", "TIFF"]


# --- cold start ----------------------------------------------------------------------------


def test_importing_images_does_not_import_tensorflow_or_streamlit():
    code = "import sys, cnnviz.images; print(sorted({'tensorflow', 'keras', 'streamlit'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
