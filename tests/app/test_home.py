"""The Home page under streamlit.testing: what the app teaches, the overview of one photo through
the network (a click opens the Layer Explorer there), links to the pages, and whether the
weights are trained."""

import base64
import json
import re
from pathlib import Path

import pytest

from tests.app.helpers import assert_no_exception, open_page, shipped, texts


def test_home_says_what_the_app_teaches_links_the_pages_and_the_weights_state():
    from cnnviz.model import default_weights_path

    at = open_page()
    body = texts(at)
    assert "How a CNN tells dogs from cats" in body
    links = [link.proto.label for link in at.get("page_link")]
    assert links == ["1. Data", "2. Architecture", "3. Build", "4. Training", "5. Evaluation", "6. Layer Explorer"]
    if default_weights_path() is None:
        assert "Untrained network" in body
    else:
        assert "Untrained network" not in body
    for erratum in ("not scaled", "prediction == 1", "binary", "cross-correlation"):
        assert erratum in body


def test_home_names_the_tutorial_and_its_errata_and_reads_the_shipped_recipe_from_the_card(monkeypatch):
    from cnnviz import RULE
    from cnnviz.cards import describe_recipe, verified_card
    from cnnviz.model import default_weights_path

    body = texts(open_page())
    assert "Introduction to Image Classification" in body and "Donovan Lo" in body and "classic Keras" not in body
    # the errata: the two bugs of the tutorial's test interact; its other slips are listed too
    assert "mostly says dog" in body and "calls almost everything a cat" not in body and RULE in body
    for slip in ("either 0 or 1", "148 × 148", "High (1) or Low (0)", "red slice", "61%", "validation_steps"):
        assert slip in body, slip
    count = len(re.findall(r"^\d+\. \*\*", body, flags=re.M))
    assert count >= 10 and any(e.label.startswith(f"Tutorial errata: {count} things") for e in open_page().expander)
    path = default_weights_path()
    if path is not None:
        assert f"How those weights were trained, from their card: {describe_recipe(verified_card(path))}." in body

    # another card, another sentence: nothing about the recipe is typed into the page
    monkeypatch.setattr("cnnviz.cards.verified_card", lambda path: {"epochs": 3, "history": [{"epoch": 1, "learning_rate": 0.02}]})
    if path is not None:
        assert "learning rate 2e-2" in texts(open_page())


# --- the overview: one photo through the session's model, a click from the Layer Explorer -------


def overview_data(at) -> dict:
    """What Home's overview component was given: the picture and its regions."""
    return json.loads(next(c for c in at.get("bidi_component") if c.key == "home_overview").proto.json)


def click_region(at, region: str):
    """A click on the overview's region, as the browser reports it: the component's one-run trigger
    "region", sent with the widgets' values for the next run."""
    component = next(c for c in at.get("bidi_component") if c.key == "home_overview")
    assert region in [name for name, *_ in overview_data(at)["regions"]]
    states = at._tree.get_widget_states()  # AppTest has no clicks on components: its widget states, and one more
    trigger = f"$$STREAMLIT_INTERNAL_KEY_{component.proto.id}__events"
    states.widgets.add(id=trigger, json_trigger_value=json.dumps([{"event": "region", "value": region}]))
    at._run(states)
    at._page_hash = ""  # the browser's next runs ask for the page the script switched to, not AppTest's last switch_page
    assert_no_exception(at)
    return at


def test_home_shows_the_overview_of_the_sample_through_the_shipped_weights_and_every_region_is_clickable():
    from cnnviz.report import photo_report
    from cnnviz_app.common import SAMPLE, chelsea, describe_card

    model, card = shipped()
    at = open_page()
    expected = photo_report(model, chelsea()).overview
    data = overview_data(at)
    assert [tuple(region) for region in data["regions"]] == expected.regions()
    assert [name for name, *_ in data["regions"]] == ["input"] + [c.layer for c in expected.columns] + ["verdict"]
    assert data["src"] == "data:image/png;base64," + base64.b64encode(expected.png).decode()
    assert (data["height"], data["width"]) == expected.image.shape[:2]
    assert not at.get("plotly_chart"), "no plotly on Home: its script is the largest a page loads"
    body = texts(at)
    maps = len(expected.columns[0].channels)
    assert f"**One photo through the network**: {SAMPLE}, through {describe_card(card)}." in body
    assert f"Each column shows {maps} of the maps" in body and "Click a column to open its layer" in body
    assert body.index("This app follows") < body.index("One photo through the network") < body.index("the labelled photos")


def test_a_click_on_a_column_opens_the_layer_explorer_on_that_layer_and_the_photo():
    from cnnviz_app.explorer_tabs import TAB

    at = click_region(open_page(), "relu_3")
    assert at.title[0].value == "Layer Explorer"
    assert at.session_state[TAB] == "Feature maps, layer by layer"
    assert at.selectbox(key="closer_layer").value == "relu_3"  # the closer look, at the bottom of the tab
    assert any("**relu_3**, opened from the overview" in i.value for i in at.info)
    body = texts(at)
    assert "Chelsea the cat (scikit-image): 451 × 300 pixels" in body and "relu_3 · relu · 71×71×64" in body
    at.run()  # a rerun (a widget moved): the word at the top was for the arrival
    assert at.title[0].value == "Layer Explorer" and not any("opened from the overview" in i.value for i in at.info)


@pytest.mark.slow
def test_a_click_on_the_photo_or_the_verdict_opens_their_tabs():
    from cnnviz_app.explorer_tabs import TAB

    at = click_region(open_page(), "input")
    assert at.session_state[TAB] == "What a computer sees" and "A photo is, to a computer, a grid of numbers" in texts(at)
    at = click_region(open_page(), "verdict")
    assert at.session_state[TAB] == "Dense layer and verdict" and "adds them up: z =" in texts(at)


@pytest.mark.slow
def test_home_draws_the_photo_last_explored_and_a_click_opens_it_again_even_an_upload(cat_photo, monkeypatch, tiny_kaggle):
    """The Explorer's photo goes to Home; Home's click brings it back, an uploaded one too, which the
    uploader itself forgets on a page switch."""
    from cnnviz.images import load_photo
    from cnnviz.report import photo_report

    monkeypatch.setenv("CNNVIZ_DATA", str(tiny_kaggle))
    at = open_page("cnnviz_app/pages/layer_explorer.py")
    at.radio(key="photo_source").set_value("Validation image").run()
    at.number_input(key="val_index").set_value(3).run()
    name = Path(at.session_state["split"].val[3][0]).name
    at.switch_page("cnnviz_app/pages/home.py").run()
    assert f"**One photo through the network**: {name}, through" in texts(at)
    click_region(at, "max_pooling2d_1")
    assert at.number_input(key="val_index").value == 3 and f"{name}:" in texts(at)

    at.radio(key="photo_source").set_value("Upload a photo").run()
    at.file_uploader[0].set_value((cat_photo.name, cat_photo.read_bytes(), "image/jpeg")).run()
    at.switch_page("cnnviz_app/pages/home.py").run()
    assert_no_exception(at)
    model, _ = shipped()
    expected = photo_report(model, load_photo(cat_photo)).overview
    assert overview_data(at)["src"].endswith(base64.b64encode(expected.png).decode())
    click_region(at, "relu_1")
    body = texts(at)
    assert f"{cat_photo.name}, kept from your last visit: upload another to replace it." in body
    assert "### Verdict:" in "\n".join(m.value for m in at.markdown) and at.selectbox(key="closer_layer").value == "relu_1"
    # Removing a file from the uploader forgets the kept photo too.
    at.file_uploader[0].set_value((cat_photo.name, cat_photo.read_bytes(), "image/jpeg")).run()
    at.file_uploader[0].clear().run()
    assert_no_exception(at)
    assert "Choose a photo above" in texts(at) and "Verdict:" not in texts(at)
