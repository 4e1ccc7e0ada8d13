"""End to end in Debian's headless Chromium: the app started as the README starts it.

Visits the four pages through the sidebar (one browser session, as a workshop attendee
would), uploads a real photo to the Layer Explorer, trains one epoch on a tiny folder of
real photos, and saves screenshots at 1280x720 and 1920x1080 to test-artifacts/screenshots/
for a person to look at.
"""

import re
from pathlib import Path

import pytest

from tests.appserver import copy_photos, running_app
from tests.browser.helpers import SHOTS, go, no_exception, screenshots, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def photos(data_root, tmp_path_factory) -> Path:
    """A tmp copy of 150 cats and 150 dogs: the workshop split scales down to 7 batches, seconds each."""
    return copy_photos(data_root / "train", tmp_path_factory.mktemp("browser-data") / "train", per_class=150)


@pytest.fixture(scope="module")
def server(photos, tmp_path_factory):
    """The app started as the README starts it, on the photos above; stopped afterwards."""
    home = tmp_path_factory.mktemp("server")
    env = {"CNNVIZ_DATA": str(photos), "CNNVIZ_SAVE_DIR": str(home / "saved"), "CNNVIZ_CACHE": str(home / "cache")}
    try:
        with running_app(env, home / "streamlit.log") as (url, _):
            yield url
    finally:
        server_log = (home / "streamlit.log").read_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "streamlit.log").write_text(server_log)


@pytest.fixture(scope="module")
def page(server, browser):
    """One browser session for the whole tour, as a workshop attendee would have."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        context.close()


def test_every_page_in_chromium(page, server, cat_photo):
    page.goto(server)
    page.get_by_role("heading", name="How a CNN tells dogs from cats").wait_for()
    page.get_by_text(re.compile(r"Untrained network|Verdicts use")).first.wait_for()
    settle(page)
    no_exception(page)
    screenshots(page, "0-home")

    go(page, "Data")
    page.get_by_text("Found 150 cats, 150 dogs").first.wait_for()
    no_exception(page)
    screenshots(page, "1-data")

    go(page, "Architecture")
    page.get_by_text("5,046,369").first.wait_for()
    no_exception(page)
    screenshots(page, "2-architecture")

    go(page, "Layer Explorer")
    page.get_by_text("Upload a photo", exact=True).click()
    settle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(cat_photo))
    verdict = page.get_by_text("Verdict:").first
    verdict.wait_for(timeout=120_000)
    settle(page, 2)
    assert any(word in verdict.inner_text() for word in ("cat", "dog")), verdict.inner_text()
    no_exception(page)
    screenshots(page, "3-layer-explorer")

    go(page, "Training")
    page.get_by_text("Epoch 1 trains on 214 photos and validates on 84").wait_for()
    no_exception(page)
    screenshots(page, "4-training")

    # one epoch a click (the workshop's default runs more), so each can be watched alone
    per_click = page.get_by_label("Epochs per click")
    per_click.fill("1")
    per_click.press("Enter")
    # epoch 1, live: the progress bar, the curves and a Stop button, then val_accuracy
    train = page.get_by_role("button", name="Train one epoch")
    train.click()
    # The live panel, caught while it runs: decoding the photos first takes seconds, the 7
    # batches after it can pass between two polls on a quiet machine.
    progress = page.get_by_text(re.compile(r"Epoch 1: (batch [1-6] of 7|reading the first photos)"))
    progress.wait_for(timeout=120_000)
    # Streamlit sends the progress bar and the Stop button as separate deltas of one run, so
    # the button can land a moment after the text: wait for it (a timeout fails the test).
    page.get_by_role("button", name="Stop").wait_for(state="visible", timeout=15_000)
    screenshots(page, "5-training-running", scroll_to=page.locator('[data-testid="stProgress"]').first)
    result = page.get_by_text(re.compile(r"val_accuracy 0\.\d{4}|val_accuracy 1\.0000")).first
    result.wait_for(timeout=300_000)
    settle(page)
    no_exception(page)
    assert page.get_by_text("Epoch 1 finished").count() == 1
    screenshots(page, "6-training-after-epoch", scroll_to=result)

    # epoch 2: stop it mid-way, then roll back to its start
    assert train.is_enabled()
    train.click()
    page.get_by_text(re.compile(r"Epoch 2: (batch [1-4] of 7|reading the first photos)")).wait_for(timeout=120_000)
    page.get_by_role("button", name="Stop").click()
    stopped = page.get_by_text(re.compile(r"Epoch 2 was stopped after batch [1-6] of 7"))
    stopped.wait_for(timeout=60_000)
    settle(page)
    no_exception(page)
    page.get_by_role("button", name="Roll back to the epoch's start").click()
    page.get_by_text(re.compile(r"and rolled back: the model is as it was at the start of epoch 2")).wait_for()
    settle(page)
    no_exception(page)
    screenshots(page, "7-training-stopped-rolled-back", scroll_to=page.get_by_text("rolled back:").first)

    # epoch 2 again, and away to another page while it runs: it goes on and finishes
    train.click()
    page.get_by_text(re.compile(r"Epoch 2: ")).first.wait_for(timeout=60_000)
    go(page, "Architecture")
    page.wait_for_timeout(3000)
    go(page, "Training")
    page.get_by_text("Epoch 2 finished").wait_for(timeout=300_000)
    settle(page)
    no_exception(page)
    history = page.get_by_role("heading", name="This run's epochs")
    screenshots(page, "8-training-history", scroll_to=history)

    # the session's model now gives the Layer Explorer's verdicts
    go(page, "Layer Explorer")
    page.get_by_text("this session's own model").first.wait_for()
    no_exception(page)


# The loneliest dot of the photo map (the plotly chart whose x axis is PCA's), so that a click
# there hits it and no other: its screen position from plotly's own axes, and its photo's name.
LONELY_DOT = """() => {
  const chart = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g._fullLayout && (g._fullLayout.xaxis.title.text || '').startsWith('PCA'));
  chart.scrollIntoView({block: 'center'});
  const layout = chart._fullLayout, box = chart.getBoundingClientRect();
  const dots = chart._fullData.flatMap(t => Array.from(t.x || [], (x, i) => ({  // _fullData: decoded arrays
    x: box.left + layout._size.l + layout.xaxis.l2p(x), y: box.top + layout._size.t + layout.yaxis.l2p(t.y[i]), name: t.text[i],
  })));
  const room = d => Math.min(...dots.filter(o => o !== d).map(o => Math.hypot(o.x - d.x, o.y - d.y)));
  return dots.reduce((best, d) => (room(d) > room(best) ? d : best));
}"""


def test_beyond_the_tutorial_in_chromium(page, server):
    """After the tour above (the session's model trained): evaluation (its map, a confusion cell's
    photos, one opened in the Layer Explorer), Grad-CAM, presenter mode on and off, and a dot of
    the map clicked open."""
    if not page.url.startswith(server):  # run on its own
        page.goto(server)
        settle(page)
    go(page, "Evaluation")
    page.get_by_text(re.compile(r"validation photos judged right")).first.wait_for(timeout=120_000)
    # the network's map of the photos, drawn for this session's model (or why it cannot be)
    page.get_by_text(re.compile(r"Each dot is one of these|so the map would be one point")).first.wait_for(timeout=120_000)
    settle(page)
    no_exception(page)
    screenshots(page, "9-evaluation")

    # A click on a cell of the confusion matrix lists its photos, each one click from the Layer
    # Explorer. The true cats called cats, else those called dogs: one of the two holds photos.
    main = page.get_by_test_id("stMain")  # the sidebar's network select has an "Open" button of its own
    confusion = page.locator('[data-testid="stPlotlyChart"]').first
    confusion.scroll_into_view_if_needed()
    for column, said in ((0.25, "cats"), (0.75, "dogs")):
        area = confusion.locator(".nsewdrag").first.bounding_box()
        page.mouse.click(area["x"] + area["width"] * column, area["y"] + area["height"] * 0.25)
        cell = page.get_by_role("heading", name=re.compile(rf"^Cats called {said}: \d+ photo"))
        cell.wait_for()
        settle(page)
        if main.get_by_role("button", name="Open", exact=True).count():
            break
    no_exception(page)
    screenshots(page, "9b-evaluation-cell", scroll_to=cell)
    main.get_by_role("button", name="Open", exact=True).first.click()
    page.get_by_role("heading", name="Layer Explorer", exact=True).wait_for()
    page.get_by_text("Verdict:").first.wait_for()
    settle(page)
    no_exception(page)

    tab = page.get_by_role("tab", name="Where it looked")
    tab.click()
    page.get_by_text("Grad-CAM for").first.wait_for()
    settle(page)
    no_exception(page)
    screenshots(page, "10-where-it-looked", scroll_to=tab)

    page.get_by_text("Presenter mode").click()
    page.get_by_role("heading", name=re.compile(r"^1\. Data")).wait_for()
    settle(page)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # the menu is hidden while presenting
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name=re.compile(r"^2\. What a computer sees")).wait_for()
    settle(page)
    no_exception(page)
    screenshots(page, "11-presenter")
    page.get_by_text("Presenter mode").click()
    page.get_by_role("heading", name="Layer Explorer", exact=True).wait_for()  # back where the talk began
    settle(page)
    no_exception(page)

    # A click on a dot of the network's map of the photos opens that photo in the Layer Explorer.
    go(page, "Evaluation")
    page.get_by_text(re.compile(r"Each dot is one of these")).first.wait_for(timeout=120_000)
    settle(page)
    dot = page.evaluate(LONELY_DOT)
    page.mouse.click(dot["x"], dot["y"])
    page.get_by_role("heading", name="Layer Explorer", exact=True).wait_for()
    page.get_by_text("Verdict:").first.wait_for()
    settle(page)
    no_exception(page)
    page.get_by_text(re.compile(rf"^{re.escape(dot['name'])}: \d+ × \d+ pixels")).first.wait_for()  # the photo clicked
