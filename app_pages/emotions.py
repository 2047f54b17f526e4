"""Tweet emotions: preprocessing made visible, datasets, models compared, classification.

A recipe: widgets in, ``core.emotions`` calls, charts out; wording, tables and data choices
from ``core.presenters.emotions``; state in st.session_state (``emo_``); training is a
background job (shared job panel); the comparison reads the saved models."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from app_pages._emotions_classify import classify_tab
from app_pages._job_panel import actor, job_panel, job_running, locked, start_job
from app_pages._ui import bar, shown_errors
from core import st_cache
from core.emotions import analysis, benchmark, datasets
from core.emotions.benchmark import MODEL_LABELS
from core.emotions.nltk_data import ensure_nltk_data
from core.emotions.preprocess import PreprocessConfig
from core.presenters import emotions as presenter

settings = st_cache.settings()
DATA_DIR = settings.data_dir

st.title("Tweet emotions")
st.caption("Every preprocessing step shown, classical models vs a fine-tuned transformer.")
state = st.session_state
if state.get("emo_data") is None:
    state["emo_data"] = datasets.load_demo()
    state["emo_source"] = presenter.DEMO

tab_pre, tab_data, tab_train, tab_cls = st.tabs(
    ["Preprocess", "Data", "Train & compare", "Classify"])

# --- Preprocess -----------------------------------------------------------------------------
with tab_pre:
    status = ensure_nltk_data(DATA_DIR)
    if not status.wordnet:
        st.warning(status.message)
    cols = st.columns(4)
    toggles = {}
    for i, step in enumerate(presenter.TOGGLED_STEPS):
        toggles[step] = cols[i % 4].toggle(step.replace("_", " "), value=True,
                                           key=f"emo_on_{step}",
                                           disabled=step == "lemmatize" and not status.wordnet)
    handles = cols[1].selectbox("@handles", ["remove", "placeholder", "keep"], key="emo_handles")
    keep_neg = cols[2].toggle("keep negations", value=True, key="emo_keep_neg")
    config = PreprocessConfig(handles=handles, keep_negations=keep_neg, **toggles)
    pre = st_cache.emotion_preprocessor(config, DATA_DIR)
    tweet = st.text_area("Tweet", presenter.EXAMPLE_TWEET, max_chars=2000, key="emo_tweet")
    if tweet.strip():   # plain text: links, HTML and markup in a tweet never render
        st.code(presenter.trace_with_emoji(pre, tweet, settings), language=None, wrap_lines=True)
    else:
        st.info("Type a tweet to see every step.")
    st.subheader("On the whole dataset")
    if st.button("Analyse the current dataset", key="emo_analyse"):
        with st.spinner("Preprocessing up to 3,000 tweets…"):
            state["emo_stats"] = presenter.step_stats(pre, state["emo_data"])
    stats = state.get("emo_stats")
    if stats is not None:
        bar(stats, "emo_vocab", x="step", y="vocabulary", title="Vocabulary size after each step")
        st.dataframe(stats, hide_index=True)

# --- Data -----------------------------------------------------------------------------------
with tab_data:
    include_demo = st.checkbox("Include the demo tweets (assets/tweets)", value=True,
                               key="emo_inc_demo")
    uploads = st.file_uploader(f"CSV files (UTF-8, up to {settings.max_upload_mb} MB each)",
                               type=["csv"], accept_multiple_files=True, key="emo_uploads",
                               disabled=locked("upload"))
    parts = []
    for up in uploads or []:
        with shown_errors():
            csv = presenter.read_upload(up.getvalue(), settings.max_upload_mb, up.name, actor())
            c1, c2 = st.columns(2)
            tcol = c1.selectbox(f"{up.name}: text column", csv.columns, key=f"emo_tc_{up.name}",
                                index=csv.text_index)
            lcol = c2.selectbox(f"{up.name}: label column", csv.columns,
                                key=f"emo_lc_{up.name}", index=csv.label_index(tcol))
            part, warning = csv.part(tcol, lcol)
            if warning:
                st.warning(warning)
            parts.append(part)
    if st.button("Use this data", key="emo_use_data", type="primary"):
        with shown_errors():
            merged, source = presenter.choose_data(include_demo, parts)
            state["emo_source"] = source
            state["emo_data"] = merged
            state["emo_group_map"] = {}
            st.success(presenter.loaded_message(merged))
    data = state["emo_data"]
    st.caption(presenter.describe(state.get("emo_source"), data))
    st.subheader("Emotion grouping")
    labels = sorted(set(data.labels))
    if st.button("Start from the text_emotion.csv grouping (13 labels -> 7)", key="emo_ship"):
        state["emo_group_map"] = presenter.shipped_groups(labels)
    mapping = state.get("emo_group_map") or {}
    edited = st.data_editor(presenter.group_table(labels, mapping), disabled=["label"],
                            hide_index=True, key="emo_group_edit")
    state["emo_group_map"] = presenter.group_map(edited)
    grouped = datasets.apply_groups(data, state["emo_group_map"])
    oversample = st.toggle("Random oversampling of minority classes (training split only)",
                           key="emo_os_toggle")
    c1, c2 = st.columns(2)
    bar(analysis.class_counts(data.labels), "emo_dist_raw", c1, title="Labels as loaded")
    bar(analysis.class_counts(grouped.labels), "emo_dist_grouped", c2, title="After grouping")
    if oversample:
        with shown_errors():
            bar(presenter.oversampling_counts(grouped), "emo_dist_os", color="split",
                barmode="group", title=presenter.OVERSAMPLING_TITLE)

# --- Train & compare ------------------------------------------------------------------------
with tab_train:
    chosen = st.multiselect("Models", list(MODEL_LABELS), default=list(MODEL_LABELS)[:4],
                            format_func=MODEL_LABELS.get, key="emo_models")
    c1, c2, c3 = st.columns(3)
    prefix = c1.text_input("Save as (prefix)", "page", key="emo_prefix")
    folds = c2.number_input("CV folds", 2, 10, 3, key="emo_folds")
    epochs = c3.number_input("Transformer epochs (most)", 1, 20, 6, key="emo_epochs")
    refit = c1.toggle("Refit on every row", True, key="emo_refit", help=presenter.REFIT_HELP)
    emoji = c2.toggle("Emoji-predictor features", True, key="emo_emoji", help=presenter.EMOJI_HELP)
    copies = c3.number_input("Transformer copies averaged", 1, 5, benchmark.ENSEMBLE_SIZE,
                             key="emo_ensemble", help=presenter.ENSEMBLE_HELP)
    distill = c1.toggle("Transformer learns from the TF-IDF model", True, key="emo_distill",
                        help=presenter.DISTILL_HELP)
    st.caption(presenter.training_caption(settings.classifier_model))
    if st.button("Train and compare", type="primary", key="emo_train",
                 disabled=not chosen or job_running("emo-train") or locked("train"),
                 help="Runs in the background; you can leave this page meanwhile."):
        with shown_errors():
            configs = benchmark.plan(chosen, prefix, oversample=oversample, cv_folds=folds,
                                     epochs=epochs, preprocess=config, group_map=mapping,
                                     refit=refit, emoji_features=emoji, ensemble_size=copies,
                                     distill=benchmark.DISTILL if distill else 0.0)
            datasets.check_texts(data)  # a bad text column is refused here, not in the job
            start_job("emo-train", data=data, configs=configs, data_dir=DATA_DIR,
                      settings=settings)
    job_panel("emo-train", title="Training", cancel_note=presenter.CANCEL_NOTE,
              on_done=lambda snap: state.update(emo_train_outcome=snap["result"]))
    outcome = state.get("emo_train_outcome") or {}
    for call, text in presenter.outcome_messages(outcome):
        getattr(st, call)(text)
    results = benchmark.results_table(DATA_DIR)
    if not results.empty:
        st.subheader("Saved models")
        st.dataframe(results, hide_index=True, key="emo_compare")
        bar(presenter.metrics_long(results), "emo_compare_chart", x="model", y="value",
            color="variable", barmode="group", title="Held-out test split")
        pick = st.selectbox("Confusion matrix / per-class report of", list(results["model"]),
                            key="emo_cm_pick")
        detail = presenter.model_detail(DATA_DIR, pick)
        confusion = px.imshow(detail.confusion, text_auto=True, color_continuous_scale="Blues",
                              labels={"x": "predicted", "y": "true"})
        st.plotly_chart(confusion, key="emo_cm")
        st.dataframe(detail.per_class, key="emo_per_class")
        if detail.losses is not None:
            st.plotly_chart(px.line(detail.losses, x="step", y="loss", title="Training loss"),
                            key="emo_loss_final")

# --- Classify -------------------------------------------------------------------------------
with tab_cls:
    classify_tab(settings)
