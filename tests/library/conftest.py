"""Fixtures the library's test modules share."""

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def photo_bytes(data_root) -> dict[str, list[bytes]]:
    """Three real JPEGs per class."""
    train = data_root / "train"
    return {c: [(train / f"{c}.{i}.jpg").read_bytes() for i in range(3)] for c in ("cat", "dog")}


@pytest.fixture()
def cache(tmp_path) -> Path:
    """A scan cache folder of the test's own."""
    return tmp_path / "cache"
