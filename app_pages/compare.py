"""Ask & compare: one question answered side by side by Base, RAG, Fine-tuned and FT + RAG.

Widgets in, core calls (core.answering; wording from core.presenters.compare), rendering out.
Fine-tuned columns answer with the picked LoRA adapter. Results live in st.session_state so
reruns keep them. Each new question renders into the other of two fixed places, both reset
first, so the previous answers and their ratings vanish the moment a question is asked.
"""

import streamlit as st

from app_pages._access import quota
from app_pages._feedback_widget import preference_widget, rating_widget, record_output_once
from app_pages._first_adapter import first_adapter_panel
from core import st_cache
from core.adapters import AdapterRegistry
from core.answering import MODES, AskContext, answer_generation, stream_answer
from core.errors import UserError
from core.finetune.first_adapter import NAME as FIRST_ADAPTER
from core.presenters import compare as presenter
from core.rag.config import DEFAULT_KB, SEARCH_MODES, RetrievalConfig, check_question
from core.rag.defaults import ensure_default_kb
from core.rag.highlight import escape_markdown, highlight_markdown

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
unbuilt = DEFAULT_KB not in kbs
kbs = [DEFAULT_KB, *kbs] if unbuilt else kbs

c1, c2, c3 = st.columns([2, 1, 1])
kb = c1.selectbox("Knowledge base", kbs, index=kbs.index(DEFAULT_KB))
search = c2.selectbox("Search", SEARCH_MODES, index=SEARCH_MODES.index("hybrid"),
                      help="vector: embeddings; fts: BM25 full text; hybrid: both, fused by RRF")
top_k = c3.slider("Top-k chunks", 1, 10, 3)
if unbuilt and kb == DEFAULT_KB:
    notice.info(presenter.DEFAULT_KB_NOTICE)
intro.caption(escape_markdown(presenter.describe_kb(kb, presenter.kb_documents(store, kb))))
first_training = first_adapter_panel("compare")
a1, a2 = st.columns([2, 2])
registry = AdapterRegistry.of(settings)
adapter_names = registry.names()
adapter = a1.selectbox("LoRA adapter (fine-tuned columns)", adapter_names,
                       index=presenter.default_adapter_index(adapter_names, FIRST_ADAPTER),
                       placeholder="none yet: train one on Fine-tune",
                       help="Adapters trained on the Fine-tune page (or from feedback).")
shown = a2.multiselect("Columns", list(presenter.LABELS), default=presenter.DEFAULT_COLUMNS,
                       format_func=presenter.LABELS.get,
                       help="Each mode is optional; the fine-tuned ones need an adapter. "
                            "'Retrieval only, no model' is the baseline every model column "
                            "should beat: the best-matching evidence passage.")

examples = st_cache.qa_examples("test") if kb == DEFAULT_KB else []
with st.container():
    if examples:
        st.caption("Example questions (test split of the QA set):")
        start = st.session_state.get("example_offset", 0)
        for i, col in enumerate(st.columns(3) * (N_EXAMPLES // 3)):  # two rows of three
            row = examples[(start + i) % len(examples)]
            col.button(row["question"], key=f"example-{i}", width="stretch",
                       on_click=st.session_state.update,  # fill in and ask
                       kwargs={"question": row["question"], "ask_now": True})
        st.button("More examples", key="more-examples", on_click=st.session_state.update,
                  kwargs={"example_offset": (start + N_EXAMPLES) % len(examples)})

st.text_area("Question", key="question", height=80,
             placeholder="e.g. Who is the head of the Stillroom calibration lab?")
asked = quota(st.button("Ask", type="primary") or st.session_state.pop("ask_now", False))
status = st.container()
places = (st.empty(), st.empty())  # a new question takes the other one: see the docstring


def _show_details(run: dict, mode: str, result: dict) -> None:
    st.caption(presenter.latency_caption(result))
    st.caption(escape_markdown(presenter.provenance_caption(result)))
    if result["sources"]:
        st.caption(presenter.sources_caption(run, result))
        st.dataframe(presenter.sources_rows(result["sources"]), column_config=SOURCE_COLUMNS,
                     hide_index=True)
        for i, src in enumerate(result["sources"], 1):
            with st.expander(f"[{i}] {src['document']} · chunk {src['chunk']}", expanded=i == 1):
                st.markdown(highlight_markdown(src["text"], result["answer"]))
    rating_widget(f"{run['id']}:{mode}", **presenter.feedback_fields(run, mode, result))


run = st.session_state.get("compare_run")
if asked:
    try:
        question = check_question(st.session_state.get("question", ""))
        retrieval = RetrievalConfig(top_k=top_k, search=search)
        if kb == DEFAULT_KB and not store.exists(DEFAULT_KB):
            bar = status.progress(0.0, "First use: building the default knowledge base…")
            ensure_default_kb(store, progress=lambda f, m: bar.progress(min(1.0, f), m))
            bar.empty()
    except UserError as exc:
        status.error(str(exc))
        st.stop()
    ctx = AskContext(st_cache.get_generator(), store, kb, retrieval, answer_generation(),
                     adapter=adapter or "", registry=registry)
    run = presenter.new_run(question, kb=kb, search=search, adapter=adapter, shown=shown,
                            previous=run)
    st.session_state["compare_run"] = run

if run:
    with places[run.get("place", 0)].container():
        st.markdown(f"**Question:** {escape_markdown(run['question'])}")
        columns = presenter.shown_columns(run)
        for (mode, label), col in zip(columns, st.columns(len(columns)), strict=True):
            with col:
                st.subheader(label)
                if not MODES[mode].generates:
                    st.caption(presenter.NO_MODEL_CAPTION)
                if MODES[mode].needs_adapter:
                    st.caption(f"adapter: {run.get('adapter') or 'none'}")
                    if not run.get("adapter"):
                        st.info(presenter.NO_ADAPTER_YET if first_training
                                else presenter.NO_ADAPTER)
                        continue
                slot = st.empty()  # the streamed text; an extractive answer replaces it
                if asked:
                    try:
                        stream = stream_answer(run["question"], mode, ctx)
                        slot.write_stream(stream)
                        run["results"][mode] = stream.result
                    except UserError as exc:
                        run["errors"][mode] = str(exc)
                if mode in run["results"] and (not asked or run["results"][mode]["extractive"]):
                    slot.markdown(escape_markdown(run["results"][mode]["answer"]) or "_(empty)_")
                if mode in run["errors"]:
                    st.error(run["errors"][mode])
                elif mode in run["results"]:
                    _show_details(run, mode, run["results"][mode])

        answered = [mode for mode, _ in presenter.COLUMNS if mode in run["results"]]  # in order
        if len(answered) >= 2:
            st.divider()
            c_a, c_b = st.columns(2)
            mode_a = c_a.selectbox("Answer A", answered, index=0, format_func=presenter.LABELS.get,
                                   key=f"pref-a-{run['id']}")
            mode_b = c_b.selectbox("Answer B", answered, index=1, format_func=presenter.LABELS.get,
                                   key=f"pref-b-{run['id']}")
            if mode_a != mode_b:
                ids = [record_output_once(f"{run['id']}:{m}",
                                          **presenter.feedback_fields(run, m, run["results"][m]))
                       for m in (mode_a, mode_b)]
                preference_widget(f"{run['id']}:{mode_a}-vs-{mode_b}", *ids)
