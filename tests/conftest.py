"""Shared fixtures: the real photos in ../shared/data, and small folders built from them."""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", REPO.parent / "shared" / "data" / "dogs-vs-cats"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared dogs-vs-cats folder (train/ and originals/)."""
    if not (DATA / "train").is_dir():
        pytest.fail(f"Test photos not found at {DATA}; set CNNVIZ_TEST_DATA to the dogs-vs-cats folder.")
    return DATA


def _copy_photos(src: Path, dest: Path, per_class: int, start: int = 0) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for label in ("cat", "dog"):
        for i in range(start, start + per_class):
            shutil.copy(src / f"{label}.{i}.jpg", dest / f"{label}.{i}.jpg")
    return dest


@pytest.fixture(scope="session")
def tiny_kaggle(tmp_path_factory, data_root) -> Path:
    """A Kaggle-layout folder of 24 cats and 24 dogs, copied from the shared train/ folder."""
    return _copy_photos(data_root / "train", tmp_path_factory.mktemp("tiny") / "train", per_class=24)


@pytest.fixture(scope="session")
def cat_photo(data_root) -> Path:
    """An original, full-resolution cat photo."""
    return data_root / "originals" / "cat.0.jpg"


@pytest.fixture(scope="session")
def dog_photo(data_root) -> Path:
    return data_root / "originals" / "dog.1.jpg"
