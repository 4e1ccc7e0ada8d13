"""Fixtures for the app's tests: each test starts with no dataset and a scan cache of its own."""

import pytest

from tests.appserver import copy_photos


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No dataset unless a test sets one; scan caches in a temporary folder."""
    monkeypatch.delenv("CNNVIZ_DATA", raising=False)
    monkeypatch.setenv("CNNVIZ_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def partly_seen_folder(monkeypatch, tmp_path, data_root):
    """Ids 200-299 of ../shared/data's train/ folder, set as the app's dataset.

    The shipped weights were trained on 17,000 photos of that folder, so the app's own split
    of it puts many of those among its validation photos. The card's list puts most of ids
    200-299 on the training side and the rest on its validation side (ids 0-149 are the
    held-out originals, which it never trained on).
    """
    photos = copy_photos(data_root / "train", tmp_path / "train", per_class=100, start=200)
    monkeypatch.setenv("CNNVIZ_DATA", str(photos))
    return photos
