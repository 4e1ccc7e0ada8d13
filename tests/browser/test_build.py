"""The Build page end to end in Debian's headless Chromium: build the Keras blog's pooled network
from the tutorial's with the page's widgets, see its 1,212,513 parameters, hand it to the
Training page with "Train this network", train an epoch of it, open the Layer Explorer on it,
then train the tutorial's network and see both runs compared."""

from pathlib import Path

import pytest

from cnnviz.architecture import POOLED
from tests.appserver import copy_photos, running_app
from tests.browser.helpers import SHOTS, go, no_exception, screenshots, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(data_root, tmp_path_factory):
    home = tmp_path_factory.mktemp("build-server")
    photos = copy_photos(data_root / "train", home / "train", per_class=40)
    env = {"CNNVIZ_DATA": str(photos), "CNNVIZ_SAVE_DIR": str(home / "saved"), "CNNVIZ_CACHE": str(home / "cache")}
    with running_app(env, home / "streamlit.log") as (url, _):
        yield url


def choose(page, key: str, option: str) -> None:
    """Pick `option` in the selectbox with this key, as a person does: open it, click the option.
    (A click only focuses Streamlit's combobox; the arrow key opens its list.)"""
    box = page.locator(f".st-key-{key} [role='combobox']").first
    box.click()
    box.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
    settle(page, 0.2)


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").first.click()
    settle(page, 0.2)


def train_one_epoch(page) -> None:
    epochs = page.get_by_label("Epochs per click")
    epochs.fill("1")
    epochs.press("Enter")
    settle(page, 0.2)
    assert page.get_by_text("finished in").count() == 0, "a new network's page shows no earlier epoch"
    page.get_by_role("button", name="Train one epoch").click()
    page.get_by_text("finished in").first.wait_for(timeout=300_000)
    settle(page)


def test_build_the_pooled_network_and_train_it(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(server)
        settle(page)
        go(page, "Build")
        page.get_by_text("5,046,369").first.wait_for()
        page.get_by_text("Workshop epoch, about").wait_for()
        settle(page)
        no_exception(page)

        choose(page, "build_add_kind", "pool")
        choose(page, "build_add_where", "after 1: conv32")
        click(page, "build_add")
        page.get_by_text("1,212,513").first.wait_for()
        assert page.locator(".st-key-build_text input").input_value() == POOLED
        assert page.locator(".st-key-build_kind_1 [role='combobox']").input_value() == "pool"
        no_exception(page)
        screenshots(page, "build-pooled")

        page.get_by_role("button", name="Train this network").click()
        page.get_by_role("heading", name="Training", exact=True).first.wait_for()
        settle(page)
        page.get_by_text(f"{POOLED}: 1,212,513 parameters").wait_for()
        no_exception(page)

        train_one_epoch(page)
        go(page, "Layer Explorer")  # the session's pooled network, trained an epoch: its third pooling layer shows
        page.get_by_text("Verdict:").first.wait_for()
        page.get_by_role("tab", name="Feature maps, layer by layer", exact=True).click()
        page.get_by_text("max_pooling2d_3").first.wait_for()
        no_exception(page)

        go(page, "Training")
        choose(page, "training_network", "The tutorial's")
        page.get_by_text("5,046,369 parameters").first.wait_for()
        train_one_epoch(page)
        runs = page.get_by_role("heading", name="Your runs, compared")
        runs.scroll_into_view_if_needed()
        page.get_by_text("run 1: pooled").first.wait_for()
        page.get_by_text("run 2: tutorial").first.wait_for()
        no_exception(page)
        screenshots(page, "build-runs-compared", scroll_to=runs)
    finally:
        context.close()
