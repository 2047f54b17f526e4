"""The home page in a real browser: navigation lists every page, status shows the device."""

import pytest

from tests.browser.conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

PAGE_TITLES = ["Home", "Ask & compare", "Knowledge bases", "Fine-tune (LoRA)", "Evaluate",
               "Experiment", "Tweet emotions", "Feedback dashboard", "GPU memory"]


def test_home_page_renders_status_and_navigation(app_server, page):
    page.goto(app_server.url)
    page.get_by_role("heading", name="NLP Lab").wait_for(timeout=60_000)
    wait_idle(page)
    nav = page.get_by_test_id("stSidebarNav")
    for title in PAGE_TITLES:
        assert nav.get_by_text(title, exact=True).is_visible(), title
    assert page.get_by_text("System status").is_visible()
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "CPU"
    screenshot(page, "home")


def test_every_page_opens_without_an_exception(app_server, page):
    page.goto(app_server.url)
    page.get_by_role("heading", name="NLP Lab").wait_for(timeout=60_000)
    for title in PAGE_TITLES[1:]:
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        wait_idle(page)
        assert page.get_by_test_id("stException").count() == 0, title
