"""A bookmarked page URL opened first on a freshly started server shows the app's navigation.

Streamlit treats a ``pages/`` folder beside the entrypoint as file-based pages until some
session has run ``st.navigation``; a deep link as the very first request used to show that
file list ("app", "compare", "feedback widget", ...) and run the page without ``app.py``.
"""

import pytest

from tests.browser.conftest import AppServer, screenshot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture
def fresh_server(tmp_path):
    server = AppServer(tmp_path / "appdata")
    yield server
    server.stop()


def test_deep_link_on_fresh_server_uses_app_navigation(fresh_server, page):
    page.goto(f"{fresh_server.url}/compare")
    page.get_by_role("heading", name="Ask & compare").first.wait_for(timeout=90_000)
    wait_idle(page)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Knowledge bases", exact=True).wait_for(timeout=30_000)
    # each link reads "<material icon name>\n\n<title>": keep the title
    links = [t.split("\n")[-1].strip()
             for t in nav.get_by_test_id("stSidebarNavLink").all_inner_texts()]
    assert "GPU memory" in links and "Ask & compare" in links, links
    assert not {"app", "compare", "feedback widget", "job panel"} & set(links), links
    assert page.get_by_test_id("stException").count() == 0


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
