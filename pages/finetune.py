"""Fine-tune (LoRA) (placeholder until issue #4 lands)."""

import streamlit as st

st.title("Fine-tune (LoRA)")
st.info("Not built yet: this page arrives with issue #4.")
