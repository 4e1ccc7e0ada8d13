"""One photo, from uploaded bytes or a path, as a person sees it and as the network sees it.

Every photo shown or classified goes through `load_photo`, because photos from the wild are
messy: phones store them sideways with an EXIF turn, scanners write 16-bit or CMYK files,
logos come as transparent PNGs, and uploads can be empty, cut off, a HEIC from an iPhone,
or a decompression bomb. Here they all become one upright 8-bit RGB array, or one
`CnnvizError` whose message a person can act on; no other exception leaves `load_photo`.

The network's input is the photo squashed (not cropped) to 150 x 150 with bilinear,
antialiased resampling and scaled to [0, 1], the way the tutorial and the training data
prepare it; the tf.data pipeline uses `tf.image.resize(..., antialias=True)` to match.

Truncated files are refused, not shown with a grey patch: Pillow only loads them through a
process-wide switch (`ImageFile.LOAD_TRUNCATED_IMAGES`) that would also change every other
image read in the app, and a half-grey photo gives a prediction that means nothing.

Pillow and numpy only (and scikit-image's sample photo): no TensorFlow or Streamlit, so
the CLI and the app start fast.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from skimage import data as skimage_data

from cnnviz.errors import CnnvizError

IMAGE_SIZE = 150  # the network's input side
MAX_PIXELS = 40_000_000  # refuse larger images before decoding (decompression bombs)
MAX_BYTES = 25 * 1024 * 1024

# Only these decoders see untrusted bytes: Pillow's others include ones that run Ghostscript
# (EPS) or accept almost any bytes as an image (TGA has no signature). MPO, the multi-picture
# JPEG many cameras write, is opened by the JPEG entry.
READABLE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
_ADVICE_FORMATS = "JPEG, PNG, WebP, GIF, BMP or TIFF"

_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")

# ISO media ("ftyp") brands of formats people upload that Pillow cannot read here.
_FTYP_BRANDS = {
    b"heic": "a HEIC image",
    b"heix": "a HEIC image",
    b"hevc": "a HEIC image",
    b"hevx": "a HEIC image",
    b"heim": "a HEIC image",
    b"heis": "a HEIC image",
    b"avif": "an AVIF image",
    b"avis": "an AVIF image",
    b"mif1": "a HEIF image",
    b"msf1": "a HEIF image",
}


@dataclass(frozen=True)
class Photo:
    """A loaded photo. Both arrays are read-only, so one Photo can be shared between sessions."""

    original: np.ndarray  # (H, W, 3) uint8 RGB, upright: what the person sees
    network_input: np.ndarray  # (IMAGE_SIZE, IMAGE_SIZE, 3) float32 in [0, 1]: what the network sees
    format: str  # as decided by the content, e.g. "JPEG", "PNG"
    warnings: tuple[str, ...]  # things a person should know about this photo; usually empty


def load_photo(source: bytes | str | os.PathLike, name: str | None = None) -> Photo:
    """Load a photo from its bytes or a path, upright and in RGB, with the network's input.

    `name` (for bytes, e.g. the uploaded file's name) is only used in messages; the format
    is always decided by the content, so a BMP named .jpg loads as a BMP. Animated images
    give their first frame; transparency is composited on white.

    Raises CnnvizError, and nothing else, for: a missing path or a folder, an empty file, a
    file over MAX_BYTES, something that is not an image, a format that cannot be read here
    (HEIC, SVG, PDF, ... named as such), an image over MAX_PIXELS (refused from its header,
    before decoding), and damaged or truncated data (refused; see the module docstring).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        name = name or os.fspath(source)
        data = _read_file(os.fspath(source))
    else:
        raise TypeError(f"load_photo takes bytes or a path, not {type(source).__name__}")
    who = f"'{name}'" if name else "The file"
    if not data:
        raise CnnvizError(f"{who} is empty: choose a photo file and try again.")
    if len(data) > MAX_BYTES:
        raise CnnvizError(
            f"{who} is larger than {MAX_BYTES // 2**20} MB: save a smaller copy of the photo"
            " (1000 pixels wide is plenty) and try again."
        )
    rgb, image_format, notes = _decode(data, who)
    return Photo(_read_only(rgb), _read_only(to_network_input(rgb)), image_format, notes)


def chelsea() -> Photo:
    """Chelsea the cat, the sample photo that ships with scikit-image: the photo every face
    shows when it has no other."""
    buffer = io.BytesIO()
    Image.fromarray(skimage_data.chelsea()).save(buffer, format="PNG")
    return load_photo(buffer.getvalue(), name="Chelsea (scikit-image)")


def to_network_input(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Squash an (H, W, 3) uint8 RGB array to (size, size, 3) float32 in [0, 1].

    The aspect ratio is not kept, as in the tutorial and the training data. Pillow's
    BILINEAR widens its kernel when shrinking (antialiasing), like tf.image.resize with
    antialias=True, so a photo looks the same to the network here as in training.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    resized = Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / np.float32(255)


def _read_file(path: str) -> bytes:
    """The file's bytes, at most one more than MAX_BYTES (enough to tell it is too large)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise CnnvizError(f"'{path}' is a folder, not an image: choose one image file inside it.")
        if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end
            raise CnnvizError(f"'{path}' is not a regular file: choose an image file.")
        with open(path, "rb") as file:
            return file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise CnnvizError(f"There is no file at '{path}': check the path and try again.") from None
    except (OSError, ValueError) as exc:  # permissions, a file name with a NUL byte, ...
        raise CnnvizError(f"'{path}' could not be read ({exc}): check the path and its permissions.") from exc


def _decode(data: bytes, who: str) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """Decode with Pillow: upright RGB pixels, the format, and warnings for the person."""
    try:
        # Pillow only warns between its own limit and twice that; make the warning an error.
        # (catch_warnings is process-wide: a thread racing here can at worst leave this
        # filter on, which only turns that same warning into an error elsewhere.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=READABLE_FORMATS) as image:
                _check_pixels(image.size, who)
                image.load()
                upright, notes = _upright(image)
                return _to_rgb(upright), _format_name(image.format), notes
    except CnnvizError:
        raise
    except Image.UnidentifiedImageError:
        raise CnnvizError(_unreadable_message(data, who)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CnnvizError(_too_many_pixels_message(who)) from exc
    except Exception as exc:
        # Pillow's decoders raise almost any exception type on malformed data (OSError,
        # SyntaxError, struct.error, EOFError, IndexError, ...); all mean "damaged".
        raise CnnvizError(_damaged_message(exc, who)) from exc


def _check_pixels(size: tuple[int, int], who: str) -> None:
    """Refuse from the header alone (Pillow never opens an image with a zero side)."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise CnnvizError(_too_many_pixels_message(who, f" ({width} x {height})"))


def _too_many_pixels_message(who: str, dimensions: str = "") -> str:
    return (
        f"{who} has too many pixels{dimensions} to open safely, more than"
        f" {MAX_PIXELS // 1_000_000} megapixels: resize it smaller and try again."
    )


def _damaged_message(exc: Exception, who: str) -> str:
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return f"{who} is truncated (the data ends before the image does): upload the complete file again."
    return f"{who} is damaged and could not be decoded: try an undamaged copy or another photo."


def _unreadable_message(data: bytes, who: str) -> str:
    """Name the formats people often try (HEIC from iPhones, SVG, PDF); else say "not an image"."""
    kind = _sniff_unsupported(data)
    if kind is None:
        return f"{who} is not an image that can be read here: upload a photo saved as {_ADVICE_FORMATS}."
    return f"{who} is {kind}, which cannot be read here: save the photo as JPEG or PNG and upload it again."


def _sniff_unsupported(data: bytes) -> str | None:
    head = data[:4096]
    if head[4:8] == b"ftyp":
        return _ftyp_kind(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<?xml") or b"<svg" in text:
        return "an SVG (vector) image"
    if text.startswith(b"%pdf"):
        return "a PDF document"
    return None


def _ftyp_kind(head: bytes) -> str:
    """What an ISO media file holds, from its ftyp box: a major brand, a version, then more brands."""
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, box_end - 3, 4)]
    kinds = [_FTYP_BRANDS[brand] for brand in brands if brand in _FTYP_BRANDS]
    if not kinds:
        return "a video or audio file"
    # An iPhone HEIC may name the generic HEIF brand (mif1) first and "heic" only after it.
    return next((kind for kind in kinds if "HEIF" not in kind), kinds[0])


def _format_name(pillow_format: str | None) -> str:
    # A camera's MPO is a JPEG with extra pictures appended; every viewer calls it a JPEG.
    return "JPEG" if pillow_format == "MPO" else pillow_format or "unknown"


def _upright(image: Image.Image) -> tuple[Image.Image, tuple[str, ...]]:
    """Apply the EXIF orientation; a broken EXIF block should not cost the person their photo."""
    try:
        return ImageOps.exif_transpose(image), ()
    except Exception:
        return image, ("The photo's orientation tag could not be read, so it is shown as stored.",)


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in _HIGH_DEPTH_MODES:
        gray = _scale_to_uint8(np.asarray(image), image.mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        white = Image.new("RGBA", image.size, "white")
        return np.asarray(Image.alpha_composite(white, image.convert("RGBA")).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map 16-bit, 32-bit and float gray to 0..255; Pillow's own convert would clip at 255."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = _gray_range(values, mode)
    return np.rint((values - low) * (255 / (high - low))).clip(0, 255).astype(np.uint8)


def _gray_range(values: np.ndarray, mode: str) -> tuple[float, float]:
    """The values that mean black and white: the container's range where the data fits one.

    16-bit files use their full range, as every viewer shows them. 32-bit integer and float
    files carry no such convention, so the smallest common range that holds the data is
    used, and failing that the data's own minimum and maximum.
    """
    if mode.startswith("I;16"):
        return 0.0, 65535.0
    low, high = float(values.min()), float(values.max())
    for white in (1.0, 255.0, 65535.0) if mode == "F" else (255.0, 65535.0):
        if low >= 0 and high <= white:
            return 0.0, white
    return low, max(high, low + 1)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
