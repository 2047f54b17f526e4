"""Servers the tests start: `transformers serve` on a tiny model, a stub, and an S3 emulator.

* ``tiny_model_folder``: a ~3M-parameter Llama built from a config with SmolLM2's real
  tokenizer and chat template (read from the packaged GGUF, no download), saved to a temp folder.
* ``model_server``: ``transformers serve FOLDER --continuous-batching`` on a free port
  (:mod:`core.model_server`: readiness wait on ``/health``, hard start-up timeout); stopped
  when the session ends.
* ``stub_server``: a tiny local HTTP server whose replies a test scripts (errors, slow answers,
  vLLM-style model lists and log-probabilities), recording each request it got.
* ``s3_server``: ``moto`` in server mode on a free port, with a fresh bucket per test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.model_server import (
    START_TIMEOUT_S,
    free_port,
    start_transformers_serve,
    stop,
    wait_until_up,
)
from tests.tiny_models import save_tiny_model, smollm2_tokenizer


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory) -> Path:
    """The suite's tiny Llama (:mod:`tests.tiny_models`) sized to SmolLM2's vocabulary, with
    room for chat prompts (1,024 positions) and no pad token (SmolLM2's config has none)."""
    folder = tmp_path_factory.mktemp("tiny-served-llama")
    return save_tiny_model(folder, smollm2_tokenizer(), max_position_embeddings=1024,
                           pad_token_id=None)


@pytest.fixture(scope="session")
def model_server(tiny_model_folder, tmp_path_factory):
    """(base URL, served model name) of `transformers serve` running the tiny model."""
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    proc, url = start_transformers_serve(tiny_model_folder, log, threads=1)
    yield url, str(tiny_model_folder)
    stop(proc)


@pytest.fixture
def served_settings(app_settings, model_server, tiny_model_folder):
    """Settings pointing the generator at the test server (local copy: the same folder)."""
    from dataclasses import replace

    url, name = model_server
    return replace(app_settings, generator_url=url, generator_served_model=name,
                   generator_model=str(tiny_model_folder), generator_timeout=60.0,
                   generator_max_retries=0)


# -- a scripted stub server, for the error cases and vLLM-only features ----------------------
class Stub:
    """Replies by path: ``routes[path] = (status, body_dict, delay_s)`` or a callable(body)."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.requests: list[tuple[str, dict]] = []
        self.url = ""


def _handler(stub: Stub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _reply(self, body: dict | None):
            path = self.path.split("?")[0]
            stub.requests.append((path, body or {}))
            route = stub.routes.get(path, (404, {"error": {"message": f"no route {path}"}}, 0))
            if callable(route):
                route = route(body or {})
            status, payload, delay = route
            if delay:
                time.sleep(delay)
            if isinstance(payload, bytes):  # raw SSE bytes; the connection is then closed
                self.send_response(status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                self.close_connection = True
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._reply(None)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            self._reply(json.loads(self.rfile.read(n) or b"{}"))

    return Handler


@pytest.fixture
def stub_server():
    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield stub
    server.shutdown()
    server.server_close()


# -- S3 emulator -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """``moto`` in server mode on a free port; its endpoint URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto-log") / "moto.log"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=log.open("w"), stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    wait_until_up(f"{endpoint}/moto-api/", proc, log, START_TIMEOUT_S)
    yield endpoint
    stop(proc)


@pytest.fixture
def s3_settings(app_settings, s3_endpoint, request):
    """Settings whose LanceDB lives in a fresh bucket on the emulator."""
    from dataclasses import replace

    import pyarrow.fs as pafs

    bucket = "kb-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    fs = pafs.S3FileSystem(access_key="testing", secret_key="testing", region="us-east-1",
                           endpoint_override=s3_endpoint, scheme="http",
                           allow_bucket_creation=True)
    fs.create_dir(bucket)
    return replace(app_settings, lancedb_uri=f"s3://{bucket}/lancedb",
                   lancedb_endpoint=s3_endpoint, lancedb_key_id="testing",
                   lancedb_secret="testing", lancedb_region="us-east-1",
                   lancedb_allow_http=True)
