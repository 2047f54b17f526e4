"""Hiding widgets is not enough: every core entry point a page calls for an admin action
refuses a demo visitor (PermissionDenied) before it changes anything, and lets an admin through.
A call that passes no actor follows the process: refused in demo mode, the operator in the CLI.
"""

from __future__ import annotations

import json
import threading

import pytest

from core import access
from core.access import PermissionDenied, QuotaExceeded
from core.jobs import KINDS
from tests.access.conftest import ADMIN, VISITOR
from tests.job_bodies import registry
from tests.rag.conftest import HashEmbedder

CSV = b"text,label\nhappy day,joy\nsad day,sadness\n"
QA = b'{"question": "Q?", "answer": "A", "split": "test"}\n'
CONFIG = json.dumps({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000,
                     "max_position_embeddings": 128}).encode()


class Upload:
    def __init__(self, name: str, data: bytes):
        self.name, self._data, self.size = name, data, len(data)

    def getvalue(self) -> bytes:
        return self._data

    def read(self, *_):
        return self._data


@pytest.fixture
def kb_store(app_settings, docs):
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(app_settings, HashEmbedder(), embedder_id="hash")
    store.add_documents("kb1", docs)
    return store


@pytest.fixture
def docs():
    from core.rag.ingest import Document
    from tests.rag.conftest import DOCS

    return [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()]


def test_knowledge_base_deletes_refuse_a_visitor_and_change_nothing(kb_store):
    before = kb_store.summary("kb1")
    with pytest.raises(PermissionDenied, match="Deleting knowledge bases"):
        kb_store.delete_document("kb1", "orchids.md", actor=VISITOR)
    with pytest.raises(PermissionDenied):
        kb_store.delete_kb("kb1", actor=VISITOR)
    assert kb_store.summary("kb1") == before
    assert kb_store.delete_document("kb1", "orchids.md", actor=ADMIN) > 0
    kb_store.delete_kb("kb1", actor=ADMIN)
    assert "kb1" not in kb_store.names()


def test_adapter_delete_refuses_a_visitor(app_settings):
    from core.adapters import AdapterRegistry

    registry = AdapterRegistry.of(app_settings)
    folder = registry.path("orbis-v1")
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    with pytest.raises(PermissionDenied):
        registry.delete("orbis-v1", actor=VISITOR)
    assert registry.exists("orbis-v1")
    registry.delete("orbis-v1", actor=ADMIN)
    assert not folder.exists()


def test_saved_evaluation_run_delete_refuses_a_visitor(app_settings, mode):
    from core.evaluation import runner

    runner.save_run(app_settings, {"id": "run-1", "aggregates": {}, "rows": []})
    with pytest.raises(PermissionDenied, match="Deleting"):
        runner.delete_run(app_settings, "run-1", actor=VISITOR)
    mode("demo")
    with pytest.raises(PermissionDenied):  # a page that forgets the actor is refused too
        runner.delete_run(app_settings, "run-1")
    assert runner.load_run(app_settings, "run-1")["id"] == "run-1"
    runner.delete_run(app_settings, "run-1", actor=ADMIN)
    assert runner.list_runs(app_settings) == []


def test_feedback_export_refuses_a_visitor():
    from core.feedback.export import render

    with pytest.raises(PermissionDenied, match="Exporting stored feedback"):
        render("jsonl", [], [], actor=VISITOR)
    assert render("jsonl", [], [], actor=ADMIN) == b""


def _uploads():
    """(label, call taking an actor) for every upload parser a page uses."""
    from core.memory.config_input import from_upload
    from core.presenters.emotions import read_upload
    from core.presenters.evaluate import upload_items
    from core.rag.builds import read_documents

    return [
        ("emotions CSV", lambda a: read_upload(CSV, 5, "t.csv", actor=a)),
        ("QA file", lambda a: upload_items(QA, "qa.jsonl", 5, "test", actor=a)),
        ("config.json", lambda a: from_upload(CONFIG, "config.json", 1.0, actor=a)),
        ("documents", lambda a: read_documents([Upload("a.txt", b"Plain text.")],
                                               defaults=False, text_column="text", max_mb=5,
                                               actor=a)),
    ]


@pytest.mark.parametrize("index", range(4))
def test_every_upload_parser_refuses_a_visitor(index):
    label, call = _uploads()[index]
    with pytest.raises(PermissionDenied, match="Uploading files"):
        call(VISITOR)
    assert call(ADMIN), label  # the admin's upload parses


def test_the_default_documents_need_no_upload_right():
    from core.rag.builds import read_documents

    docs, skipped = read_documents(None, defaults=True, text_column="text", max_mb=5,
                                   actor=VISITOR)
    assert docs and skipped == []


def _must_not_run(*args, **kwargs):
    raise AssertionError("the work ran for a visitor")


def test_heavy_synchronous_work_refuses_a_visitor_before_starting(app_settings, monkeypatch):
    import core.memory.measure
    import core.training.copy
    from core.evaluation.versions import compare_versions
    from core.finetune.config import LoraSettings
    from core.finetune.duration import measure_throughput
    from core.memory.config_input import from_upload
    from core.memory.estimate import EstimateConfig
    from core.presenters.memory import measurement

    monkeypatch.setattr(core.training.copy, "training_copy", _must_not_run)
    monkeypatch.setattr(core.memory.measure, "measure", _must_not_run)
    with pytest.raises(PermissionDenied, match="Training"):
        measure_throughput(app_settings, "kb1", LoraSettings(), actor=VISITOR)
    desc = from_upload(CONFIG, actor=ADMIN)
    with pytest.raises(PermissionDenied, match="Measuring memory"):
        measurement(desc, EstimateConfig(), app_settings, actor=VISITOR)
    with pytest.raises(PermissionDenied, match="Running evaluations"):
        compare_versions(app_settings, "fb-1", [], actor=VISITOR, generator=object())


def test_a_forgotten_actor_is_refused_in_demo_mode_and_allowed_in_full_mode(mode, kb_store):
    mode("demo")
    with pytest.raises(PermissionDenied):
        kb_store.delete_kb("kb1")
    with pytest.raises(PermissionDenied):
        registry().start("kb-build", work=_must_not_run, session="s1")
    mode("full")
    kb_store.delete_kb("kb1")
    assert "kb1" not in kb_store.names()


# -- background jobs ----------------------------------------------------------------------------
def gated(gate: threading.Event):
    def work(job):
        assert gate.wait(10)
        return "done"
    return work


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_job_kind_starts_for_a_visitor(kind):
    reg = registry()
    with pytest.raises(PermissionDenied):
        reg.start(kind, work=_must_not_run, session="s1", actor=VISITOR)
    assert reg.get(kind, session="s1") is None


def test_a_demo_server_runs_one_training_job_at_a_time():
    """finetune (server-wide) runs; emo-train and fb-learn from another admin session are
    refused with a clear message; an evaluation is not training and starts; the running job's
    own session still joins it; once it ends, training starts again."""
    reg, gate = registry(), threading.Event()
    other = access.Actor("admin", mode="demo", session="admin-2")
    first = reg.start("finetune", work=gated(gate), actor=ADMIN)
    for kind in ("emo-train", "fb-learn"):
        with pytest.raises(QuotaExceeded, match="one training job at a time and a finetune "
                                                "job is running"):
            reg.start(kind, work=_must_not_run, session="admin-2", actor=other)
    evaluation = reg.start("evaluate", work=lambda job: 1, actor=other)
    assert evaluation.wait(5)
    gate.set()
    assert first.wait(5)
    again = reg.start("emo-train", work=lambda job: "ok", session="admin-2", actor=other)
    assert again.wait(5) and again.snapshot()["result"] == "ok"


def test_the_running_training_job_is_joined_not_refused():
    reg, gate = registry(), threading.Event()
    first = reg.start("emo-train", work=gated(gate), session="admin-1", actor=ADMIN)
    assert reg.start("emo-train", work=_must_not_run, session="admin-1", actor=ADMIN) is first
    gate.set()
    assert first.wait(5)


def test_a_full_mode_server_allows_parallel_training():
    reg, gate = registry(), threading.Event()
    local = access.actor_for("full", session="s1", admin=False)
    jobs = [reg.start("finetune", work=gated(gate), actor=local),
            reg.start("emo-train", work=gated(gate), session="s1", actor=local)]
    assert all(j.running for j in jobs)
    gate.set()
    assert all(j.wait(5) for j in jobs)


# -- the command line -------------------------------------------------------------------------
def test_the_cli_acts_as_the_operator_on_a_demo_server(mode, app_settings, tmp_path, capsys):
    from core.cli import main
    from core.feedback.store import open_store

    mode("demo")
    store = open_store(app_settings)
    store.record_output(session_id="s", page="compare", mode="rag", prompt="q", output="a")
    store.close()
    out = tmp_path / "all.jsonl"
    assert main(["feedback", "export", "--format", "jsonl", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 1
    assert json.loads(out.read_text())["prompt"] == "q"
