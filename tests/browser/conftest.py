"""Real-browser fixtures: the app served by `streamlit run` on a free port, Debian's Chromium.

The server gets its own data directory (shared model cache) and is stopped after the session.
Screenshots go to ``test-artifacts/screenshots`` (git-ignored) for the README and CI logs.
Tests skip with a reason when Chromium is not installed (``make test`` installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.launcher import CHROMIUM, CHROMIUM_ARGS, REPO, StreamlitServer

ARTIFACTS = REPO / "test-artifacts" / "screenshots"


class AppServer(StreamlitServer):
    """The app (``app.py``) with its own data directory, started and already healthy."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None):
        self.data_dir = data_dir
        env = {**os.environ, "NLPLAB_DATA_DIR": str(data_dir), **(extra_env or {})}
        super().__init__(REPO / "app.py", env, data_dir.parent / "streamlit.log")
        self.wait_healthy()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("browser") / "appdata")
    yield server
    server.stop()


def tiny_model_server(tmp_path_factory, tiny_generator, name: str,
                      env: dict[str, str] | None = None) -> AppServer:
    """The app answering with a tiny random Llama saved to a temp folder: answers and training
    take seconds, so a browser test can walk a long path (the embedder stays the real one).
    ``env`` adds settings (``{"NLPLAB_FIRST_ADAPTER": "1"}``)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_generator.model.save_pretrained(folder)
    tiny_generator.tokenizer.save_pretrained(folder)
    return AppServer(tmp_path_factory.mktemp(name) / "appdata",
                     {"NLPLAB_GENERATOR_MODEL": str(folder), **(env or {})})


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed (make test installs it: apt-get install "
                    "chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(pg, name: str, max_height: int = 6000) -> Path:
    """Save the whole page: Streamlit scrolls inside ``stMain``, so the viewport is grown to
    the content's height first (``full_page`` alone would cut at the window)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = pg.viewport_size or {"width": 1400, "height": 1000}
    height = pg.evaluate("() => Math.max(...[...document.querySelectorAll("
                         "'[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
                         ".map(e => e.scrollHeight), document.body.scrollHeight)")
    pg.set_viewport_size({"width": size["width"],
                          "height": max(size["height"], min(int(height) + 40, max_height))})
    pg.wait_for_timeout(800)  # let canvas-drawn tables and charts paint
    pg.screenshot(path=str(path), full_page=True)
    pg.set_viewport_size(size)
    return path


def wait_idle(pg, timeout: float = 120_000) -> None:
    """Wait until the script run is over (the app root's ``data-test-script-state``).

    Streamlit marks ``[data-testid=stApp]`` with ``running`` / ``notRunning``; a short pause
    first lets a click's rerun start before we look.
    """
    pg.wait_for_timeout(300)
    pg.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                         state="attached", timeout=timeout)


def rerun_until(pg, action, shows, timeout: float = 180_000) -> None:
    """Do ``action`` (a click) and wait until the script run it causes is over.

    ``shows`` is a locator that only that run draws (the uploader a radio choice reveals, a
    confirmation). Once it is visible the run has begun: the server sends "running" before
    the run's first element and the browser applies messages in order, so the ``notRunning``
    state that follows means this run is over. :func:`wait_idle`'s fixed pause guesses
    instead, and on a loaded machine a click's run can start after it: the page is then read
    as it was before the click.
    """
    action()
    shows.wait_for(state="visible", timeout=timeout)
    pg.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                         state="attached", timeout=timeout)


def open_page(pg, url: str, title: str, timeout: float = 90_000) -> None:
    """Load the app at its root, then follow the sidebar link to ``title``.

    Going through the root (not a deep link) is what users do, and it makes the first run on a
    fresh server build the ``st.navigation`` sidebar before the page is shown.
    """
    pg.goto(url)
    pg.get_by_role("heading", name="NLP Lab").wait_for(timeout=timeout)
    if title != "Home":
        pg.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        pg.get_by_role("heading", name=title).first.wait_for(timeout=timeout)
    wait_idle(pg, timeout)


def no_exceptions(pg) -> None:
    """Fail with the exception text when the page shows a Streamlit exception box."""
    boxes = pg.get_by_test_id("stException")
    assert boxes.count() == 0, boxes.first.inner_text()


__all__ = ["AppServer", "no_exceptions", "open_page", "rerun_until", "screenshot",
           "tiny_model_server", "wait_idle"]
