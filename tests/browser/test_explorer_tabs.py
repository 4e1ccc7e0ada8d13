"""Home's overview and the Layer Explorer's tabs in Chromium: a visitor clicks a layer's column
in the overview, lands in the Explorer on that layer, then clicks through every tab, and each
draws its content; last, a photo from the camera (Chromium's own test camera) gets a verdict. Only the open tab is drawn (cnnviz_app/explorer_tabs.py), so each click
reruns the page on the server: here the browser, not streamlit.testing, sends those reruns,
and the overview's click is a real click on the picture.
"""

import re

import pytest

from cnnviz_app.explorer_tabs import TABS
from tests.appserver import running_app
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, no_exception, screenshots, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# Chromium's built-in test camera (a moving test pattern), its permission granted without a prompt
CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + CAMERA_ARGS)
        try:
            yield b
        finally:
            b.close()

# label -> text only that tab draws
DRAWS = {
    "What a computer sees": "A photo is, to a computer, a grid of numbers",
    "Feature maps, layer by layer": "conv2d_1 · convolution · 148×148×32",
    "Filters": "conv2d_1 in RGB",
    "What a filter looks for": "Made for conv2d_1's filter",
    "Dense layer and verdict": "adds them up: z =",
    "The tutorial's test: unscaled, == 1": "The tutorial tested its network on a photo it fed",
    "Is the CNN really convolving?": "The tutorial's check, as it did it",
    "Where it looked": "Saliency, for dog and for cat alike",
    "Occlusion": "Red marks where hiding lowered",
    "Fool it": "The same size of change in random directions",
    "Step through a convolution": "sum of the 27 products",
    "Export": "Prepare the figures",
}
PICTURES = {  # label -> how many pictures the tab draws, at least (st.image or a plotly chart)
    "What a computer sees": 2,
    "Feature maps, layer by layer": 9,
    "Filters": 5,
    "What a filter looks for": 1,  # no dataset here: the made input, no patches
    "Dense layer and verdict": 1,
    "Is the CNN really convolving?": 5,
    "Where it looked": 3,
    "Occlusion": 2,
    "Fool it": 3,
    "Step through a convolution": 6,
}


# Images loaded in full (a broken or unsent one has no natural width), and plotly charts, in the open tab.
COUNT_PICTURES = """() => {
  const open = '[role="tabpanel"]:not([hidden])';
  const images = [...document.querySelectorAll(`${open} img`)].filter(i => i.complete && i.naturalWidth > 0);
  return images.length + document.querySelectorAll(`${open} .js-plotly-plot`).length;
}"""


def test_every_explorer_tab_draws_its_content_when_clicked(browser, tmp_path):
    assert list(DRAWS) == list(TABS)  # every tab, in the page's order
    env = {"CNNVIZ_SAVE_DIR": str(tmp_path / "saved"), "CNNVIZ_CACHE": str(tmp_path / "cache"), "CNNVIZ_DATA": ""}
    with running_app(env, tmp_path / "streamlit.log") as (url, _):
        context = browser.new_context(viewport={"width": 1280, "height": 720}, permissions=["camera"])
        try:
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            # Home: the overview, then a click on relu_3's column (a transparent button over it) opens the Explorer there.
            picture = page.locator(".overview img")
            assert picture.evaluate("img => img.decode().then(() => img.naturalWidth)") > 1000  # decoded, at its own size
            settle(page)
            screenshots(page, "13-home-overview")
            page.locator('.overview button[data-region="relu_3"]').click()
            page.get_by_role("heading", name="Layer Explorer", exact=True).wait_for()
            page.get_by_text("relu_3, opened from the overview").first.wait_for()
            settle(page)
            assert page.get_by_role("tab", name="Feature maps, layer by layer").get_attribute("aria-selected") == "true"
            no_exception(page)
            for label, text in DRAWS.items():
                tab = page.get_by_role("tab", name=label, exact=True)
                tab.click()
                panel = page.locator('[role="tabpanel"]:not([hidden])')
                panel.get_by_text(text).first.wait_for()
                settle(page)
                assert tab.get_attribute("aria-selected") == "true"
                no_exception(page)
                # The other tabs' content is not on the page: they were not drawn.
                for other, other_text in DRAWS.items():
                    if other != label:
                        assert page.get_by_text(other_text, exact=False).count() == 0, f"{other} drawn with {label} open"
                if label in PICTURES:
                    page.wait_for_function(f"({COUNT_PICTURES})() >= {PICTURES[label]}")
                if label == "Export":
                    panel.get_by_role("button", name="Prepare the figures").click()
                    panel.get_by_role("button", name="Download the workshop pack").wait_for()
                    panel.get_by_text(re.compile(r"One zip of \d+ files")).wait_for()  # the caption may arrive after the button
                    settle(page)
                    no_exception(page)
            screenshots(page, "12-explorer-export-tab")

            # The camera as the photo's source: the widget's own button takes a frame, the server decodes it.
            page.get_by_test_id("stMain").get_by_text("Camera", exact=True).click()
            page.wait_for_function("() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2)")  # the stream is on
            page.get_by_role("button", name="Take Photo").click()
            page.get_by_text(re.compile(r"Camera photo: \d+ × \d+ pixels")).first.wait_for()
            page.get_by_text("Verdict:").first.wait_for()
            settle(page)
            no_exception(page)
            screenshots(page, "14-explorer-camera")
        finally:
            context.close()
