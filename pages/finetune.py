"""Fine-tune (LoRA): train an adapter on a knowledge base, watch the loss live, manage adapters.

Widgets in, core calls (core.finetune.pipeline / adapters), charts out. Training runs in a
background job (core.jobs) held by st.cache_resource, so reruns and page switches do
not stop it and a second click cannot start a second run; a fragment polls its progress.
"""

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import st_cache
from core.errors import UserError
from core.finetune import adapters, pipeline
from core.finetune.config import DATA_MODES, LoraSettings, default_target_modules

DATA_HELP = {
    "chunks": "Unsupervised next-token training on the knowledge base's chunks (the very texts "
              "RAG retrieves), as in Ovadia et al. (2024).",
    "paraphrases": "Each chunk plus N rewordings. Offline there is no paraphrase model, so "
                   "rewordings are made either by **templates** (deterministic: sentences "
                   "reordered, restated as 'According to <doc>, …', or listed as key facts; "
                   "the words inside each sentence are unchanged) or by **the generator "
                   "itself**, prompted to reword each chunk keeping names, numbers and dates "
                   "(slow on CPU; rewordings that lose a number are discarded and replaced by "
                   "a template).",
    "qa": "Supervised question → answer pairs from the QA set's **train split only** (test "
          "questions are never trained on), formatted with the chat template; the loss "
          "covers only the answer tokens.",
}

st.title("Fine-tune (LoRA)")
st.caption("Teach the generator the knowledge base with a low-rank adapter (peft LoRA), then "
           "compare it with RAG on the Ask & compare and Evaluate pages.")
settings = st_cache.settings()
slot = st_cache.job_slot("finetune")

try:
    kbs = st_cache.get_rag_store().names()
except UserError as exc:
    st.error(str(exc))
    st.stop()
if not kbs:
    st.info("No knowledge base yet: open **Ask & compare** (it builds the default one) or "
            "build one on the **Knowledge** page.")

job = slot.job
running = job is not None and job.running

with st.form("finetune-form"):
    c1, c2 = st.columns(2)
    kb = c1.selectbox("Knowledge base", kbs, index=kbs.index("default") if "default" in kbs
                      else 0)
    name = c2.text_input("Adapter name", value="harrowmere-chunks",
                         help="a-z, 0-9, _ and -, at most 64 characters")
    data_mode = st.radio("Training data", DATA_MODES, horizontal=True,
                         format_func=lambda m: {"chunks": "Chunks", "paraphrases":
                                                "Chunks + paraphrases", "qa": "QA pairs"}[m])
    for mode in DATA_MODES:
        st.caption(f"**{mode}**: {DATA_HELP[mode]}")
    p1, p2 = st.columns(2)
    method = p1.radio("Paraphrases made by", pipeline.PARAPHRASE_METHODS, horizontal=True,
                      help="templates: instant and deterministic; generator: the model rewords "
                           "each chunk (minutes per chunk batch on CPU)")
    per_chunk = p2.number_input("Paraphrases per chunk", 1, 10, 3)
    d = LoraSettings()
    s1, s2, s3, s4 = st.columns(4)
    epochs = s1.number_input("Epochs", 1, 100, d.epochs)
    lr = s2.number_input("Learning rate", 1e-6, 1.0, d.learning_rate, format="%.5f")
    batch = s3.number_input("Batch size", 1, 256, d.batch_size)
    max_len = s4.number_input("Max length (tokens)", 16, 8192, d.max_length)
    r1, r2, r3, r4 = st.columns(4)
    rank = r1.number_input("Rank r", 1, 256, d.rank)
    alpha = r2.number_input("Alpha", 1, 1024, d.alpha)
    dropout = r3.number_input("Dropout", 0.0, 0.99, d.dropout)
    modules = r4.text_input("Target modules", "", help="comma-separated; empty = the "
                            f"architecture's default (Llama/SmolLM2: "
                            f"{', '.join(default_target_modules('llama'))}; T5: q, v)")
    overwrite = st.checkbox("Replace an adapter with the same name")
    start = st.form_submit_button("Start training", type="primary", disabled=running)

if start:
    try:
        lora = LoraSettings(rank=int(rank), alpha=int(alpha), dropout=float(dropout),
                            epochs=int(epochs), learning_rate=float(lr), batch_size=int(batch),
                            max_length=int(max_len), data_mode=data_mode,
                            paraphrases_per_chunk=int(per_chunk),
                            target_modules=tuple(m.strip() for m in modules.split(",")
                                                 if m.strip()))
        clean = adapters.sanitise_name(name)
        if not kb:
            raise UserError("choose a knowledge base")

        def work(j, kb=kb, clean=clean, lora=lora, method=method, overwrite=overwrite):
            return pipeline.run_finetune(settings, kb, clean, lora, paraphrase_method=method,
                                         overwrite=overwrite, on_step=j.step,
                                         progress=j.progress, cancel=j.cancel)

        slot.start("finetune", work)
        st.rerun()
    except UserError as exc:
        st.error(str(exc))


def loss_figure(steps: list[tuple[int, float]], title: str) -> go.Figure:
    frame = pd.DataFrame(steps, columns=["step", "loss"])
    frame["smoothed"] = frame["loss"].rolling(5, min_periods=1).mean()
    fig = go.Figure()
    fig.add_scatter(x=frame["step"], y=frame["loss"], mode="lines+markers", name="step loss",
                    opacity=0.5)
    fig.add_scatter(x=frame["step"], y=frame["smoothed"], mode="lines", name="mean of last 5")
    fig.update_layout(title=title, xaxis_title="optimiser step", yaxis_title="cross-entropy",
                      height=320, margin={"t": 40, "b": 30})
    return fig


@st.fragment(run_every="1s")
def job_panel() -> None:
    current = slot.job
    if current is None:
        return
    snap = current.snapshot()
    st.subheader("Training run")
    st.progress(snap["fraction"], snap["message"])
    if snap["steps"]:
        st.plotly_chart(loss_figure(snap["steps"], f"Loss · {snap['elapsed']:.0f} s"),
                        key=f"loss-{snap['id']}-{len(snap['steps'])}")
    if snap["running"]:
        if st.button("Cancel", disabled=snap["cancelling"], key=f"cancel-{snap['id']}"):
            current.cancel.set()
        if snap["cancelling"]:
            st.caption("Cancelling after the current step; nothing will be saved.")
        return
    if snap["error"]:
        st.error(snap["error"])
    elif snap["result"]:
        result = snap["result"]
        if result["cancelled"]:
            st.warning(f"Cancelled after {result['steps']}/{result['total_steps']} steps; "
                       "nothing was saved.")
        else:
            st.success(f"Saved adapter **{result['adapter']}**: final loss "
                       f"{result['train_loss']:.3f}, {result['steps']} steps in "
                       f"{result['train_seconds']:.0f} s "
                       f"({result['tokens_per_second']:.0f} training tokens/s).")
    if st.button("Dismiss", key=f"dismiss-{snap['id']}"):
        slot.clear()
        st.rerun()


job_panel()

st.divider()
st.subheader("Adapters")
rows = adapters.list_adapters(settings)
if not rows:
    st.caption("No adapters yet.")
else:
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    pick = st.selectbox("Inspect", [r["name"] for r in rows], key="inspect-adapter")
    if pick:
        try:
            info = adapters.inspect_adapter(settings, pick)
        except UserError as exc:
            st.error(str(exc))
        else:
            meta = info["metadata"]
            if meta.get("losses"):
                st.plotly_chart(loss_figure(list(enumerate(meta["losses"], 1)),
                                            f"Training loss of {pick}"), key=f"hist-{pick}")
            st.json({k: v for k, v in meta.items() if k != "losses"}, expanded=False)
            st.caption("Files: " + ", ".join(f"{k} ({v / 1e6:.2f} MB)"
                                             for k, v in info["files"].items()))
            st.download_button("Download metadata.json", json.dumps(meta, indent=2),
                               file_name=f"{pick}-metadata.json", mime="application/json")
            confirm = st.checkbox(f"Yes, delete {pick}", key=f"confirm-{pick}")
            if st.button("Delete adapter", disabled=not confirm, key=f"delete-{pick}"):
                adapters.delete_adapter(settings, pick)
                st.toast(f"Deleted {pick}")
                st.rerun()
