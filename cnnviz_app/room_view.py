"""The room, for the presenter: how every session's first epoch from random weights went, live.

Not a page itself: presenter mode shows `room_panel` on a screen of its own, and the Training
page can show it too. The figures come from cnnviz.room, which keeps nothing that identifies
a session; this module only words them and redraws them every few seconds.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import census, charts, room
from cnnviz.cards import card_accuracy, card_epochs
from cnnviz.room import BIN_WIDTH, TUTORIAL_TRAIN, TUTORIAL_VAL_ACCURACY, Population, bins, summary
from cnnviz_app import common

NO_BAR = {"displayModeBar": False}
CHANCE = 0.5  # a coin toss's val_accuracy on balanced photos


def room_panel(key: str = "room", every: float = 5.0) -> None:
    """This server's first epochs from random weights: counts, a histogram, what they mean.

    Redrawn every `every` seconds (a fragment: the rest of the page does not rerun). `key`
    prefixes its widgets' keys, so that two pages (or one page twice) can each show it.
    """
    st.fragment(run_every=every)(_draw)(key)


def _draw(key: str) -> None:
    view = room.ROOM.view()
    words, chart = st.columns(2, gap="large")
    if not view.populations:
        trained = f"**{view.sessions}** session(s) have trained here ({view.epochs} epoch(s)), but no" if view.epochs else "No"
        words.markdown(
            f"{trained} first epoch from random weights has ended yet. Each one that does adds its val_accuracy to this histogram."
        )
        chart.plotly_chart(_figure(None), width="stretch", config=NO_BAR, key=f"{key}_histogram")
        _census_caption(chart)
        return
    by_words = {p.setting.words(): p for p in view.populations}  # the biggest first
    population = view.populations[0]
    if len(by_words) > 1:
        # Chosen by its words, not its place: the order changes as populations grow.
        chosen = words.selectbox(
            "Setting", list(by_words), key=f"{key}_setting", format_func=lambda w: f"{by_words[w].n} first epoch(s): {w}",
            help="Only first epochs with the same photos, batch size, learning rate and augmentation are comparable.",
        )
        population = by_words[chosen]
    for line in room_words(view.sessions, population):
        words.markdown(line)
    chart.plotly_chart(_figure(population), width="stretch", config=NO_BAR, key=f"{key}_histogram")
    chart.caption(f"Setting: {population.setting.words()}. Other settings' first epochs are kept apart: they are other draws.")
    _census_caption(chart)


def room_words(sessions: int, population: Population) -> list[str]:
    """What the room's figures mean, for a learner: the spread, then the tutorial's and the shipped weights' place."""
    s = summary(population)
    train = population.setting.train
    bigger = "" if train == TUTORIAL_TRAIN else f", of an epoch {TUTORIAL_TRAIN / train:.3g} times this size"
    lines = [
        f"**{sessions}** session(s) trained here. Same network, same photos, a different random start each: after one "
        f"epoch, val_accuracy went from **{s.low:.1%}** to **{s.high:.1%}** over {s.n} first epoch(s) (median {s.median:.1%}).",
        f"The tutorial's **{TUTORIAL_VAL_ACCURACY:.1%}** was one such draw{bigger}: {s.at_least_tutorial} of these {s.n} reached it.",
    ]
    shipped = _shipped()
    if shipped is not None:
        accuracy, epochs = shipped
        lines.append(f"The shipped weights: **{accuracy:.1%}** after {epochs} epochs.")
    return lines


def _shipped() -> tuple[float, int] | None:
    _model, card = common.shipped_model()
    accuracy, epochs = card_accuracy(card), card_epochs(card)
    return (accuracy, epochs) if accuracy is not None and epochs else None


def _figure(population: Population | None):
    lefts, counts = bins(population) if population is not None else ([], [])
    marks = [("chance", CHANCE), ("tutorial", TUTORIAL_VAL_ACCURACY)]
    if (shipped := _shipped()) is not None:
        marks.append(("shipped weights", shipped[0]))
    return charts.room_histogram(lefts, counts, BIN_WIDTH, marks)


def _census_caption(where) -> None:
    alive = census.counts()
    ttl = st.get_option("server.disconnectedSessionTTL")
    where.caption(
        f"In this server's memory now: {alive[census.MODELS]} session model(s) and {alive[census.DECODED]} decoded "
        f"photo set(s). A closed tab's are freed once Streamlit forgets its session, {ttl} s after it closed."
    )
