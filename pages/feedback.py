"""Feedback dashboard (placeholder until issue #6 lands)."""

import streamlit as st

st.title("Feedback dashboard")
st.info("Not built yet: this page arrives with issue #6.")
