"""A first visit while the server trains the first-start adapter: Home and Ask & compare say
so, and the fine-tuned columns say it is still training (AppTest)."""

from __future__ import annotations

import threading

import pytest

from core import jobs
from core.finetune import first_adapter
from core.presenters import compare
from tests import job_bodies
from tests.rag.test_pages import open_page, pages_env

__all__ = ["pages_env"]


@pytest.fixture
def first_start_running(monkeypatch):
    """The app's registry runs a first-start job that waits until the test ends."""
    release = threading.Event()
    monkeypatch.setattr(job_bodies, "run", lambda job, **p: release.wait(30))
    registry = job_bodies.registry()
    monkeypatch.setattr(jobs, "REGISTRY", registry)
    job = registry.start("finetune", name=first_adapter.NAME)
    monkeypatch.setitem(first_adapter._started, "job", job.id)
    yield job
    release.set()
    job.wait(10)


def test_a_first_visit_is_told_the_adapter_is_training(pages_env, first_start_running):
    for page in ("app_pages/compare.py", "app_pages/home.py"):
        at = open_page(page)
        assert not at.exception, [e.value for e in at.exception]
        assert any("in the background" in i.value and first_adapter.NAME in i.value
                   for i in at.info), page
    at = open_page("app_pages/compare.py")
    at.text_area(key="question").set_value("When was the oven built?")
    next(b for b in at.button if b.label == "Ask").click().run()
    assert any(i.value == compare.NO_ADAPTER_YET for i in at.info)
