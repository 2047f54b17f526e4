"""Fine-tune (LoRA): train an adapter on a knowledge base, watch the loss live, manage adapters.

Widgets in, core calls (core.finetune.duration, core.adapters), charts out. The settings are
plain widgets (no form, so Enter never starts a run), seeded from the last run started. Before
starting: the step count, how the settings give it, and the time from throughput measured
here; the plan is computed once per knowledge base and recipe (st_cache.finetune_plan), not on
every rerun. Training runs in a background job (one per server, core.jobs) shown by the shared
job panel; a cancelled run offers to keep or discard what it trained. Settings and wording
live in core.presenters.finetune.
"""

import streamlit as st

from app_pages._adapters import adapters_section
from app_pages._job_panel import actor, job_panel, job_running, locked, start_job
from app_pages._ui import kb_names
from core import st_cache
from core.errors import UserError
from core.finetune import duration
from core.finetune.config import DATA_MODE_HELP, DATA_MODE_LABELS, DATA_MODES
from core.finetune.pipeline import PARAPHRASE_METHODS
from core.presenters import finetune as presenter
from core.training.lora import default_targets, generator_architecture

st.title("Fine-tune (LoRA)")
st.caption("Teach the generator the knowledge base with a low-rank adapter (peft LoRA), then "
           "compare it with RAG on the Ask & compare and Evaluate pages.")
settings = st_cache.settings()
ss = st.session_state

kbs = kb_names(required=False)
running = job_running("finetune") or locked("train")  # or a demo visitor

presenter.seed_state(ss, settings, kbs)

c1, c2 = st.columns(2)
c1.selectbox("Knowledge base", kbs, key="ft_kb")
c2.text_input("Adapter name", key="ft_name", help="a-z, 0-9, _ and -, at most 64 characters; "
              "follows the knowledge base and training data until you type your own")
docs = []
kb_error = ""
try:  # a base built with another embedder cannot be read: say so, do not crash
    if kbs:
        docs = [d["document"] for d in st_cache.get_rag_store().documents(ss.ft_kb)]
except UserError as exc:
    kb_error = str(exc)
    st.error(kb_error)
ss.ft_documents = [d for d in ss.ft_documents if d in docs]
st.multiselect("Documents to train on (empty = all)", docs, key="ft_documents", help="a few "
               "documents train in minutes on a CPU; evaluate with the same documents")
st.radio("Training data", DATA_MODES, horizontal=True, key="ft_data_mode",
         format_func=DATA_MODE_LABELS.get)
st.caption(DATA_MODE_HELP[ss.ft_data_mode])
p1, p2 = st.columns(2)
p1.radio("Paraphrases made by", PARAPHRASE_METHODS, horizontal=True, key="ft_paraphrase_method",
         help="templates: instant and deterministic; generator: the model rewords each chunk "
              "(minutes per chunk batch on CPU)")
p2.number_input("Paraphrases per chunk", 1, 10, key="ft_paraphrases_per_chunk")
s0, s1, s2, s3, s4 = st.columns(5)
s0.number_input("Time budget (min)", 0.25, 1440.0, key="ft_minutes", help="used when epochs "
                "is 0: as many epochs as fit, from the speed measured at the start")
s1.number_input("Epochs (0 = budget)", 0, 100, key="ft_epochs", help="passes over the rows")
s2.number_input("Learning rate", 1e-6, 1.0, key="ft_learning_rate", format="%.5f")
s3.number_input("Batch size", 1, 256, key="ft_batch_size", help="windows per optimiser step")
s4.number_input("Max length (tokens)", 16, 8192, key="ft_max_length",
                help="longer texts are cut into windows of this many tokens: smaller means "
                     "more windows, more steps")
r1, r2, r3, r4 = st.columns(4)
r1.number_input("Rank r", 1, 256, key="ft_rank")
r2.number_input("Alpha", 1, 1024, key="ft_alpha")
r3.number_input("Dropout", 0.0, 0.99, key="ft_dropout")
arch = generator_architecture(settings) or "the generator (known once converted)"
targets = ", ".join(default_targets(arch)) or "?"
r4.text_input("Target modules", key="ft_target_modules",
              help=f"comma-separated; empty = peft's default for {arch}: {targets}")
st.checkbox("Replace an adapter with the same name", key="ft_overwrite")
values = presenter.from_state(ss)
if name_error := presenter.name_problem(values.name):
    st.error(name_error)

with st.container(border=True):
    try:
        lora = values.lora()
        version = st_cache.get_rag_store().table(values.kb).version
        key = presenter.plan_key(settings, version, values, lora)
        plan = st_cache.finetune_plan(settings, values.kb, lora, set(values.documents) or None, key)
    except UserError as exc:
        st.warning(str(exc))
    else:
        st.markdown(plan.explain(lora))
        timing = presenter.time_estimate(plan)
        if timing is not None:
            st.markdown(timing)
        else:
            st.caption("No training speed measured on this machine yet, so no time estimate.")
            if st.button("Measure speed (trains one example on a copy of the model)",
                         disabled=running or not kbs or bool(kb_error)):
                with st.spinner("Measuring one training micro-batch…"):
                    duration.measure_throughput(settings, values.kb, lora, actor=actor())
                st.rerun()
        if note := presenter.plan_note(values):
            st.caption(note)

if st.button("Start training", type="primary",
             disabled=running or not kbs or bool(name_error or kb_error)):
    try:
        params = values.job_params(settings)
        presenter.save_form(settings, values)  # a reload shows the settings of the last run
        ss.pop("ft_result", None)
        start_job("finetune", **params)
    except UserError as exc:
        st.error(str(exc))

job_panel("finetune", title="Training run",
          on_done=lambda snap: ss.update(ft_result=snap["result"]),
          cancel_note="Stops after the current micro-batch; then choose to keep or discard "
                      "what was trained.")
if result := ss.get("ft_result"):
    for level, message in presenter.run_messages(result):
        getattr(st, level)(message)
    partial = result.get("partial")
    if presenter.can_keep(result):
        k1, k2 = st.columns(2)
        keep = k1.button(f"Keep it as {partial.name} (marked partial)", key="ft-keep")
        if k2.button("Discard it", key="ft-discard") or keep:
            try:
                if keep:
                    partial.save(settings)
                else:
                    partial.discard()
            except UserError as exc:
                st.error(str(exc))
            else:
                ss.pop("ft_result")
                st.rerun()

st.divider()
adapters_section(settings)
