"""In Chromium: the browser tab closed mid-epoch, and uploads the browser itself refuses.

The app is started as the README starts it, with the session guard's grace period shortened
(CNNVIZ_ABANDONED_AFTER=3 s): a tab closed mid-epoch gets its epoch stopped cleanly after
the batch in progress, the server stays healthy, and the next visitor gets a session of
their own (not the closed one's model).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.appserver import TRAIN_BUTTON, copy_photos, healthy, running_app
from tests.browser.helpers import EXCEPTION

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(data_root, tmp_path_factory):
    """600 cats and 600 dogs (the workshop split: 27 batches, long enough to close a tab mid-epoch)."""
    home = tmp_path_factory.mktemp("robust-server")
    photos = copy_photos(data_root / "train", home / "train", per_class=600)
    env = {
        "CNNVIZ_DATA": str(photos),
        "CNNVIZ_SAVE_DIR": str(home / "saved"),
        "CNNVIZ_CACHE": str(home / "cache"),
        "CNNVIZ_ABANDONED_AFTER": "3",
    }
    log_path = home / "streamlit.log"
    with running_app(env, log_path) as (url, _):
        yield url, log_path


def open_page(browser, url: str, title: str):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.get_by_role("heading", name="How a CNN tells dogs from cats").wait_for()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    return context, page


def wait_for_log(log_path: Path, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, log_path.read_text())
        if found:
            return found
        assert time.monotonic() < deadline, f"no {pattern!r} in the server log:\n{log_path.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.mark.timeout(600)
def test_a_tab_closed_mid_epoch_gets_its_epoch_stopped_and_the_server_goes_on(server, browser):
    url, log_path = server
    context, page = open_page(browser, url, "Training")
    page.get_by_role("button", name=TRAIN_BUTTON).click()
    page.get_by_text(re.compile(r"Epoch 1: batch \d+ of 27")).first.wait_for(timeout=240_000)
    context.close()  # the tab, and its websocket, gone mid-epoch

    stopped = wait_for_log(log_path, r"stopping epoch 1: its browser session has been gone for (\d+) s", 120)
    assert int(stopped.group(1)) >= 3
    ended = wait_for_log(log_path, r"the abandoned epoch 1 has ended; the model is (.+)", 120)
    assert re.fullmatch(r"after batch \d+ of 27 of epoch 1|after epoch 1 \(all 27 batches\)", ended.group(1).strip())
    assert healthy(url)
    assert "Traceback" not in log_path.read_text()

    # The next visitor: a session of their own, free to train, with the shipped or untrained model.
    context, page = open_page(browser, url, "Training")
    train = page.get_by_role("button", name=TRAIN_BUTTON)
    train.wait_for()
    assert train.is_enabled()
    assert page.get_by_text("No epoch trained in this session yet").count() == 1
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Layer Explorer").click()
    page.get_by_text("Verdict:").first.wait_for()
    # Never the closed session's trained model: this session's own is still untrained, so the
    # explorer judges with the shipped weights.
    page.get_by_text(re.compile(r"Weights: (the shipped weights|untrained: random starting weights)")).first.wait_for()
    assert page.get_by_text("this session's own model").count() == 0
    assert page.locator(EXCEPTION).count() == 0
    context.close()


@pytest.mark.timeout(300)
def test_the_uploader_refuses_unlisted_types_and_oversized_files_itself(server, browser, tmp_path):
    """The browser's uploader says so before sending: a .heic (not in the accepted types) and
    a file over maxUploadSize (25 MB). Neither reaches the script; the page goes on."""
    url, _ = server
    heic = tmp_path / "IMG_0001.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200)
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff\xd8\xff" + bytes(26 * 2**20))
    context, page = open_page(browser, url, "Layer Explorer")
    page.get_by_text("Upload a photo", exact=True).click()
    uploader = page.locator('[data-testid="stFileUploader"]')
    chooser = uploader.locator('input[type="file"]')
    chooser.set_input_files(str(heic))
    uploader.get_by_text("image/heif files are not allowed").wait_for(timeout=30_000)
    chooser.set_input_files(str(huge))
    uploader.get_by_text("File must be 25.0MB or smaller").wait_for(timeout=30_000)
    assert page.locator(EXCEPTION).count() == 0
    assert page.get_by_text("Verdict:").count() == 0
    context.close()
