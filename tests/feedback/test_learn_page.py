"""The "Learn from feedback" button on the dashboard, end to end on a tiny Llama: the shared
generator already carries an adapter (as after the compare page's fine-tuned mode), and
learning still trains, reports through the shared job panel, and saves a new adapter."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.adapters import AdapterRegistry
from core.feedback.store import open_store
from core.jobs import REGISTRY
from tests.feedback.conftest import make_adapter, seed


@pytest.fixture
def ready_store(app_settings):
    """The seed (6 rated: 4 up, 2 down) plus 2 thumbs-down: 8 ratings, enough for KTO."""
    store = open_store(app_settings)
    seed(store)
    for i in range(2):
        store.record_output(session_id="s", page="compare", mode="base", prompt=f"x{i}",
                            output="meh", rating="down")
    yield store
    store.close()


def test_learn_button_trains_after_an_adapter_was_loaded(ready_store, app_settings,
                                                         folder_generator, monkeypatch):
    make_adapter(folder_generator, app_settings, "app-lora")
    shared = folder_generator.load_adapter("app-lora", AdapterRegistry.of(app_settings))
    monkeypatch.setattr("core.st_cache.get_generator", lambda: folder_generator)
    at = AppTest.from_file("../../app.py", default_timeout=120)
    at.run()
    at.switch_page("app_pages/feedback.py").run()
    assert "Ready: KTO on 8 examples" in at.info[0].value
    at.text_input(key="fb_learn_name").set_value("fb-page")
    at.number_input(key="fb_learn_steps").set_value(2)
    at.button(key="fb_learn_go").click().run()
    assert not at.exception, [e.value for e in at.exception]

    job = REGISTRY.get("fb-learn", session=at.session_state["session_id"])
    assert job.wait(300)
    at.run()  # the panel sees the finished job, keeps the result and reruns the page
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert "Adapter 'fb-page' saved: KTO, 8 examples" in at.success[0].value
    assert [r["step"] for r in job.snapshot()["result"].losses] == [1, 2]
    assert {a["name"] for a in AdapterRegistry.of(app_settings).list()} == {"app-lora", "fb-page"}
    assert list(shared.peft_config) == ["app-lora"]  # the live model kept only its adapter
