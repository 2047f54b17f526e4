"""GPU memory (placeholder until issue #7 lands)."""

import streamlit as st

st.title("GPU memory")
st.info("Not built yet: this page arrives with issue #7.")
