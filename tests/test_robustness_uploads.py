"""Issue 6, uploads, end to end in the app: every odd photo the issue lists goes through the
Layer Explorer's uploader in one browser session, one after another, as a workshop room
would send them. Each accepted one is shown upright with its verdict; each refused one gives
exactly one st.error (the library's own sentence) and no exception, and the session goes on.

The bytes are built with Pillow here; what the library does with each kind of file, pixel
by pixel, is tested in tests/test_images.py.
"""

from __future__ import annotations

import io
import struct
import tomllib
import zlib
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.errors import CnnvizError
from cnnviz.images import MAX_BYTES, MAX_PIXELS, load_photo
from cnnviz_app.common import UPLOAD_TYPES

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "streamlit_app.py")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def striped(size=(60, 40)) -> Image.Image:
    image = Image.new("RGB", size, (30, 60, 200))
    image.paste((220, 40, 30), (0, 0, size[0] // 2, size[1] // 3))
    return image


def exif_rotated() -> bytes:
    """Stored 60 wide and 40 tall, with the EXIF turn a phone held upright writes (6: 90° clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(striped(), "JPEG", exif=exif, quality=95)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 24), c) for c in ((250, 0, 0), (0, 0, 250), (0, 250, 0))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


def sixteen_bit() -> bytes:
    return encode(Image.fromarray(__import__("numpy").linspace(0, 65535, 48 * 32).reshape(32, 48).astype("uint16")), "PNG")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb."""
    data = bytearray(encode(Image.new("RGB", (4, 4), "red"), "PNG"))
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


# name as uploaded, bytes, what the caption must say: "W × H pixels, FORMAT" (upright sizes)
ACCEPTED = {
    "cmyk": ("print.jpg", lambda: encode(striped().convert("CMYK"), "JPEG"), "60 × 40 pixels, JPEG"),
    "grayscale": ("gray.png", lambda: encode(striped().convert("L"), "PNG"), "60 × 40 pixels, PNG"),
    "16-bit": ("scan16.png", sixteen_bit, "48 × 32 pixels, PNG"),
    "palette": ("palette.gif", lambda: encode(striped().convert("P"), "GIF"), "60 × 40 pixels, GIF"),
    "alpha": ("logo.png", lambda: encode(striped().convert("RGBA"), "PNG"), "60 × 40 pixels, PNG"),
    "animated gif": ("wag.gif", animated_gif, "32 × 24 pixels, GIF"),
    "exif-rotated": ("phone.jpg", exif_rotated, "40 × 60 pixels, JPEG"),  # turned upright
    "webp": ("web.webp", lambda: encode(striped(), "WEBP"), "60 × 40 pixels, WEBP"),
    "bmp named .jpg": ("really-a-bitmap.jpg", lambda: encode(striped(), "BMP"), "60 × 40 pixels, BMP"),
    "1x1": ("dot.png", lambda: encode(Image.new("RGB", (1, 1), "white"), "PNG"), "1 × 1 pixels, PNG"),
    "very tall": ("tall.png", lambda: encode(Image.new("RGB", (12, 6000), "gray"), "PNG"), "12 × 6000 pixels, PNG"),
}

# name as uploaded (extensions the uploader accepts), bytes, words the one error must hold
REFUSED = {
    "empty": ("empty.jpg", lambda: b"", "is empty"),
    "text": ("notes.png", lambda: b"Dear attendees,\nthe slides are online.\n" * 10, "is not an image"),
    "truncated": ("cut.jpg", lambda: encode(striped((400, 300)), "JPEG")[:1500], "truncated"),
    "bomb": ("bomb.png", lambda: png_claiming(50_000, 50_000), "too many pixels to open safely"),
    "heic": ("iphone.jpg", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200, "a HEIC image"),
    "svg": ("vector.png", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "an SVG"),
    "pdf": ("flyer.jpg", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
    "over 25 MB": ("huge.jpg", lambda: b"\xff\xd8\xff" + bytes(MAX_BYTES), "larger than 25 MB"),
}


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error") for e in getattr(at, kind)]
    parts += [c for image in at.image for c in image.captions]
    return "\n".join(parts)


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def session():
    """One Layer Explorer session, switched to uploads, shared by every case in order."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    assert not at.exception
    return at


@pytest.mark.parametrize("case", list(ACCEPTED) + list(REFUSED))
def test_every_listed_upload_in_one_session(session, case):
    """Accepted and refused files alternate in one session: a refusal never breaks the next upload."""
    at = session
    if case in ACCEPTED:
        name, make, shown = ACCEPTED[case]
        load_photo(make(), name=name)  # the library accepts it too
        upload(at, name, make())
        assert not at.error, [e.value for e in at.error]
        body = texts(at)
        assert f"{name}: {shown}" in body
        assert "### Verdict:" in body
    else:
        name, make, words = REFUSED[case]
        with pytest.raises(CnnvizError) as refused:
            load_photo(make(), name=name)
        upload(at, name, make())
        assert [e.value for e in at.error] == [str(refused.value)]
        assert words in at.error[0].value and f"'{name}'" in at.error[0].value
        assert "Verdict:" not in texts(at)


def test_a_refused_upload_then_a_good_one_in_a_fresh_session():
    """The short version for every run: refusal, then a real photo, in one session."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("cnnviz_app/pages/layer_explorer.py").run()
    at.radio(key="photo_source").set_value("Upload a photo").run()
    name, make, words = REFUSED["bomb"]
    upload(at, name, make())
    assert len(at.error) == 1 and words in at.error[0].value
    name, make, shown = ACCEPTED["exif-rotated"]
    upload(at, name, make())
    assert not at.error and f"{name}: {shown}" in texts(at) and "### Verdict:" in texts(at)


def test_the_upload_limit_in_config_matches_the_librarys():
    """.streamlit/config.toml's maxUploadSize (MB) is cnnviz.images.MAX_BYTES: the browser
    refuses what load_photo would refuse anyway, before sending it."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_BYTES
    assert config["server"]["address"] == "127.0.0.1"  # a LAN is opened on purpose, never by default
    assert MAX_PIXELS == 40_000_000


def test_the_uploader_takes_every_extension_the_accepted_cases_use():
    extensions = {Path(name).suffix.lstrip(".") for name, _, _ in list(ACCEPTED.values()) + list(REFUSED.values())}
    assert extensions <= set(UPLOAD_TYPES)
