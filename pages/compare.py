"""Ask & compare: one question answered side by side by Base, RAG, Fine-tuned and FT + RAG.

Widgets in, core calls (core.answering, core.feedback), rendering out. Columns
whose mode is not registered are shown disabled; the fine-tuned ones answer with the picked LoRA
adapter. Results live in st.session_state so reruns (e.g. a thumbs click)
keep them. Each new question renders into the other of two fixed places, and both are reset
first, so the previous answers and their ratings vanish the moment a question is asked.
"""

import uuid

import streamlit as st

from core import st_cache
from core.adapters import AdapterRegistry
from core.answering import MODES, AskContext, stream_answer
from core.errors import UserError
from core.generation import GenerationConfig
from core.rag import compare_view as view
from core.rag.config import DEFAULT_KB, SEARCH_MODES, RetrievalConfig, check_question
from core.rag.defaults import ensure_default_kb
from core.rag.highlight import escape_markdown, highlight_markdown
from pages._feedback_widget import preference_widget, rating_widget, record_output_once

N_EXAMPLES = 6
SOURCE_COLUMNS = {"#": st.column_config.NumberColumn(width=32),
                  "document": st.column_config.TextColumn(width="medium"),
                  "score": st.column_config.NumberColumn(format="%.3f", width=60),
                  "chunk": st.column_config.NumberColumn(width=48)}

st.title("Ask & compare")
intro = st.empty()  # names the chosen knowledge base, filled once it is picked
settings = st_cache.settings()

try:
    store = st_cache.get_rag_store()
    kbs = store.names()
except UserError as exc:
    st.error(str(exc))
    st.stop()
notice = st.container()  # fixed places keep the answers' position the same on every run
if DEFAULT_KB not in kbs:
    kbs = [DEFAULT_KB, *kbs]
    notice.info("The default knowledge base is built automatically with your first "
                "question (about a minute on a CPU).")

c1, c2, c3 = st.columns([2, 1, 1])
kb = c1.selectbox("Knowledge base", kbs, index=kbs.index(DEFAULT_KB) if DEFAULT_KB in kbs else 0)
search = c2.selectbox("Search", SEARCH_MODES, index=SEARCH_MODES.index("hybrid"),
                      help="vector: embeddings; fts: BM25 full text; hybrid: both, fused by RRF")
top_k = c3.slider("Top-k chunks", 1, 10, 3)
intro.caption(escape_markdown(view.describe_kb(kb, view.kb_documents(store, kb))))
a1, a2 = st.columns([2, 2])
registry = AdapterRegistry.of(settings)
adapter_names = registry.names()
adapter = a1.selectbox("LoRA adapter (fine-tuned columns)", adapter_names, index=0 if
                       adapter_names else None, placeholder="none yet: train one on Fine-tune",
                       help="Adapters trained on the Fine-tune page (or from feedback).")
MODE_NAMES = [m for m, _ in view.COLUMNS]
shown = a2.multiselect("Columns", MODE_NAMES, default=MODE_NAMES,
                       help="Each mode is optional; the fine-tuned ones need an adapter.")


def _pick(question: str) -> None:
    st.session_state["question"] = question
    st.session_state["ask_now"] = True


examples = st_cache.qa_examples("test") if kb == DEFAULT_KB else []
with st.container():
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
status = st.container()
places = (st.empty(), st.empty())  # a new question takes the other one: see the docstring


def _show_details(run: dict, mode: str, result: dict) -> None:
    st.caption(f"Latency **{result['seconds']:.2f} s** · **{result['tokens']}** tokens"
               + (f" · retrieval {result['retrieval_seconds']:.2f} s" if result["sources"] else ""))
    if result["sources"]:
        kb_name = escape_markdown(run["kb"])
        st.caption(f"Retrieved {len(result['sources'])} chunk(s) from **{kb_name}** "
                   f"({view.SCORE_HELP[run['search']]}); words shared with the answer are "
                   "highlighted."
                   + (" Context was trimmed to fit the model." if result["trimmed"] else ""))
        st.dataframe(view.sources_rows(result["sources"]), column_config=SOURCE_COLUMNS,
                     hide_index=True)
        for i, src in enumerate(result["sources"], 1):
            with st.expander(f"[{i}] {src['document']} · chunk {src['chunk']}", expanded=i == 1):
                st.markdown(highlight_markdown(src["text"], result["answer"]))
    rating_widget(f"{run['id']}:{mode}", **view.feedback_fields(run, mode, result))


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
        status.error(str(exc))
        st.stop()
    if kb == DEFAULT_KB and not store.exists(DEFAULT_KB):
        bar = status.progress(0.0, "First use: building the default knowledge base…")
        try:
            ensure_default_kb(store, progress=lambda f, m: bar.progress(min(1.0, f), m))
        except UserError as exc:
            status.error(str(exc))
            st.stop()
        bar.empty()
    ctx = AskContext(st_cache.get_generator(), store, kb, retrieval,
                     GenerationConfig(max_new_tokens=48), adapter=adapter or "",
                     registry=registry)
    run = {"id": uuid.uuid4().hex[:8], "question": question, "kb": kb, "search": search,
           "results": {}, "errors": {}, "adapter": adapter, "shown": list(shown),
           "place": 1 - run["place"] if run else 0}
    st.session_state["compare_run"] = run

if run:
    with places[run.get("place", 0)].container():
        st.markdown(f"**Question:** {escape_markdown(run['question'])}")
        columns = [(m, lbl) for m, lbl in view.COLUMNS if m in run["shown"]] or view.COLUMNS
        for (mode, label), col in zip(columns, st.columns(len(columns)), strict=True):
            with col:
                st.subheader(label)
                if mode not in MODES:
                    _disabled(mode, label)
                    continue
                if MODES[mode].needs_adapter:
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

        answered = [mode for mode, _ in view.COLUMNS if mode in run["results"]]
        if len(answered) >= 2:
            st.divider()
            pair_labels = dict(view.COLUMNS)
            c_a, c_b = st.columns(2)
            mode_a = c_a.selectbox("Answer A", answered, index=0, format_func=pair_labels.get,
                                   key=f"pref-a-{run['id']}")
            mode_b = c_b.selectbox("Answer B", answered, index=1, format_func=pair_labels.get,
                                   key=f"pref-b-{run['id']}")
            if mode_a != mode_b:
                ids = [record_output_once(f"{run['id']}:{m}",
                                          **view.feedback_fields(run, m, run["results"][m]))
                       for m in (mode_a, mode_b)]
                preference_widget(f"{run['id']}:{mode_a}-vs-{mode_b}", *ids)
