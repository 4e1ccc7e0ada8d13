"""The Build page under streamlit.testing: presets, adding, removing, reordering and changing
blocks move the line and the total; a bad line gets one error; "Train this network" makes it
this session's model."""

import pytest

from cnnviz.architecture import MAX_PARAMETERS, MODERN, POOLED, TUTORIAL, layer_rows, parameters
from tests.app.helpers import assert_no_exception, open_page, texts

BUILD = "cnnviz_app/pages/build.py"


@pytest.fixture
def build():
    return open_page(BUILD)


def shown_line(at) -> str:
    return at.text_input(key="build_text").value


def shown_total(at) -> str:
    return next(m.value for m in at.metric if m.label == "Parameters")


def test_the_presets_give_the_issues_counts(build):
    at = build
    assert shown_line(at) == TUTORIAL and shown_total(at) == "5,046,369"
    for name, line, total in (("pooled", POOLED, "1,212,513"), ("modern", MODERN, "1,176,353"), ("tutorial", TUTORIAL, "5,046,369")):
        at.button(key=f"build_preset_{name}").click().run()
        assert_no_exception(at)
        assert shown_line(at) == line and shown_total(at) == total
        table = at.dataframe[0].value
        assert table.iloc[-1]["parameters"] == total
        assert list(table["layer"])[:-1] == [r.name for r in layer_rows(line)]
        assert [at.selectbox(key=f"build_kind_{i}").value for i in range(len(line.split()))] == [
            token.rstrip("0123456789.") for token in line.split()
        ]


@pytest.mark.slow
def test_adding_removing_reordering_and_changing_blocks_move_the_line_and_the_total(build):
    at = build
    # Add a pool after block 1: the Keras blog's network.
    at.selectbox(key="build_add_kind").set_value("pool").run()
    at.selectbox(key="build_add_where").set_value(0).run()
    at.button(key="build_add").click().run()
    assert shown_line(at) == POOLED and shown_total(at) == "1,212,513"

    at.button(key="build_preset_tutorial").click().run()
    # Move the second pool (block 5) above conv64: conv64 then sees 36×36 maps, not 73×73.
    at.button(key="build_up_4").click().run()
    moved = "conv32 conv32 pool pool conv64 dense64 dropout0.5"
    assert shown_line(at) == moved and shown_total(at) == f"{parameters(moved):,}" != "5,046,369"
    at.button(key="build_down_3").click().run()
    assert shown_line(at) == TUTORIAL and shown_total(at) == "5,046,369"

    # Remove block 2 (the second conv32).
    at.button(key="build_remove_1").click().run()
    fewer = "conv32 pool conv64 pool dense64 dropout0.5"
    assert shown_line(at) == fewer and shown_total(at) == f"{parameters(fewer):,}"

    # Change dense64's units, then its kind: a conv keeps the number, as filters.
    at.number_input(key="build_number_4_dense").set_value(16).run()
    assert shown_line(at) == "conv32 pool conv64 pool dense16 dropout0.5"
    assert shown_total(at) == f"{parameters('conv32 pool conv64 pool dense16 dropout0.5'):,}"
    at.selectbox(key="build_kind_4").set_value("conv").run()
    assert shown_line(at) == "conv32 pool conv64 pool conv16 dropout0.5"
    assert_no_exception(at)
    assert not at.error


def test_the_line_typed_as_text_drives_the_blocks(build):
    at = build
    at.text_input(key="build_text").input("conv8 bn pool gap dense4").run()
    assert [at.selectbox(key=f"build_kind_{i}").value for i in range(5)] == ["conv", "bn", "pool", "gap", "dense"]
    assert at.number_input(key="build_number_4_dense").value == 4
    assert shown_total(at) == f"{parameters('conv8 bn pool gap dense4'):,}"


@pytest.mark.parametrize(
    "typed, words",
    [
        ("conv32 poool dense64", "Unknown block 'poool'"),
        ("conv32 " + "pool " * 8, "After pool 8 the maps are 0×0: remove a pool or a conv."),
        ("pool dense64", "has no conv"),
        ("conv32 conv32 pool conv64 dense64 dropout0.5", f"this server holds up to {MAX_PARAMETERS:,} per attendee"),
    ],
)
def test_a_bad_line_gets_one_error_and_nothing_else_breaks(build, typed, words):
    at = build
    at.text_input(key="build_text").input(typed).run()
    assert_no_exception(at)
    assert len(at.error) == 1 and words in at.error[0].value
    if typed.startswith("conv32 poool"):  # not blocks at all: the rows keep the last line, whose table stays
        assert shown_total(at) == "5,046,369"
    else:  # blocks that make no network: no table, no total, no training
        assert not at.dataframe and not at.metric
        assert not [b for b in at.button if b.label == "Train this network"]
    at.button(key="build_preset_pooled").click().run()
    assert not at.error and shown_total(at) == "1,212,513"


def test_the_build_page_shows_the_architecture_pages_table(build):
    """One formulas view: the Build page's table of the tutorial is the Architecture page's, less
    the kind column (the layers' names say it)."""
    at = build
    built = at.dataframe[0].value
    at.switch_page("cnnviz_app/pages/architecture.py").run()
    assert built.equals(at.dataframe[0].value.drop(columns="kind"))


def test_the_epoch_estimate_follows_the_network(build):
    """From the server's one measured speed (the same cached object the page used), scaled by
    each network's multiply-adds."""
    from cnnviz.durations import short_duration
    from cnnviz_app.common import WORKSHOP_PHOTOS, machine_speed

    at, speed = build, machine_speed()
    assert "timing a few training steps of the tutorial's network" in texts(at)
    for name, line in (("tutorial", TUTORIAL), ("pooled", POOLED)):
        at.button(key=f"build_preset_{name}").click().run()
        shown = next(m.value for m in at.metric if m.label == "Workshop epoch, about")
        assert shown == short_duration(speed.epoch_seconds(line, *WORKSHOP_PHOTOS))
    assert speed.epoch_seconds(POOLED, *WORKSHOP_PHOTOS) < speed.epoch_seconds(TUTORIAL, *WORKSHOP_PHOTOS) / 3


@pytest.mark.slow
def test_train_this_network_makes_it_this_sessions_model(monkeypatch, tiny_kaggle):
    """It keeps the session's learning rate, and the Training page then shows that network."""
    from cnnviz.architecture import line_of
    from cnnviz.model import learning_rate
    from cnnviz.session import SessionModel

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page(BUILD, session=SessionModel.untrained(1e-4))
    at.button(key="build_preset_pooled").click().run()
    next(b for b in at.button if b.label == "Train this network").click().run()
    assert_no_exception(at)
    mine = at.session_state["session"]
    assert line_of(mine.model.layers) == POOLED and not mine.own
    assert learning_rate(mine.model) == pytest.approx(1e-4)
    assert at.title[0].value == "Training"
    assert at.selectbox(key="training_network").value == POOLED
