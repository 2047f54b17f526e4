"""Ask & compare (placeholder until issue #3 (RAG) and #4 (fine-tuned columns) lands)."""

import streamlit as st

st.title("Ask & compare")
st.info("Not built yet: this page arrives with issue #3 (RAG) and #4 (fine-tuned columns).")
