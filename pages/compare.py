"""Ask & compare: one question answered side by side by Base, RAG, Fine-tuned and FT + RAG.

Widgets in, core calls (core.rag.answer / retrieve, core.feedback), rendering out. Columns
whose mode is not registered are shown disabled; the fine-tuned ones answer with the picked LoRA
adapter (core.finetune.modes). Results live in st.session_state so reruns (e.g. a thumbs click)
keep them.
"""

import uuid

import streamlit as st

from core import st_cache
from core.errors import UserError
from core.finetune.adapters import list_adapters
from core.finetune.modes import FINETUNED_MODES, FinetuneAskContext
from core.generation import GenerationConfig
from core.rag.answer import MODES, stream_answer
from core.rag.config import DEFAULT_KB, SEARCH_MODES, RetrievalConfig, check_question
from core.rag.defaults import ensure_default_kb
from core.rag.highlight import escape_markdown, highlight_markdown
from pages._feedback_widget import preference_widget, rating_widget, record_output_once

SCORE_HELP = {"vector": "score = cosine similarity", "fts": "score = BM25",
              "hybrid": "score = RRF, the sum of 1/(60 + rank) over both searches"}
COLUMNS = [("base", "Base"), ("rag", "RAG"), ("finetuned", "Fine-tuned"),
           ("finetuned+rag", "Fine-tuned + RAG")]
N_EXAMPLES = 6

st.title("Ask & compare")
st.caption("The same question to the model alone and with retrieved context. The default "
           "knowledge base describes a fictional company, so the base model cannot know it.")
settings = st_cache.settings()

try:
    store = st_cache.get_rag_store()
    kbs = store.names()
except UserError as exc:
    st.error(str(exc))
    st.stop()
if DEFAULT_KB not in kbs:
    kbs = [DEFAULT_KB, *kbs]
    st.info("The default knowledge base is built automatically with your first question "
            "(about a minute on a CPU).")

c1, c2, c3 = st.columns([2, 1, 1])
kb = c1.selectbox("Knowledge base", kbs, index=kbs.index(DEFAULT_KB) if DEFAULT_KB in kbs else 0)
search = c2.selectbox("Search", SEARCH_MODES, index=SEARCH_MODES.index("hybrid"),
                      help="vector: embeddings; fts: BM25 full text; hybrid: both, fused by RRF")
top_k = c3.slider("Top-k chunks", 1, 10, 3)
a1, a2 = st.columns([2, 2])
adapter_names = [a["name"] for a in list_adapters(settings)]
adapter = a1.selectbox("LoRA adapter (fine-tuned columns)", adapter_names, index=0 if
                       adapter_names else None, placeholder="none yet: train one on Fine-tune",
                       help="Adapters trained on the Fine-tune page (or from feedback).")
shown = a2.multiselect("Columns", [m for m, _ in COLUMNS], default=[m for m, _ in COLUMNS],
                       help="Each mode is optional; the fine-tuned ones need an adapter.")


def _pick(question: str) -> None:
    st.session_state["question"] = question
    st.session_state["ask_now"] = True


examples = st_cache.qa_examples("test") if kb == DEFAULT_KB else []
if examples:
    st.caption("Example questions (test split of the QA set):")
    start = st.session_state.get("example_offset", 0)
    ex_cols = st.columns(3)
    for i in range(N_EXAMPLES):
        row = examples[(start + i) % len(examples)]
        ex_cols[i % 3].button(row["question"], key=f"example-{i}", on_click=_pick,
                              args=(row["question"],), width="stretch")
    if st.button("More examples", key="more-examples"):
        st.session_state["example_offset"] = (start + N_EXAMPLES) % len(examples)
        st.rerun()

st.text_area("Question", key="question", height=80,
             placeholder="e.g. Who is the head of the Stillroom calibration lab?")
asked = st.button("Ask", type="primary") or st.session_state.pop("ask_now", False)


def _feedback_fields(run: dict, mode: str, result: dict) -> dict:
    """What the feedback store keeps for one answer (see core.feedback.store.record_output)."""
    return {"page": "compare", "mode": mode, "prompt": run["question"],
            "output": result["answer"], "model_id": result["model"],
            "adapter_id": run.get("adapter") if mode.startswith("finetuned") else None,
            "retrieved_ids": result["chunk_ids"],
            "latency_seconds": result["seconds"],
            "extra": {"kb": run["kb"], "search": run["search"], "run_id": run["id"]}}


def _show_details(run: dict, mode: str, result: dict) -> None:
    st.caption(f"Latency **{result['seconds']:.2f} s** · **{result['tokens']}** tokens"
               + (f" · retrieval {result['retrieval_seconds']:.2f} s" if result["sources"] else ""))
    if result["sources"]:
        kb_name = escape_markdown(run["kb"])
        st.caption(f"Retrieved {len(result['sources'])} chunk(s) from **{kb_name}** "
                   f"({SCORE_HELP[run['search']]}); words shared with the answer are "
                   "highlighted."
                   + (" Context was trimmed to fit the model." if result["trimmed"] else ""))
        for i, src in enumerate(result["sources"], 1):
            with st.expander(f"[{i}] {src['document']} · chunk {src['chunk']} · "
                             f"score {src['score']:.3f}", expanded=i == 1):
                st.markdown(highlight_markdown(src["text"], result["answer"]))
    rating_widget(f"{run['id']}:{mode}", **_feedback_fields(run, mode, result))


def _disabled(mode: str, label: str) -> None:
    st.text_area(label, value="", placeholder="arrives with the fine-tuning issue",
                 disabled=True, key=f"disabled-{mode}", label_visibility="collapsed")
    st.caption("arrives with the fine-tuning issue")


run = st.session_state.get("compare_run")
if asked:
    try:
        question = check_question(st.session_state.get("question", ""))
        retrieval = RetrievalConfig(top_k=top_k, search=search)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    if kb == DEFAULT_KB and not store.exists(DEFAULT_KB):
        bar = st.progress(0.0, "First use: building the default knowledge base…")
        try:
            ensure_default_kb(store, progress=lambda f, m: bar.progress(min(1.0, f), m))
        except UserError as exc:
            st.error(str(exc))
            st.stop()
        bar.empty()
    ctx = FinetuneAskContext(st_cache.get_generator(), store, kb, retrieval,
                             GenerationConfig(max_new_tokens=48), adapter=adapter or "",
                             settings=settings)
    run = {"id": uuid.uuid4().hex[:8], "question": question, "kb": kb, "search": search,
           "results": {}, "errors": {}, "adapter": adapter, "shown": list(shown)}
    st.session_state["compare_run"] = run

if run:
    st.markdown(f"**Question:** {escape_markdown(run['question'])}")
    columns = [(m, lbl) for m, lbl in COLUMNS if m in run.get("shown", shown)] or COLUMNS
    for (mode, label), col in zip(columns, st.columns(len(columns)), strict=True):
        with col:
            st.subheader(label)
            if mode not in MODES:
                _disabled(mode, label)
                continue
            if mode in FINETUNED_MODES:
                st.caption(f"adapter: {run.get('adapter') or 'none'}")
                if not run.get("adapter"):
                    st.info("No adapter: train one on the Fine-tune page, then pick it above.")
                    continue
            if asked:
                try:
                    stream = stream_answer(run["question"], mode, ctx)
                    st.write_stream(stream)
                    run["results"][mode] = stream.result
                except UserError as exc:
                    run["errors"][mode] = str(exc)
            elif mode in run["results"]:
                st.markdown(escape_markdown(run["results"][mode]["answer"]) or "_(empty)_")
            if mode in run["errors"]:
                st.error(run["errors"][mode])
            elif mode in run["results"]:
                _show_details(run, mode, run["results"][mode])

    answered = [mode for mode, _ in COLUMNS if mode in run["results"]]
    if len(answered) >= 2:
        st.divider()
        pair_labels = dict(COLUMNS)
        c_a, c_b = st.columns(2)
        mode_a = c_a.selectbox("Answer A", answered, index=0, format_func=pair_labels.get,
                               key=f"pref-a-{run['id']}")
        mode_b = c_b.selectbox("Answer B", answered, index=1, format_func=pair_labels.get,
                               key=f"pref-b-{run['id']}")
        if mode_a != mode_b:
            ids = [record_output_once(f"{run['id']}:{m}",
                                      **_feedback_fields(run, m, run["results"][m]))
                   for m in (mode_a, mode_b)]
            preference_widget(f"{run['id']}:{mode_a}-vs-{mode_b}", *ids)
