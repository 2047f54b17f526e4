"""NLP Lab: routes to the pages and sets shared session state. Run with `make run`."""

import uuid

import streamlit as st

st.set_page_config(page_title="NLP Lab", page_icon="🔬", layout="wide")

st.session_state.setdefault("session_id", uuid.uuid4().hex)

PAGES = {
    "Overview": [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    ],
    "RAG vs fine-tuning": [
        st.Page("pages/compare.py", title="Ask & compare", icon="⚖️"),
        st.Page("pages/knowledge.py", title="Knowledge bases", icon="📚"),
        st.Page("pages/finetune.py", title="Fine-tune (LoRA)", icon="🎛️"),
        st.Page("pages/evaluate.py", title="Evaluate", icon="📊"),
    ],
    "Classification": [
        st.Page("pages/emotions.py", title="Tweet emotions", icon="💬"),
    ],
    "Feedback": [
        st.Page("pages/feedback.py", title="Feedback dashboard", icon="👍"),
    ],
    "Infrastructure": [
        st.Page("pages/memory.py", title="GPU memory", icon="🧮"),
    ],
}

st.navigation(PAGES).run()
