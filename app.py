"""NLP Lab: routes to the pages and sets shared session state. Run with `make run`."""

import uuid

import streamlit as st

from app_pages._access import sign_in_sidebar

st.set_page_config(page_title="NLP Lab", page_icon=":material/science:", layout="wide")

st.session_state.setdefault("session_id", uuid.uuid4().hex)

PAGES = {
    "Overview": [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "RAG vs fine-tuning": [
        st.Page("app_pages/compare.py", title="Ask & compare", icon=":material/compare:"),
        st.Page("app_pages/knowledge.py", title="Knowledge bases", icon=":material/library_books:"),
        st.Page("app_pages/finetune.py", title="Fine-tune (LoRA)", icon=":material/tune:"),
        st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/bar_chart:"),
        st.Page("app_pages/experiment.py", title="Experiment", icon=":material/experiment:"),
    ],
    "Classification": [
        st.Page("app_pages/emotions.py", title="Tweet emotions", icon=":material/mood:"),
    ],
    "Feedback": [
        st.Page("app_pages/feedback.py", title="Feedback dashboard",
                icon=":material/thumbs_up_down:"),
    ],
    "Infrastructure": [
        st.Page("app_pages/memory.py", title="GPU memory", icon=":material/memory:"),
    ],
}

page = st.navigation(PAGES)
sign_in_sidebar()  # demo mode: the admin sign-in below the page list (app_pages/_access.py)
page.run()
