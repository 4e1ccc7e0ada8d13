"""A fresh server's first visitor, in Chromium, sees only the app's own pages in the sidebar
menu, from before Streamlit's first paint on, whether they open Home or a deep link."""

import pytest

from tests.appserver import running_app
from tests.browser.helpers import settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# Records the sidebar menu's link texts at every change of the page, from before Streamlit's
# first paint on: a MutationObserver's callback runs before the browser paints the change.
RECORD_MENUS = """
window.__menus = [];
new MutationObserver(() => {
  // A link's text is its material icon's name, then its title.
  const links = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')].map(a => a.innerText.trim().split('\\n').pop().trim());
  const last = window.__menus[window.__menus.length - 1];
  if (links.length && JSON.stringify(links) !== JSON.stringify(last)) window.__menus.push(links);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.mark.parametrize("path", ["", "training"])
def test_a_fresh_servers_first_visitor_sees_only_the_pages_in_the_menu(path, tmp_path, browser):
    """The first script run of a new server, the one Streamlit's folder mode would take over,
    paints only the app's own menu, whether the visitor opens Home or a deep link."""
    from cnnviz_app.common import PAGES

    env = {"CNNVIZ_SAVE_DIR": str(tmp_path / "saved"), "CNNVIZ_CACHE": str(tmp_path / "cache"), "CNNVIZ_DATA": ""}
    with running_app(env, tmp_path / "streamlit.log") as (url, _):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = context.new_page()
            page.add_init_script(RECORD_MENUS)
            page.goto(f"{url}/{path}")
            page.locator('[data-testid="stSidebarNav"] a').first.wait_for(timeout=120_000)
            settle(page)
            menus = page.evaluate("window.__menus")
        finally:
            context.close()
    assert menus, "the menu was never seen"
    assert all(menu == list(PAGES.values()) for menu in menus), menus
