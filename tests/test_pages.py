"""AppTest smoke test: every page starts from app.py and renders without an exception."""

import pytest
from streamlit.testing.v1 import AppTest

APP = "../app.py"
PAGES = ["pages/home.py", "pages/compare.py", "pages/knowledge.py", "pages/finetune.py",
         "pages/evaluate.py", "pages/emotions.py", "pages/feedback.py", "pages/memory.py"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"


def test_home_shows_device_and_three_models():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.metric[0].value == "CPU"
    table = at.dataframe[0].value
    assert list(table["role"]) == ["embedder", "generator", "classifier"]
