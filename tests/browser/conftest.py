"""Fixtures for the end-to-end tests: Debian's headless Chromium, one per test module."""

from pathlib import Path

import pytest

from tests.appserver import LOGS
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the README's test command needs it).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A browser test that fails says what it was looking at: the page's text and the tail of
    every running server's log (CI keeps no screenshots, and a timeout alone says little)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page = item.funcargs.get("page")
    if page is not None:
        try:
            report.sections.append(("the page's text at the failure", page.locator("body").inner_text(timeout=5_000)[-3000:]))
        except Exception as error:  # the page itself may be what broke
            report.sections.append(("the page's text at the failure", f"unreadable: {error}"))
    for url, log in LOGS.items():
        report.sections.append((f"server log {url} (tail)", log.read_text(errors="replace")[-4000:]))
