"""The Streamlit launcher (core/launcher.py) starting a real app server: healthy, then stopped.

Browser tier: it starts ``streamlit run`` like every browser test (the launcher's quick unit
tests are in ``tests/test_launcher.py``).
"""

from __future__ import annotations

import os

import pytest

from core.launcher import StreamlitServer

pytestmark = pytest.mark.browser


def test_a_hello_app_gets_healthy_and_stops(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import streamlit as st\nst.write('hello')\n")
    server = StreamlitServer(script, dict(os.environ), tmp_path / "s.log")
    try:
        assert 0 < server.wait_healthy(timeout=120) < 120
    finally:
        server.stop()
    assert server.proc.poll() is not None
