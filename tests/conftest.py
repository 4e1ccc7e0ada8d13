"""Shared fixtures: the real photos in ../shared/data, small folders built from them, and a
weight file with code inside for the tests that show such code never runs."""

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


@pytest.fixture(scope="module")
def jpegs(data_root) -> dict[str, list[bytes]]:
    """Twelve real JPEGs per class."""
    train = data_root / "train"
    return {c: [(train / f"{c}.{i}.jpg").read_bytes() for i in range(12)] for c in ("cat", "dog")}


@pytest.fixture()
def booby_trapped(tmp_path) -> tuple[Path, Path]:
    """A `.keras` model whose Lambda layer writes `marker` whenever it runs."""
    from cnnviz.backend import keras

    marker = tmp_path / "marker-code-ran"
    # The path is a constant inside the function's own code, which Keras marshals into the file.
    code = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]")
    trap = keras.layers.Lambda(code, name="trap")
    model = keras.Sequential([keras.Input((150, 150, 3)), trap, keras.layers.Flatten(), keras.layers.Dense(1)])
    path = tmp_path / "evil.keras"
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran it once, in this test
    return path, marker

