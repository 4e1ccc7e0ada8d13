"""The Home page under streamlit.testing: what the app teaches, links to the pages, and whether
the weights are trained."""

from tests.app.helpers import open_page, texts


def test_home_says_what_the_app_teaches_links_the_pages_and_the_weights_state():
    from cnnviz.model import default_weights_path

    at = open_page()
    body = texts(at)
    assert "How a CNN tells dogs from cats" in body
    links = [link.proto.label for link in at.get("page_link")]
    assert links == ["1. Data", "2. Architecture", "3. Training", "4. Evaluation", "5. Layer Explorer"]
    if default_weights_path() is None:
        assert "Untrained network" in body
    else:
        assert "Untrained network" not in body
    for erratum in ("not scaled", "prediction == 1", "binary", "cross-correlation"):
        assert erratum in body
