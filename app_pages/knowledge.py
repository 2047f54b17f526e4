"""Knowledge bases: list, create (default documents or uploads), inspect, add, delete.

Widgets in, core.rag.store / ingest calls, tables out. Uploads are read in memory, checked
(type, size limit, binary, empty, PDF text layer, CSV column) and never executed or unpickled.
Builds run as a background job (core.jobs, one per session; the body is core.rag.builds) shown
by the shared job panel: the page stays responsive, a second click joins the running build,
and the result is still shown after navigating away and back.
"""

import streamlit as st

from app_pages._job_panel import actor, job_panel, job_running, locked, start_job
from app_pages._ui import shown_errors
from core import st_cache
from core.errors import UserError
from core.presenters import knowledge as presenter
from core.rag import builds
from core.rag.config import ChunkingConfig, check_kb_name
from core.rag.highlight import escape_markdown

st.title("Knowledge bases")
st.caption("Each knowledge base is one LanceDB table: chunks, their embeddings and a full-text "
           "index. Re-adding an unchanged document does nothing; a changed one is replaced.")
settings = st_cache.settings()
limit_mb = settings.max_upload_mb

try:
    store = st_cache.get_rag_store()
    summaries = builds.summaries(store)
except UserError as exc:
    st.error(str(exc))
    st.stop()

if summaries:
    st.dataframe(summaries, hide_index=True)
else:
    st.info("No knowledge base yet: create one below (the default one takes about a minute).")

flash = st.session_state.pop("kb_flash", None)
if flash:
    st.success(flash)
for message in st.session_state.pop("kb_skipped", []):
    st.warning(f"Skipped: {message}")


create, inspect = st.tabs(["Create or add", "Inspect and delete"])

with create:
    names = store.names()
    target = st.text_input("Knowledge base name", value=presenter.suggested_name(names),
                           help=presenter.NAME_HELP)
    source = st.radio("Documents", presenter.SOURCES, horizontal=True)
    uploading = source == presenter.SOURCES[0]
    files, text_column = None, "text"
    if uploading:
        files = st.file_uploader(f"Files (.txt .md .pdf .csv .jsonl, up to {limit_mb} MB each)",
                                 type=presenter.UPLOAD_TYPES, accept_multiple_files=True,
                                 disabled=locked("upload"))
        text_column = st.text_input("Text column (CSV / JSONL)", value="text")
    with st.expander("Chunking"):
        size = st.number_input("Chunk size (characters)", 100, 8000, 700, step=50)
        overlap = st.number_input("Overlap (characters)", 0, 4000, 120, step=20)
    if st.button("Build", type="primary", disabled=job_running("kb-build") or locked("build"),
                 help="A build runs in the background; you can leave this page meanwhile."):
        try:
            kb = check_kb_name(target.strip())
            chunking = ChunkingConfig(chunk_size=int(size), chunk_overlap=int(overlap))
            docs, skipped = builds.read_documents(files, defaults=not uploading,
                                                  text_column=text_column, max_mb=limit_mb,
                                                  actor=actor())
            st.session_state["kb_skipped"] = skipped
            if not docs:
                raise UserError(builds.NO_DOCUMENTS)
            st.session_state.pop("kb_built", None)
            start_job("kb-build", store=store, kb=kb, docs=docs, chunking=chunking)  # reruns
        except UserError as exc:
            for message in st.session_state.pop("kb_skipped", []):
                st.warning(f"Skipped: {message}")
            st.error(str(exc))

    job_panel("kb-build", label="Building", error_prefix="Build failed: ", show_loss=False,
              on_done=lambda snap: st.session_state.update(kb_built=snap["result"]),
              cancel_note="Stops after the current batch of chunks; nothing is written.")
    if built := st.session_state.get("kb_built"):
        st.success(built)

with inspect:
    names = store.names()
    if not names:
        st.info("Nothing to inspect yet.")
    else:
        kb = st.selectbox("Knowledge base", names, key="inspect-kb")
        summary = store.summary(kb)
        m1, m2, m3 = st.columns(3)
        m1.metric("Documents", summary["documents"])
        m2.metric("Chunks", summary["chunks"])
        m3.metric("Version", summary["version"])
        st.caption("Indexes: " + (", ".join(summary["indices"]) or "none"))
        documents = store.documents(kb)
        st.dataframe(documents, hide_index=True)
        doc_names = [d["document"] for d in documents]
        doc = None
        if doc_names:
            doc = st.selectbox("Document", doc_names, key="inspect-doc")
        if doc:
            for chunk in store.sample_chunks(kb, document=doc, limit=3):
                with st.expander(f"chunk {chunk['position']}"):
                    st.markdown(escape_markdown(chunk["text"]))
            sure = st.checkbox(f"Yes, delete {escape_markdown(doc)} from {escape_markdown(kb)}",
                               key=f"confirm-doc:{kb}:{doc}")  # a new document asks again
            if st.button(f"Delete document {escape_markdown(doc)}", key="delete-doc",
                         disabled=not sure or locked("delete")):
                try:
                    n = store.delete_document(kb, doc, actor=actor())
                    st.session_state["kb_flash"] = presenter.deleted_document_message(doc, n, kb)
                    st.rerun()
                except UserError as exc:
                    st.error(str(exc))
        st.divider()
        confirm = st.text_input(f"Type {kb} to confirm deleting the whole base",
                                key="confirm-delete")
        if st.button("Delete knowledge base", key="delete-kb",
                     disabled=confirm != kb or locked("delete")):
            with shown_errors():
                store.delete_kb(kb, actor=actor())
                st.session_state["kb_flash"] = presenter.deleted_kb_message(kb)
                st.rerun()
