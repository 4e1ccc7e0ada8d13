"""Files and folders of photos made on disk for a test, shared by the library's and the app's tests."""

from __future__ import annotations

import io
import os
import unicodedata
from pathlib import Path

from PIL import Image


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def reencode(jpeg: bytes, fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert(mode).save(out, fmt)
    return out.getvalue()


# Photo names a workshop brings: non-ASCII (one in NFD), spaces, emoji, upper-case extensions.
NAMES = {
    "Cat": ["chat_été.JPG", "Ünïcödé.PNG", unicodedata.normalize("NFD", "chaton_noël.jpeg"), "猫 1.Jpeg"],
    "Dog": ["狗.jpeg", "собака.JPEG", "perro 🐕.jpg", "hund (kopie).WEBP"],
}



def encoded_as_named(jpeg: bytes, name: str) -> bytes:
    """The JPEG as the format its name's extension says (PNG, WEBP), or itself."""
    fmt = {".png": "PNG", ".webp": "WEBP"}.get(os.path.splitext(name)[1].lower())
    if fmt is None:
        return jpeg
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, fmt)
    return out.getvalue()



def only_cats(root: Path, jpegs) -> Path:
    for i in range(3):
        write(root / "Cat" / f"{i}.jpg", jpegs["cat"][i])
    return root

