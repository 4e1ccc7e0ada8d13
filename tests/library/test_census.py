"""The census counts sessions' models and decoded photo sets while they live, and only then."""

import gc

from cnnviz import census
from cnnviz.pipeline import decoded_images
from cnnviz.session import SessionModel


def test_a_sessions_models_and_decoded_photos_are_counted_until_they_are_freed(tiny_kaggle):
    before = census.counts(collect=True)
    session = SessionModel.untrained()
    first = session.model
    session.reset()  # a second model; the first is still held here
    items = [(str(path), label) for label, path in enumerate(sorted(tiny_kaggle.iterdir())[:2])]
    decoded, again = decoded_images(items), decoded_images(list(items))
    assert again is decoded  # one set for the same photos, counted once
    now = census.counts()
    assert now[census.MODELS] == before[census.MODELS] + 2 and now[census.DECODED] == before[census.DECODED] + 1

    del first
    assert census.counts(collect=True)[census.MODELS] == before[census.MODELS] + 1
    del session, decoded, again
    gc.collect()
    assert census.counts() == before
