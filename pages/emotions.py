"""Tweet emotions (placeholder until issue #5 lands)."""

import streamlit as st

st.title("Tweet emotions")
st.info("Not built yet: this page arrives with issue #5.")
