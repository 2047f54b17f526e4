"""A bookmarked page URL opened first on a freshly started server shows the app's navigation.

Streamlit takes a folder called ``pages/`` beside the entrypoint for file-based pages until
some session has run ``st.navigation``; a deep link as the very first request then drew that
file list ("app", "compare", "feedback widget", "ui", ...) in the sidebar, if only until a
rerun, and a second tab opened at the same moment kept it. The page scripts therefore live in
``app_pages/``. Each browser here records every sidebar link it ever draws, so a list shown
for a moment and replaced still fails the test.
"""

import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import AppServer, screenshot, wait_idle

pytestmark = pytest.mark.browser

APP_LINKS = {"Home", "Ask & compare", "Knowledge bases", "Fine-tune (LoRA)", "Evaluate",
             "Experiment", "Tweet emotions", "Feedback dashboard", "GPU memory"}

# Before any script of the app runs: note the title of every sidebar link as it appears.
RECORD_LINKS = """
window.__navLinksSeen = new Set();
new MutationObserver(() => {
  for (const link of document.querySelectorAll('[data-testid=stSidebarNavLink]')) {
    window.__navLinksSeen.add(link.innerText.split('\\n').pop().trim());
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture
def fresh_server(tmp_path):
    server = AppServer(tmp_path / "appdata")
    yield server
    server.stop()


def _recording_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.add_init_script(RECORD_LINKS)
    return context, pg


def _links_after_load(pg, heading: str) -> tuple[list[str], set[str]]:
    """The sidebar's link titles once ``heading`` shows and the run is over, and every link
    title the page drew since it opened."""
    pg.get_by_role("heading", name=heading).first.wait_for(timeout=90_000)
    wait_idle(pg)
    nav = pg.get_by_test_id("stSidebarNav")
    # on a timeout the assertions below say what the sidebar shows instead
    with contextlib.suppress(PlaywrightTimeout):
        nav.get_by_text("Knowledge bases", exact=True).wait_for(timeout=30_000)
    # each link reads "<material icon name>\n\n<title>": keep the title
    links = [t.split("\n")[-1].strip()
             for t in nav.get_by_test_id("stSidebarNavLink").all_inner_texts()]
    return links, set(pg.evaluate("[...window.__navLinksSeen]"))


def test_deep_link_on_fresh_server_uses_app_navigation(fresh_server, browser):
    context, pg = _recording_page(browser)
    try:
        pg.goto(f"{fresh_server.url}/compare")
        links, seen = _links_after_load(pg, "Ask & compare")
        assert set(links) == APP_LINKS, links
        # never, not even for one run, the file names of the page folder
        assert seen == APP_LINKS, sorted(seen - APP_LINKS)
        assert pg.get_by_test_id("stException").count() == 0
    finally:
        context.close()


def test_two_deep_links_at_once_on_fresh_server_both_use_app_navigation(fresh_server, browser):
    """Two tabs opening pages as the server's first two requests (a shared bookmark, a
    restored browser session): both get the app's navigation, both draw nothing else."""
    tabs = [(_recording_page(browser), path, heading)
            for path, heading in (("compare", "Ask & compare"), ("knowledge", "Knowledge bases"))]
    try:
        for (_, pg), path, _ in tabs:
            pg.goto(f"{fresh_server.url}/{path}", wait_until="commit")
        for (_, pg), path, heading in tabs:
            links, seen = _links_after_load(pg, heading)
            assert set(links) == APP_LINKS, (path, links)
            assert seen == APP_LINKS, (path, sorted(seen - APP_LINKS))
    finally:
        for (context, _), _, _ in tabs:
            context.close()


def test_load_all_models_shows_done_message_and_times(app_server, page):
    """The home page's button ends with a message naming each model's load time (the first
    load converts SmolLM2: about a minute on 2 cores)."""
    page.goto(app_server.url)
    page.get_by_role("heading", name="NLP Lab").wait_for(timeout=90_000)
    wait_idle(page)
    page.get_by_role("button", name="Load all models now").click()
    done = page.get_by_test_id("stAlertContentSuccess")
    done.wait_for(timeout=300_000)
    text = done.inner_text()
    assert text.startswith("Loaded all 4 models in "), text
    for role in ("embedder", "generator", "classifier", "emoji predictor"):
        assert f"{role} " in text, text
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "home-models-loaded")
