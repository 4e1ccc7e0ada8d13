"""The Home page under streamlit.testing: what the app teaches, links to the pages, and whether
the weights are trained."""

import re

from tests.app.helpers import open_page, texts


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
