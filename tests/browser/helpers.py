"""Helpers for the end-to-end tests in Debian's headless Chromium: where Chromium and the
screenshots are, waiting for Streamlit to settle, screenshots at two sizes, and the sidebar."""

import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = [(1280, 720), (1920, 1080)]
EXCEPTION = '[data-testid="stException"]'


def settle(page, seconds: float = 0.5, timeout: float = 120) -> None:
    """Wait until Streamlit's script has stayed finished for a moment (a rerun may follow a rerun)."""
    idle = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            raise AssertionError("the app kept running its script")
        quiet = quiet + 1 if idle.count() == 1 else 0
        page.wait_for_timeout(250)
    page.wait_for_timeout(int(seconds * 1000))


def screenshots(page, name: str, scroll_to=None) -> None:
    """The viewport at each size; `scroll_to` goes to the top of the screen, as a presenter would scroll."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(1200)  # plotly and images re-lay out on resize
        if scroll_to is not None:
            scroll_to.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"))
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})


def no_exception(page) -> None:
    boxes = page.locator(EXCEPTION)
    assert boxes.count() == 0, boxes.first.inner_text()


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    settle(page)
