"""Five browser sessions ask five different questions at the same time on Ask & compare.

Every session must get ITS OWN answers: its question stays on its page, and its Base and RAG
answers are word-for-word what the CLI handler (``python -m core ask``, same settings: hybrid
search, top-k 3, the one answer generation config: greedy, 40 new tokens, stop at a line
break) returns for that question. Greedy decoding is deterministic and the shared generator
serialises generation under its lock, so any mix-up between sessions shows as a mismatch. Then
every session rates its RAG answer and all five ratings must be in the feedback DB, each under
its own browser session id.
"""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import no_exceptions, open_page, wait_idle
from tests.browser.helpers import answer_text, column, wait_answers, words

pytestmark = pytest.mark.browser

N_SESSIONS = 5


def _cli_answer(question: str, mode: str, data_dir) -> str:
    """The ``ask`` command itself (parsed by the real CLI parser, so every option has its
    default), run in this process against the server's data dir."""
    from core.cli import build_parser
    from core.settings import load_settings

    settings = load_settings({**os.environ, "NLPLAB_DATA_DIR": str(data_dir)})
    args = build_parser().parse_args(["ask", question, "--kb", "default", "--mode", mode,
                                      "--top-k", "3", "--search", "hybrid"])
    return args.func(args, settings)["answer"]


def test_five_sessions_get_their_own_answers_and_all_ratings_are_stored(app_server, browser):
    from core.feedback.store import SQLFeedbackStore
    from core.qa import load_qa_rows
    from core.settings import Settings

    questions = [r["question"] for r in load_qa_rows(split="test")[:N_SESSIONS]]
    assert len(set(questions)) == N_SESSIONS
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000})
                for _ in range(N_SESSIONS)]
    try:
        pages = [c.new_page() for c in contexts]
        for pg in pages:
            open_page(pg, app_server.url, "Ask & compare")
        for pg, q in zip(pages, questions, strict=True):  # all five in flight together
            pg.get_by_role("button", name=q).click()
        for pg in pages:
            wait_answers(pg)
            wait_idle(pg)
            no_exceptions(pg)

        got = {}
        for pg, q in zip(pages, questions, strict=True):
            shown = (pg.get_by_test_id("stMarkdown")
                     .filter(has=pg.locator("strong", has_text="Question:")).inner_text())
            assert shown == f"Question: {q}", shown
            got[q] = {"base": answer_text(pg, "Base"), "rag": answer_text(pg, "RAG")}
        assert len({words(a["rag"]).__str__() for a in got.values()}) == N_SESSIONS

        store = SQLFeedbackStore(Settings(data_dir=app_server.data_dir).feedback_url)
        before = {r.id for r in store.list_outputs(rated_only=True)}
        for pg in pages:
            column(pg, "RAG").get_by_test_id("stFeedbackButton").first.click()
        for pg in pages:
            pg.wait_for_timeout(500)
            wait_idle(pg)
            no_exceptions(pg)
    finally:
        for c in contexts:
            c.close()

    new = [r for r in store.list_outputs(rated_only=True) if r.id not in before]
    assert sorted(r.prompt for r in new) == sorted(questions)
    assert all(r.rating == "up" and r.mode == "rag" for r in new)
    assert len({r.session_id for r in new}) == N_SESSIONS
    for r in new:
        assert words(r.output) == words(got[r.prompt]["rag"]), r.prompt

    # The reference, through the same handler as `python -m core ask`: RAG for every session,
    # Base for one (each generation costs seconds on a CPU; the RAG ones carry the facts).
    for i, q in enumerate(questions):
        for mode in ("rag", "base") if i == 0 else ("rag",):
            assert words(got[q][mode]) == words(_cli_answer(q, mode, app_server.data_dir)), \
                f"{mode} answer for {q!r} differs from the CLI's"
