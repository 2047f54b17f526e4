"""The Tweet emotions page's Classify tab: one tweet or a CSV batch with any saved model.

Widgets and rendering only (the rest is :mod:`core.presenters.emotions`); every prediction takes
a rating through the shared feedback widgets. The leading underscore keeps this module out of
the page list.
"""

from __future__ import annotations

import streamlit as st

from app_pages._access import actor, locked
from app_pages._feedback_widget import batch_ratings_editor, rating_widget
from app_pages._ui import bar, shown_errors
from core import st_cache
from core.emotions import models_store
from core.feedback.export import safe_csv
from core.presenters import emotions as presenter


def classify_tab(settings) -> None:
    """Render the tab for the models saved under ``settings.data_dir``."""
    state = st.session_state
    data_dir = settings.data_dir
    saved = models_store.list_models(data_dir)
    if not saved:
        st.info("No trained model yet: train one in 'Train & compare' (or with "
                "`python -m core emotions train`).")
    else:
        name = st.selectbox("Model", saved, key="emo_cls_model")
        model = st_cache.emotion_model(data_dir, name, presenter.model_stamp(data_dir, name))
        text = st.text_area("Tweet to classify", presenter.CLASSIFY_EXAMPLE, max_chars=2000,
                            key="emo_cls_text")
        if st.button("Classify", type="primary", key="emo_cls_go"):
            with shown_errors():
                state["emo_pred"] = presenter.classify_one(model, name, text)
        if pred := state.get("emo_pred"):
            st.metric("Emotion", pred["label"])
            bar(presenter.scores_frame(pred["scores"]), "emo_pred_chart", x="probability",
                y="emotion", orientation="h")
            st.text(f"Preprocessed: {pred['clean']}")
            rating_widget(f"emo:{pred['id']}", **presenter.prediction_rating_fields(pred))
        st.subheader("Batch (CSV)")
        up = st.file_uploader("CSV with a text column", type=["csv"], key="emo_batch",
                              disabled=locked("upload"))
        if up is not None:
            with shown_errors():
                csv = presenter.read_upload(up.getvalue(), settings.max_upload_mb, up.name,
                                            actor=actor())
                col = st.selectbox("Text column", csv.columns, key="emo_batch_col",
                                   index=csv.text_index)
                if st.button("Classify all", key="emo_batch_go"):
                    state["emo_batch_out"] = presenter.classify_table(model, csv.frame, col)
                    state["emo_batch_text"] = col  # the prompt of each rating
        if state.get("emo_batch_out") is not None:
            df, skipped = state["emo_batch_out"]
            if skipped:
                st.warning(f"{skipped} empty rows skipped")
            text_col = state.get("emo_batch_text")
            def fields(i):
                return presenter.row_rating_fields(df, i, text_col, name, model.labels)

            batch_ratings_editor("emo_batch", df, fields)
            st.download_button("Download predictions (CSV)", safe_csv(df),
                               "emotion_predictions.csv", "text/csv", key="emo_download")
