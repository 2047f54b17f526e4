"""Knowledge bases (placeholder until issue #3 lands)."""

import streamlit as st

st.title("Knowledge bases")
st.info("Not built yet: this page arrives with issue #3.")
