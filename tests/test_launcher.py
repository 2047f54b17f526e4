"""The Streamlit launcher (core/launcher.py) shared by the browser tests and bench/app.py
(starting a real app server: tests/browser/test_launcher_browser.py)."""

from __future__ import annotations

import os
import socket

import pytest

from core.launcher import StreamlitServer, free_port


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_server_that_dies_is_reported(tmp_path):
    server = StreamlitServer(tmp_path / "missing.py", dict(os.environ), tmp_path / "s.log")
    try:
        with pytest.raises(RuntimeError, match="streamlit exited"):
            server.wait_healthy(timeout=60)
    finally:
        server.stop()

