"""The sidebar sign-in through AppTest: a demo visitor sees destructive widgets disabled, a
wrong password is refused and slowed down, the right one makes the session admin.

AppTest runs ``app.py`` (and so the sidebar) on its first run only; later runs execute the page
script alone. The sign-in flow therefore runs in a small script (:func:`sign_in_script`: the
sidebar plus one gated button), and the pages are checked with an admin token set directly.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import access
from tests.access.conftest import Clock
from tests.rag.conftest import HashEmbedder

APP = "../../app.py"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def demo(monkeypatch, app_settings, docs_store):
    """Demo mode with a password; fresh sign-in limits on a hand-driven clock."""
    import dataclasses

    import core.st_cache as st_cache

    settings = dataclasses.replace(app_settings, mode="demo", admin_password=PASSWORD)
    clock = Clock()
    monkeypatch.setattr(st_cache, "settings", lambda: settings)
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: docs_store)
    monkeypatch.setattr(access, "ATTEMPTS", access.AttemptLimiter(clock=clock))
    monkeypatch.setattr(access, "ADMINS", access.AdminSessions(clock=clock))
    return clock


@pytest.fixture
def docs_store(app_settings):
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(app_settings, HashEmbedder(), embedder_id="hash")
    store.add_documents("kb1", [Document("a.txt", "Blue orchids need misting.", "txt")])
    return store


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in_script():
    import streamlit as st

    from app_pages._access import locked, sign_in_sidebar

    st.session_state.setdefault("session_id", "visitor-1")
    sign_in_sidebar()
    st.button("Build", disabled=locked("build"))


def start_sign_in() -> AppTest:
    at = AppTest.from_function(sign_in_script, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def build_disabled(at: AppTest) -> bool:
    return next(b for b in at.main.button if b.label == "Build").disabled


def sign_in(at: AppTest, password: str) -> None:
    at.sidebar.text_input(key="_access_password").input(password)
    next(b for b in at.sidebar.button if b.label == "Sign in as admin").click().run()
    assert not at.exception, [e.value for e in at.exception]


def knowledge_buttons(at: AppTest) -> dict[str, bool]:
    """label -> disabled, of the knowledge page's buttons."""
    at.switch_page("app_pages/knowledge.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return {b.label: b.disabled for b in at.button}


def test_a_visitor_sees_the_demo_note_and_disabled_destructive_buttons(demo):
    at = start()
    assert any("Demo mode" in c.value for c in at.sidebar.caption)
    assert at.sidebar.text_input(key="_access_password").label == "Admin password"
    buttons = knowledge_buttons(at)
    assert buttons["Build"] is True and buttons["Delete knowledge base"] is True


def test_an_admin_token_enables_the_pages_and_a_forged_one_does_not(demo):
    from app_pages._access import TOKEN_KEY

    at = start()
    at.session_state[TOKEN_KEY] = "forged-" + "x" * 40  # not granted by this process
    assert knowledge_buttons(at)["Build"] is True
    at.session_state[TOKEN_KEY] = access.ADMINS.grant()
    buttons = knowledge_buttons(at)
    assert buttons["Build"] is False
    assert buttons["Delete knowledge base"] is True  # still waits for the typed confirmation


def test_wrong_password_then_backoff_then_the_right_one_makes_the_session_admin(demo):
    at = start_sign_in()
    assert build_disabled(at)
    sign_in(at, "guess")
    assert [e.value for e in at.sidebar.error] == ["Wrong password."]
    sign_in(at, PASSWORD)  # at once: refused by the backoff before the password is checked
    assert [e.value for e in at.sidebar.error] == ["Too many sign-in attempts: try again in 1 s."]
    assert build_disabled(at)
    demo.t += 1
    sign_in(at, PASSWORD)
    assert any(c.value == "Signed in as admin." for c in at.sidebar.caption)
    assert not build_disabled(at)


def test_five_failures_lock_the_session_for_five_minutes(demo):
    at = start_sign_in()
    for n in range(5):
        sign_in(at, f"guess-{n}")
        assert [e.value for e in at.sidebar.error] == ["Wrong password."]
        demo.t += 2 ** n
    sign_in(at, PASSWORD)
    assert any("Too many sign-in attempts" in e.value for e in at.sidebar.error)
    assert build_disabled(at)
    demo.t += 300
    sign_in(at, PASSWORD)
    assert any(c.value == "Signed in as admin." for c in at.sidebar.caption)


def test_sign_out_ends_the_admin_session(demo):
    at = start_sign_in()
    sign_in(at, PASSWORD)
    assert not build_disabled(at)
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert any("Demo mode" in c.value for c in at.sidebar.caption)
    assert build_disabled(at)


def test_full_mode_shows_no_sign_in(monkeypatch, app_settings, docs_store):
    import core.st_cache as st_cache

    monkeypatch.setattr(st_cache, "settings", lambda: app_settings)
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: docs_store)
    at = start()
    assert not at.sidebar.text_input and not at.sidebar.caption
    assert knowledge_buttons(at)["Build"] is False
