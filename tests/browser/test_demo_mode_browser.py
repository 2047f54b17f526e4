"""Demo mode in a real browser: a visitor reaches no destructive action on any page; after the
sidebar's password sign-in, the admin does, and the admin's CSV export holds a formula-looking
prompt as inert text.

The server runs with ``NLPLAB_MODE=demo`` and a password, over a data directory seeded with a
knowledge base, an adapter folder, a saved evaluation run and a rated answer whose prompt looks
like a spreadsheet formula, so the delete and export widgets are on the pages. Every page of
the sidebar is walked (radio choices that reveal an uploader or a button included) and every
button whose label names a destructive action, and every file uploader, must be disabled for
the visitor. Each click waits for the script run it causes (:func:`rerun_until`), never for a
fixed time: on a loaded machine a run can start seconds after the click.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.browser.conftest import AppServer, no_exceptions, open_page, rerun_until, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "demo-admin-pw"
FORMULA = '=HYPERLINK("http://evil.example","x")'
WAIT = 180_000  # ms; generous: the 2-core CI box is shared with training runs
PAGES = {  # sidebar title -> {radio option to pick: text that only this choice shows}
    "Home": {}, "Ask & compare": {}, "Knowledge bases": {}, "Fine-tune (LoRA)": {},
    "Evaluate": {"Upload a JSONL file": "QA file (JSONL"}, "Experiment": {}, "Tweet emotions": {},
    "Feedback dashboard": {},
    "GPU memory": {"Upload config.json": "config.json (max", "App's models": "Measure real memory"},
}
DESTRUCTIVE = re.compile(r"^(Build|Delete|Start training|Measure|Run evaluation|Learn from "
                         r"feedback|Compare before|Train and compare|Keep it|Discard|"
                         r"(CSV|JSONL|KTO|DPO) \(\d+ rows\))")
BUTTONS = ("[data-testid=stButton] button, [data-testid=stDownloadButton] button, "
           "[data-testid=stFormSubmitButton] button")
#: What only the admin role unlocks here (other delete buttons also wait for a confirmation).
ADMIN_ONLY = ("Knowledge bases: Build", "Knowledge bases: uploader  0",
              "Fine-tune (LoRA): Start training",
              "Fine-tune (LoRA): Measure speed (trains one example on a copy of the model)",
              "Evaluate: Delete the first selected run", "Evaluate: uploader Upload a JSONL file 0",
              "Tweet emotions: Train and compare", "Feedback dashboard: CSV (1 rows)",
              "Feedback dashboard: JSONL (1 rows)", "GPU memory: uploader Upload config.json 0",
              "GPU memory: Measure real memory")


def seed(data_dir) -> None:
    from core.evaluation import runner
    from core.feedback.store import open_store
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore
    from core.settings import Settings
    from tests.rag.conftest import DOCS, HashEmbedder

    settings = Settings(data_dir=data_dir, device="cpu")
    store = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model)
    store.add_documents("kb1", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    adapter = data_dir / "adapters" / "orbis-v1"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (adapter / "metadata.json").write_text(json.dumps({"name": "orbis-v1", "kb": "kb1"}))
    runner.save_run(settings, {"id": "20260101-000000-seed01", "created_at": "2026-01-01T00:00:00",
                               "n": 1, "modes": ["base"], "kb": "kb1", "adapter": None,
                               "qa_file": "seed.jsonl", "cancelled": False, "rows": [],
                               "aggregates": {"base": {"exact_match": 1.0, "f1": 1.0}}})
    fb = open_store(settings)
    fb.record_output(session_id="s", page="compare", mode="rag", rating="down",
                     prompt=FORMULA, output="an answer")
    fb.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo") / "appdata"
    seed(data_dir)
    server = AppServer(data_dir, {"NLPLAB_MODE": "demo", "NLPLAB_ADMIN_PASSWORD": PASSWORD})
    yield server
    server.stop()


def nav_titles(pg) -> list[str]:
    """The page titles of the sidebar navigation, in order (material icon names left out)."""
    return pg.get_by_test_id("stSidebarNavLink").evaluate_all(
        "links => links.map(a => { const c = a.cloneNode(true);"
        " c.querySelectorAll('[data-testid=stIconMaterial]').forEach(i => i.remove());"
        " return c.textContent.trim(); })")


def walk(pg, url: str, title: str, *, reload: bool = True) -> dict[str, bool]:
    """Open ``title``, pick each radio choice in ``PAGES``; returns {widget label: enabled under
    any choice} of every destructive button and file uploader seen. ``reload=False`` follows the
    sidebar link in the same session (a reload starts a new session: signed out again)."""
    if reload:
        open_page(pg, url, title, timeout=WAIT)
    else:
        rerun_until(pg, pg.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click,
                    pg.get_by_role("heading", name="NLP Lab" if title == "Home" else title).first,
                    WAIT)
    main = pg.get_by_test_id("stMain")
    found: dict[str, bool] = {}
    for option, shows in [(None, None), *PAGES[title].items()]:
        if option is not None:
            rerun_until(pg, pg.get_by_test_id("stRadio").get_by_text(option, exact=True).click,
                        main.get_by_text(shows).first, WAIT)
        no_exceptions(pg)
        seen = {}
        for button in main.locator(BUTTONS).all():
            if DESTRUCTIVE.match(label := button.inner_text().strip()):
                seen[f"{title}: {label}"] = button.is_enabled()
        for i, upload in enumerate(main.get_by_test_id("stFileUploader").all()):
            seen[f"{title}: uploader {option or ''} {i}"] = upload.locator(
                "input[type=file]").is_enabled()
        for label, enabled in seen.items():
            found[label] = found.get(label, False) or enabled
    return found


def sign_in(pg, password: str, shows: str) -> None:
    """Submit the sidebar form; wait until ``shows`` (the run's answer) is drawn and idle."""
    sidebar = pg.get_by_test_id("stSidebar")
    sidebar.get_by_label("Admin password").fill(password)
    rerun_until(pg, sidebar.get_by_role("button", name="Sign in as admin").click,
                sidebar.get_by_text(shows, exact=True), WAIT)


def download(pg, label: str) -> str:
    """Click the download button ``label`` (on the visible tab) and return the file's text."""
    with pg.expect_download(timeout=WAIT) as info:
        pg.get_by_test_id("stMain").get_by_role("button", name=label).click()
    return info.value.path().read_text(encoding="utf-8")


def test_a_visitor_reaches_no_destructive_action_and_an_admin_does(demo_server, page, browser):
    url = demo_server.url
    open_page(page, url, "Home", timeout=WAIT)
    assert nav_titles(page) == list(PAGES)  # every page of app.py's navigation is walked
    seen: dict[str, bool] = {}
    for title in PAGES:
        seen.update(walk(page, url, title))
    enabled = sorted(label for label, on in seen.items() if on)
    assert not enabled, f"a demo visitor can reach: {enabled}"
    assert set(ADMIN_ONLY) <= set(seen), sorted(set(ADMIN_ONLY) - set(seen))
    assert sum("uploader" in label for label in seen) >= 4  # KB, evaluate, emotions, memory
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_text("Demo mode:").is_visible()
    screenshot(page, "demo-visitor")

    # Another visitor's wrong password is refused; it does not slow this session's sign-in.
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        guesser = other.new_page()
        open_page(guesser, url, "Home", timeout=WAIT)
        sign_in(guesser, "wrong password", shows="Wrong password.")
        assert not guesser.get_by_text("Signed in as admin.").count()
    finally:
        other.close()

    sign_in(page, PASSWORD, shows="Signed in as admin.")
    admin: dict[str, bool] = {}
    for title in PAGES:
        admin.update(walk(page, url, title, reload=False))
    locked_for_admin = sorted(label for label in ADMIN_ONLY if not admin.get(label))
    assert not locked_for_admin, f"the admin cannot reach: {locked_for_admin}"
    screenshot(page, "demo-admin")

    # The admin's exports: the formula-looking prompt is inert text in the CSV, raw in JSONL.
    rerun_until(page, page.get_by_test_id("stSidebarNav").get_by_text(
        "Feedback dashboard", exact=True).click, page.get_by_role("tab", name="Export"), WAIT)
    page.get_by_role("tab", name="Export").click()
    rows = list(csv.DictReader(io.StringIO(download(page, "CSV (1 rows)"))))
    assert [row["prompt"] for row in rows] == ["'" + FORMULA]
    assert not [c for row in rows for c in row.values() if c.startswith(("=", "+", "@"))]
    jsonl = [json.loads(line) for line in download(page, "JSONL (1 rows)").splitlines()]
    assert [r["prompt"] for r in jsonl] == [FORMULA]
