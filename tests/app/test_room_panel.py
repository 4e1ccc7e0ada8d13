"""The room panel under streamlit.testing: counts, histogram and sentences from cnnviz.room, live."""

import dataclasses

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import census, room
from cnnviz.cards import card_accuracy, card_epochs
from cnnviz.room import Room, Setting, bins
from tests.app.helpers import TIMEOUT, assert_no_exception, plotly_array, plotly_specs, shipped, texts

WORKSHOP = Setting(train=2000, val=800, seed=13, batch_size=32, learning_rate=0.001, augment=False)
PANEL = "from cnnviz_app.room_view import room_panel\n\nroom_panel(key='test_room')"


@pytest.fixture
def fresh_room(monkeypatch):
    """A room of the test's own: the process's holds whatever other tests trained."""
    monkeypatch.setattr(room, "ROOM", Room())
    return room.ROOM


def bars(at):
    (spec,) = plotly_specs(at)
    bar = spec["data"][0]
    return plotly_array(bar.get("x", [])), plotly_array(bar.get("y", []))


def test_an_empty_room_says_what_will_appear(fresh_room):
    at = AppTest.from_string(PANEL, default_timeout=TIMEOUT).run()
    assert_no_exception(at)
    assert "No first epoch from random weights has ended yet." in texts(at)
    fresh_room.add(None, new_session=True)  # someone trained on from loaded weights: no draw
    at.run()
    body = texts(at)
    assert "**1** session(s) have trained here (1 epoch(s)), but no first epoch from random weights has ended yet" in body
    assert len(bars(at)[1]) == 0
    models = census.counts()[census.MODELS]
    assert f"In this server's memory now: {models} session model(s)" in body


def test_the_panel_shows_the_biggest_setting_and_follows_the_room_live(fresh_room):
    for accuracy in (0.56875, 0.6125, 0.64, 0.70125):
        fresh_room.add((WORKSHOP, accuracy), new_session=True)
    tutorial = dataclasses.replace(WORKSHOP, train=16000, val=6400)
    fresh_room.add((tutorial, 0.7425), new_session=True)
    at = AppTest.from_string(PANEL, default_timeout=TIMEOUT).run()
    assert_no_exception(at)
    body = texts(at)
    assert "**5** session(s) trained here." in body
    assert "val_accuracy went from **56.9%** to **70.1%** over 4 first epoch(s) (median 62.6%)" in body
    assert "The tutorial's **72.8%** was one such draw, of an epoch 8 times this size: 0 of these 4 reached it." in body
    _, card = shipped()
    if card_accuracy(card) is not None:
        assert f"The shipped weights: **{card_accuracy(card):.1%}** after {card_epochs(card)} epochs." in body
    x, y = bars(at)
    lefts, counts = bins(fresh_room.view().populations[0])
    assert np.allclose(x, lefts + room.BIN_WIDTH / 2) and y.tolist() == counts.tolist()

    # The other setting, chosen in the box: its own population, never mixed with the workshop's.
    at.selectbox(key="test_room_setting").set_value(tutorial.words()).run()
    body = texts(at)
    assert "over 1 first epoch(s)" in body
    assert "The tutorial's **72.8%** was one such draw: 1 of these 1 reached it." in body

    # A new epoch ends in the room: the next run shows it.
    fresh_room.add((WORKSHOP, 0.75), new_session=True)
    at.selectbox(key="test_room_setting").set_value(WORKSHOP.words()).run()
    body = texts(at)
    assert "**6** session(s) trained here." in body and "1 of these 5 reached it." in body
