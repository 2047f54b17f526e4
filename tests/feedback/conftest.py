"""Fixtures for the feedback tests: a fresh SQLite store, a real throw-away PostgreSQL server,
and a seeded dataset whose numbers the tests derive by hand.

PostgreSQL: the Debian server binaries are initdb'd into a temp folder owned by the
``postgres`` system user (initdb refuses root) and started on a free loopback port with trust
auth; the fixture skips with the reason when binaries, the user or ``psycopg`` are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from core.feedback.store import SQLFeedbackStore

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def store(tmp_path):
    s = SQLFeedbackStore(f"sqlite:///{tmp_path / 'feedback.sqlite3'}")
    yield s
    s.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="session")
def pg_url():
    """URL of a real PostgreSQL 15 started for this session (skips with the reason if it can't)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN}")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start postgres as non-root")
    root = Path(tempfile.mkdtemp(prefix="nlplab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    init = subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust",
                                        "-U", "nlplab", "--no-sync", "-E", "UTF8"]),
                          capture_output=True, text=True)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[:300]}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts,
                                         "-l", str(root / "log"), "-w", "-t", "60", "start"]),
                           capture_output=True, text=True)
    if start.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else start.stderr
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"postgres did not start: {log.strip()[-300:]}")
    url = f"postgresql+psycopg://nlplab@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                     "-w", "stop"]), capture_output=True)
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_store(pg_url):
    """A store on the session's PostgreSQL, emptied before each test."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS preferences, outputs, _migrations CASCADE")
    engine.dispose()
    s = SQLFeedbackStore(pg_url)
    yield s
    s.close()


def seed(store) -> dict[str, int]:
    """A small known dataset (see the docstrings of the tests that use it).

    Q1 "What is LoRA?": rag "Low-rank adapters." (up), base "A city." (down),
        finetuned "A radio protocol." (down); preference rag (A) vs base (B): "a".
    Q2 "What is RAG?": rag "Retrieval + generation." (up), base "A cloth." (up);
        preference rag vs base: "tie".
    Q3 "Tweet: I love it": classifier "joy" (up); Q4 "unrated": base "x" (no rating).
    """
    ids = {}
    add = store.record_output
    ids["q1_rag"] = add(session_id="s1", page="compare", mode="rag", prompt="What is LoRA?",
                        output="Low-rank adapters.", model_id="smol", rating="up",
                        retrieved_ids=["doc1#0", "doc1#3"], latency_seconds=1.5)
    ids["q1_base"] = add(session_id="s1", page="compare", mode="base", prompt="What is LoRA?",
                         output="A city.", model_id="smol", rating="down", comment="wrong")
    ids["q1_ft"] = add(session_id="s2", page="compare", mode="finetuned",
                       prompt="What is LoRA?", output="A radio protocol.", model_id="smol",
                       adapter_id="lora-v1", rating="down")
    ids["q2_rag"] = add(session_id="s2", page="compare", mode="rag", prompt="What is RAG?",
                        output="Retrieval + generation.", model_id="smol", rating="up")
    ids["q2_base"] = add(session_id="s2", page="compare", mode="base", prompt="What is RAG?",
                         output="A cloth.", model_id="smol", rating="up")
    ids["q3"] = add(session_id="s3", page="emotions", mode="classifier",
                    prompt="Tweet: I love it", output="joy", model_id="minilm", rating="up",
                    extra={"scores": {"joy": 0.9, "anger": 0.1}})
    ids["q4"] = add(session_id="s3", page="compare", mode="base", prompt="unrated",
                    output="x", model_id="smol")
    ids["p1"] = store.record_preference(ids["q1_rag"], ids["q1_base"], "a", session_id="s1")
    ids["p2"] = store.record_preference(ids["q2_rag"], ids["q2_base"], "tie", session_id="s2")
    return ids


@pytest.fixture
def folder_generator(tiny_tokenizer, tmp_path):
    """A Generator loaded the way the app loads one: a tiny Llama saved to a model folder and
    read back by :func:`core.loaders.load_causal_or_seq2seq` (private: adapters may attach)."""
    from core.generation import Generator
    from core.loaders import load_causal_or_seq2seq
    from core.settings import Settings
    from tests.tiny_models import build_tiny_llama

    folder = tmp_path / "tiny-llama"
    build_tiny_llama(tiny_tokenizer).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    model, tokenizer, seq2seq = load_causal_or_seq2seq(str(folder), Settings(device="cpu"))
    return Generator(model, tokenizer, model_id="tiny-llama", device="cpu", is_seq2seq=seq2seq)


def make_adapter(generator, settings, name: str = "app-lora") -> None:
    """Save a LoRA adapter for ``generator``'s architecture into the registry, with non-zero
    B matrices (a real adapter changes the logits; PEFT's default init would not)."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    from core.adapters import AdapterRegistry

    torch.manual_seed(1)
    donor = copy.deepcopy(generator.model)  # before any adapter is attached: a plain model
    peft_model = get_peft_model(donor, LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
        init_lora_weights=False))
    AdapterRegistry.of(settings).save(peft_model, name, {"source": "finetune"})
