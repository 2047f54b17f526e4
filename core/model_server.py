"""`transformers serve MODEL_FOLDER` on a free loopback port: start, wait until healthy, stop.

A local OpenAI-compatible model server with continuous batching, for the tests of the remote
generator (tests/serve) and the load benchmark (bench/load.py); production runs vLLM or its
own `transformers serve` (docs/deployment.md). Plain Python: no pytest, no HTTP client beyond
urllib for the health check. The paged KV cache is kept small: sized from free memory, the
first request on a CPU spends ~20 s allocating it.

Example:
    >>> proc, url = start_transformers_serve(folder, Path("/tmp/serve.log"))  # doctest: +SKIP
    >>> url  # doctest: +SKIP
    'http://127.0.0.1:40213/v1'
    >>> stop(proc)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_TIMEOUT_S = 120
CB_FLAGS = ["--continuous-batching", "--cb-num-blocks", "256", "--cb-block-size", "32",
            "--cb-max-batch-tokens", "1024"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll ``url`` until it answers; RuntimeError (with the log tail) if the process exits or
    ``timeout`` seconds pass (the process is then killed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError(f"server not ready at {url} within {timeout} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def start_transformers_serve(folder: Path | str, log: Path, *, threads: int | None = None,
                             timeout: float = START_TIMEOUT_S) -> tuple[subprocess.Popen, str]:
    """``transformers serve FOLDER`` (offline, CPU, continuous batching): (process, /v1 URL)."""
    port = free_port()
    hf_home = log.parent / "hf-home"
    (hf_home / "hub").mkdir(parents=True, exist_ok=True)  # /v1/models lists this (empty) cache
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(hf_home)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    exe = Path(sys.executable).parent / "transformers"
    proc = subprocess.Popen(
        [str(exe), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port),
         "--device", "cpu", "--log-level", "warning", *CB_FLAGS],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    wait_until_up(f"http://127.0.0.1:{port}/health", proc, log, timeout)
    return proc, f"http://127.0.0.1:{port}/v1"
