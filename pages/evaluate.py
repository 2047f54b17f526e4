"""Evaluate (placeholder until issue #4 lands)."""

import streamlit as st

st.title("Evaluate")
st.info("Not built yet: this page arrives with issue #4.")
