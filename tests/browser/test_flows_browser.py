"""Main flows end to end in Chromium against `streamlit run app.py` with the REAL default models.

Ask & compare: an example question gets Base and RAG answers (the RAG one correct, sources
listed), a thumbs-up is counted on the Feedback dashboard. Tweet emotions: the preprocessing
steps of an emoji/handle/URL tweet, then train the quickest classical model on the demo tweets
through the page and classify. GPU memory: the estimator for a 7B catalog model. Hostile user
text shows as literal text. A full-page screenshot of every page goes to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.emotions.benchmark import MODEL_LABELS
from tests.browser.conftest import no_exceptions, open_page, screenshot, wait_idle
from tests.browser.helpers import answer_text, column, wait_answers, words

pytestmark = pytest.mark.browser

QUESTION = "How far is Gannet Skerry from Skellwick Haven?"  # second test-split example


def _feedback_rows(data_dir):
    from core.feedback.store import SQLFeedbackStore
    from core.settings import Settings

    return SQLFeedbackStore(Settings(data_dir=data_dir).feedback_url).list_outputs()


def _metrics(page) -> dict[str, str]:
    """{label: value} of every st.metric on the page."""
    pairs = (m.inner_text().split("\n", 1) for m in page.get_by_test_id("stMetric").all())
    return {label.strip(): value.strip().split("\n")[0] for label, value in pairs}


def test_compare_base_and_rag_answers_with_sources(app_server, page):
    from core.qa import load_qa_rows
    from core.rag.defaults import is_correct

    open_page(page, app_server.url, "Ask & compare")
    page.get_by_role("button", name=QUESTION).click()
    wait_answers(page)
    wait_idle(page)
    no_exceptions(page)
    assert page.get_by_text(f"Question: {QUESTION}").is_visible()
    base, rag = answer_text(page, "Base"), answer_text(page, "RAG")
    assert base and rag and words(base) != words(rag)
    gold = next(r for r in load_qa_rows(split="test") if r["question"] == QUESTION)
    assert is_correct(rag, gold), f"RAG answer {rag!r} lacks {gold['answer']!r}"
    sources = column(page, "RAG").get_by_test_id("stExpander")
    assert sources.count() == 3  # top-k default
    labels = [s.locator("summary").inner_text() for s in sources.all()]
    assert all(f"[{i}] " in lab and " · chunk " in lab for i, lab in enumerate(labels, 1))
    assert column(page, "Base").get_by_test_id("stExpander").count() == 0
    screenshot(page, "compare")


def _compare_uses_feedback_store() -> bool:
    from tests.browser.conftest import REPO

    return "rating_widget" in (REPO / "app_pages" / "compare.py").read_text(encoding="utf-8")


def test_thumbs_up_is_stored_and_counted_on_dashboard(app_server, page):
    if not _compare_uses_feedback_store():
        pytest.skip("app_pages/compare.py still writes ratings to JSONL (core.rag.ratings); the "
                    "feedback-store wiring has not landed")
    open_page(page, app_server.url, "Ask & compare")
    page.get_by_role("button", name=QUESTION).click()
    wait_answers(page)
    wait_idle(page)
    rag = answer_text(page, "RAG")
    before = len([r for r in _feedback_rows(app_server.data_dir) if r.rating == "up"])
    column(page, "RAG").get_by_test_id("stFeedbackButton").first.click()  # thumbs up
    page.wait_for_timeout(1500)
    wait_idle(page)
    no_exceptions(page)
    rows = [r for r in _feedback_rows(app_server.data_dir) if r.rating == "up"]
    assert len(rows) == before + 1, "the thumbs-up was not stored in the feedback DB"
    assert rows[-1].prompt == QUESTION and rows[-1].mode == "rag"
    assert words(rows[-1].output) == words(rag)

    open_page(page, app_server.url, "Feedback dashboard")
    no_exceptions(page)
    metrics = _metrics(page)
    rated = [r for r in _feedback_rows(app_server.data_dir) if r.rating is not None]
    assert int(metrics["Rated"]) == len(rated) >= 1
    screenshot(page, "feedback")


def test_emotions_preprocess_train_and_classify(app_server, page):
    open_page(page, app_server.url, "Tweet emotions")
    tweet = "@anna_b OMG the concert was AMAZING 😍🔥 #bestnight http://t.co/abc"
    box = page.get_by_role("textbox", name="Tweet", exact=True)
    box.fill(tweet)
    box.press("Tab")  # a text area commits on blur
    page.get_by_test_id("stCode").filter(has_text="input: @anna_b OMG").wait_for(timeout=60_000)
    page.get_by_text("tokens out:").filter(has_text="bestnight").wait_for()  # last step drawn
    wait_idle(page)
    no_exceptions(page)
    text = page.get_by_test_id("stMain").inner_text()
    for step, removed in [("urls", "http://t.co/abc"), ("handles", "@anna_b"),
                          ("hashtags", "#bestnight"), ("emoji", "😍🔥")]:
        assert re.search(rf"\d+\. {step}: .*\n\s*removed: {re.escape(removed)}", text), step
    assert "smiling face with heart eyes fire" in text  # emoji turned into words, not dropped
    out = text.split("tokens out:")[1].splitlines()[0]
    assert "concert" in out and "fire" in out and "anna_b" not in out and "t.co" not in out
    screenshot(page, "emotions")

    page.get_by_role("tab", name="Train & compare").click()
    models = page.get_by_test_id("stMultiSelect")
    for label in (MODEL_LABELS[m] for m in ("random_forest", "linear_svc", "stacking")):
        models.get_by_role("button", name=f"Remove {label}").click()
        wait_idle(page)
    page.get_by_role("button", name="Train and compare").click()
    page.locator("[data-testid='stPlotlyChart']:visible", has_text="Held-out").first.wait_for(
        timeout=480_000)
    wait_idle(page, 480_000)
    no_exceptions(page)
    screenshot(page, "emotions-train")

    page.get_by_role("tab", name="Classify").click()
    page.get_by_role("button", name="Classify", exact=True).click()
    metric = page.get_by_test_id("stMetric").filter(has_text="Emotion")
    metric.wait_for(timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    from core.emotions.models_store import list_models, load_model

    assert list_models(app_server.data_dir) == ["page-logreg"]
    model = load_model("page-logreg", app_server.data_dir)
    expected = model.classify(["ugh my flight got cancelled AGAIN 😤 @airline"])[0]["label"]
    assert metric.get_by_test_id("stMetricValue").inner_text().strip() == expected
    assert page.get_by_test_id("stPlotlyChart").last.is_visible()
    screenshot(page, "emotions-classify")


def test_memory_estimate_for_a_7b_catalog_model(app_server, page):
    from core.memory.config_input import describe
    from core.memory.estimate import GIB, EstimateConfig, estimate
    from core.memory.params import count_params

    open_page(page, app_server.url, "GPU memory")
    no_exceptions(page)
    page.get_by_role("heading", name="mistralai/Mistral-7B-v0.1 · inference · fp16").wait_for()
    page.get_by_test_id("stMetric").filter(has_text="Largest batch").wait_for()  # last metric
    wait_idle(page)
    desc = describe("mistralai/Mistral-7B-v0.1")
    pc = count_params(desc.config)
    est = estimate(desc.config, EstimateConfig(dtype="fp16", mode="inference", batch=1,
                                               seq=2048), pc)
    expect(page.get_by_test_id("stMetric").filter(has_text="Total")).to_contain_text(
        f"{est.total / GIB:.2f} GiB")
    metrics = _metrics(page)
    assert metrics["Parameters"] == f"{pc.total / 1e9:.3f} B"
    assert pc.total / 1e9 == pytest.approx(7.24, abs=0.01)  # Mistral-7B: 7,241,732,096
    assert metrics["Total"] == f"{est.total / GIB:.2f} GiB"
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # stack + precisions
    expect(page.get_by_test_id("stDataFrame")).to_have_count(3)  # components, formulas, GPUs
    screenshot(page, "memory")


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script> and <b>x</b> @h #t",
                                     "<img src=x onerror=alert(2)> **not bold**"])
def test_user_text_with_html_shows_as_literal_text(app_server, page, hostile):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, app_server.url, "Tweet emotions")
    box = page.get_by_role("textbox", name="Tweet", exact=True)
    box.fill(hostile)
    box.press("Tab")
    shown = page.get_by_test_id("stCode").filter(has_text=f"input: {hostile}")
    shown.wait_for(timeout=60_000)  # the trace is plain text: shown, never rendered
    wait_idle(page)
    no_exceptions(page)
    main = page.get_by_test_id("stMain")
    for tag in ("script", "b", "img", "strong"):
        assert main.locator(f"[data-testid='stCode'] {tag}").count() == 0, tag
    assert main.locator("[data-testid='stMarkdown'] script").count() == 0
    assert main.locator("[data-testid='stMarkdown'] b").count() == 0
    assert main.locator("[data-testid='stMarkdown'] img").count() == 0
    assert main.locator("[data-testid='stMarkdown'] strong", has_text="not bold").count() == 0
    assert dialogs == []


def test_other_pages_screenshots(app_server, page):
    """Pages without a flow of their own here still get their README screenshot."""
    for title, name in [("Knowledge bases", "knowledge"), ("Feedback dashboard", "feedback"),
                        ("Fine-tune (LoRA)", "finetune"), ("Evaluate", "evaluate")]:
        open_page(page, app_server.url, title)
        no_exceptions(page)
        screenshot(page, name)
