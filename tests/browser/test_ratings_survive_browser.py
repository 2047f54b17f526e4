"""A thumbs-up stays stored while the user leaves the page, reloads it and opens a second tab.

The server answers with a tiny random Llama saved to a temp folder (NLPLAB_GENERATOR_MODEL),
so the question is answered in seconds; what matters is the rating row in the feedback
database, read directly after every step.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import no_exceptions, open_page, tiny_model_server, wait_idle
from tests.browser.helpers import column, wait_answers

pytestmark = pytest.mark.browser

QUESTION = "In which town is Harrowmere Tide Instruments based?"  # an example button


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory, tiny_generator):
    server = tiny_model_server(tmp_path_factory, tiny_generator, "ratings")
    yield server
    server.stop()


def _ratings(server) -> dict[str, str | None]:
    from core.feedback.store import SQLFeedbackStore
    from core.settings import Settings

    store = SQLFeedbackStore(Settings(data_dir=server.data_dir).feedback_url)
    try:
        return {r.mode: r.rating for r in store.list_outputs()}
    finally:
        store.close()


def test_thumbs_up_survives_navigation_reload_and_a_second_tab(tiny_server, page):
    open_page(page, tiny_server.url, "Ask & compare")
    page.get_by_role("button", name=QUESTION).click()
    wait_answers(page)
    wait_idle(page)
    column(page, "RAG").get_by_test_id("stFeedbackButton").first.click()  # thumbs up
    page.wait_for_timeout(1000)
    wait_idle(page)
    no_exceptions(page)
    assert _ratings(tiny_server) == {"base": None, "rag": "up"}

    for step in ("away and back", "reload", "second tab"):
        if step == "away and back":
            page.get_by_test_id("stSidebarNav").get_by_text("Home", exact=True).click()
            page.get_by_role("heading", name="NLP Lab").wait_for(timeout=60_000)
            wait_idle(page)
            page.get_by_test_id("stSidebarNav").get_by_text("Ask & compare", exact=True).click()
            page.get_by_role("heading", name="Ask & compare").first.wait_for(timeout=60_000)
            wait_idle(page)
            no_exceptions(page)
            # the answers are still on screen and the thumb shows the saved rating
            page.wait_for_timeout(1000)
            assert _ratings(tiny_server) == {"base": None, "rag": "up"}, step
            thumb = column(page, "RAG").get_by_role("radio", name="Thumbs up")
            assert thumb.get_attribute("aria-checked") == "true", step
        elif step == "reload":
            page.reload()
            wait_idle(page, 90_000)
            no_exceptions(page)
        else:
            other = page.context.new_page()
            open_page(other, tiny_server.url, "Ask & compare")
            no_exceptions(other)
            other.close()
        page.wait_for_timeout(1000)  # any stray write would have landed by now
        assert _ratings(tiny_server) == {"base": None, "rag": "up"}, step
