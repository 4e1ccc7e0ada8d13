"""Shared fixtures: the real photos in ../shared/data, and small folders built from them."""

import os
from pathlib import Path

import pytest
from tests.appserver import copy_photos

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CNNVIZ_TEST_DATA", REPO.parent / "shared" / "data" / "dogs-vs-cats"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared dogs-vs-cats folder (train/ and originals/)."""
    if not (DATA / "train").is_dir():
        pytest.fail(f"Test photos not found at {DATA}; set CNNVIZ_TEST_DATA to the dogs-vs-cats folder.")
    return DATA


@pytest.fixture(scope="session")
def tiny_kaggle(tmp_path_factory, data_root) -> Path:
    """A Kaggle-layout folder of 24 cats and 24 dogs, copied from the shared train/ folder."""
    return copy_photos(data_root / "train", tmp_path_factory.mktemp("tiny") / "train", per_class=24)


@pytest.fixture(scope="session")
def cat_photo(data_root) -> Path:
    """An original, full-resolution cat photo."""
    return data_root / "originals" / "cat.0.jpg"


@pytest.fixture(scope="session")
def dog_photo(data_root) -> Path:
    return data_root / "originals" / "dog.1.jpg"
