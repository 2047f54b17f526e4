"""`streamlit run SCRIPT` on a free loopback port, and the Chromium launch flags.

Shared by the browser tests (tests/browser/conftest.py) and the start-up benchmark
(bench/app.py). Plain Python: no streamlit import (the server is a subprocess), no pytest, no
Playwright. It starts, waits for ``/_stcore/health`` and stops a server; it does not drive a
browser.

Example:
    >>> server = StreamlitServer(REPO / "app.py", dict(os.environ), Path("/tmp/s.log"))
    >>> server.wait_healthy()  # seconds since Popen  # doctest: +SKIP
    0.57
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core.settings import REPO_ROOT

REPO = REPO_ROOT
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """A ``streamlit run`` process; ``started`` is the ``perf_counter`` time of its Popen."""

    def __init__(self, script: Path, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 120) -> float:
        """Poll the health endpoint until it answers ``ok``; return seconds since Popen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; "
                                   f"see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.url} not healthy after {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
