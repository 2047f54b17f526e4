"""Issue 8 item 5: SIGKILL a real ``python -m core`` process mid-work, then check, in a fresh
process state, that every earlier knowledge base and feedback record is intact and usable.

Kill points are deterministic: the child prints a line at a known point (a progress line of
``index``, or a hook in OUR code that prints and then sleeps), the parent kills on that line.
The child replaces the embedder with a fast deterministic fake (``HashEmbedder``) so the test
measures crash safety, not model speed; everything else (CLI, ingest, chunking, LanceDB writes,
SQLite commits) is the real code path.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.rag.config import RetrievalConfig
from core.rag.ingest import Document
from tests.rag.conftest import DOCS, HashEmbedder

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import sys, time
    import core.loaders
    import core.rag.retrieve
    import core.rag.store
    from tests.rag.conftest import HashEmbedder

    class SlowEmbedder(HashEmbedder):
        def encode(self, sentences, **kwargs):
            time.sleep(0.05)  # a window to kill in while embedding
            return super().encode(sentences, **kwargs)

    def hang(label):
        def hook(*args, **kwargs):
            print(f"HOOK {label}", file=sys.stderr, flush=True)
            time.sleep(120)
        return hook

    core.loaders.load_embedder = lambda settings: SlowEmbedder()
    kill_at = sys.argv[1]
    if kill_at == "between-delete-and-add":  # called after deleting replaced docs, before add
        core.rag.store.KnowledgeStore._check_dim = staticmethod(hang(kill_at))
    elif kill_at == "indexing":  # rows appended, full-text / vector indexes not rebuilt yet
        core.rag.retrieve.ensure_indexes = hang(kill_at)
    from core.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def run_until(argv: list[str], marker: str, env: dict) -> str:
    """Start the child, SIGKILL it on the first stderr line containing ``marker``."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *argv], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)[-800:]
    assert any(marker in s for s in seen), "".join(seen)[-800:]
    return "".join(seen)


def kb_state(settings, kb: str) -> dict:
    """Rows, and that vector, full-text and hybrid search all answer from this base."""
    from core.rag.retrieve import search
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(settings, HashEmbedder())
    rows = sorted(store.table(kb).to_arrow().select(["id", "text", "doc_hash"]).to_pylist(),
                  key=lambda r: r["id"])
    found = {}
    for mode in ("vector", "fts", "hybrid"):
        hits = search(store, kb, "Who planted the first orchid?", RetrievalConfig(search=mode))
        found[mode] = hits[0].document if hits else None
    return {"rows": rows, "found": found}


@pytest.fixture
def kb_env(app_settings, tmp_path):
    """kb1 from three documents, and a folder that REPLACES one of them and adds 40 more."""
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(app_settings, HashEmbedder())
    store.add_documents("kb1", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "orchids.md").write_text(DOCS["orchids.md"] + "\n\nUpdated: misting now thrice.")
    for i in range(40):
        (folder / f"extra{i:02d}.md").write_text(
            f"# Extra {i}\n\n" + f"Paragraph about topic {i} and lanterns number {i}. " * 60)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NLPLAB_DATA_DIR": str(app_settings.data_dir)}
    return app_settings, folder, env


@pytest.mark.parametrize("kill_at, marker", [
    ("embedding", "embedded"),
    ("between-delete-and-add", "HOOK"),
    ("indexing", "HOOK"),
])
def test_index_build_killed_keeps_earlier_kb(kb_env, kill_at, marker):
    settings, folder, env = kb_env
    before = kb_state(settings, "kb1")
    assert before["found"] == dict.fromkeys(("vector", "fts", "hybrid"), "orchids.md")
    run_until([kill_at, "index", "--docs", str(folder), "--kb", "kb1"], marker, env)
    after = kb_state(settings, "kb1")  # a new store: what a restarted app sees
    assert after == before
    # and the base takes the same build to completion afterwards
    from core.rag.ingest import read_folder
    from core.rag.store import KnowledgeStore

    report = KnowledgeStore(settings, HashEmbedder()).add_documents("kb1", read_folder(folder)[0])
    assert report.replaced == ["orchids.md"] and len(report.added) == 40
    assert kb_state(settings, "kb1")["found"]["fts"] == "orchids.md"


def test_new_kb_killed_mid_build_leaves_no_half_table(kb_env):
    settings, folder, env = kb_env
    from core.rag.store import KnowledgeStore

    run_until(["indexing", "index", "--docs", str(folder), "--kb", "kb2"], "HOOK", env)
    store = KnowledgeStore(settings, HashEmbedder())
    assert store.names() == ["kb1"]
    assert kb_state(settings, "kb1")["found"]["fts"] == "orchids.md"


FEEDBACK_WRITER = textwrap.dedent("""
    import sys
    from core.feedback.store import open_store
    from core.settings import load_settings
    store = open_store(load_settings())
    i = 0
    while True:
        oid = store.record_output(session_id="w", page="crash", mode="rag", prompt=f"q{i}",
                                  output="answer " * 40 + str(i), rating="up" if i % 2 else None)
        if i % 4 == 0:
            store.set_rating(oid, "down", comment=f"c{i}")
        print(oid, i, flush=True)  # only after the commit returned
        i += 1
""")


def test_feedback_writer_killed_keeps_every_committed_record(app_settings):
    from core.feedback.store import open_store

    store = open_store(app_settings)
    earlier = [store.record_output(session_id="s", page="compare", mode="base", prompt=f"p{i}",
                                   output=f"o{i}", rating="up") for i in range(5)]
    store.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "NLPLAB_DATA_DIR": str(app_settings.data_dir)}
    proc = subprocess.Popen([sys.executable, "-c", FEEDBACK_WRITER], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    committed: dict[int, int] = {}
    try:
        for line in proc.stdout:
            oid, i = map(int, line.split())
            committed[oid] = i
            if len(committed) >= 80:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-500:]

    db = Path(app_settings.feedback_url.removeprefix("sqlite:///"))
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()
    store = open_store(app_settings)  # a restarted app
    rows = {r.id: r for r in store.list_outputs()}
    for oid in earlier:
        assert rows[oid].rating == "up" and rows[oid].prompt.startswith("p")
    for oid, i in committed.items():
        r = rows[oid]
        assert (r.prompt, r.output) == (f"q{i}", "answer " * 40 + str(i))
        assert r.rating == ("down" if i % 4 == 0 else "up" if i % 2 else None)
        assert r.comment == (f"c{i}" if i % 4 == 0 else None)
    # the store still takes writes
    new = store.record_output(session_id="s", page="compare", mode="rag", prompt="after",
                              output="crash", rating="down")
    assert store.get_output(new).rating == "down"
    store.close()


@pytest.fixture
def finetune_env(tmp_path, monkeypatch, tiny_tokenizer):
    """A saved tiny Llama as the generator, a 'mini' KB and an earlier adapter 'early'."""
    import hashlib

    from core.finetune.config import LoraSettings
    from core.finetune.pipeline import run_finetune
    from core.rag.store import KnowledgeStore
    from core.settings import load_settings
    from tests.tiny_models import build_tiny_llama

    folder = tmp_path / "tiny-llama"
    build_tiny_llama(tiny_tokenizer).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", str(folder))
    settings = load_settings()
    store = KnowledgeStore(settings, HashEmbedder())
    store.add_documents("mini", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    run_finetune(settings, "mini", "early", LoraSettings(epochs=1, batch_size=2))
    root = settings.data_dir / "adapters" / "early"
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(root.iterdir()) if p.is_file()}
    env = {**os.environ, "PYTHONPATH": str(REPO), "NLPLAB_DATA_DIR": str(settings.data_dir),
           "NLPLAB_GENERATOR_MODEL": str(folder)}
    return settings, hashes, env


def test_finetune_killed_mid_training_keeps_earlier_adapters(finetune_env):
    import hashlib

    from core.adapters import AdapterRegistry
    from core.generation import GenerationConfig
    from core.loaders import load_generator

    settings, hashes, env = finetune_env
    proc = subprocess.Popen([sys.executable, "-m", "core", "finetune", "--kb", "mini",
                             "--adapter", "late", "--epochs", "100", "--batch-size", "1",
                             "--log-every", "1"], cwd=REPO, text=True, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("step 3/"):
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and any(s.startswith("step 3/") for s in seen), \
        "".join(seen)[-800:]

    # no half-written 'late'
    assert [a["name"] for a in AdapterRegistry.of(settings).list()] == ["early"]
    root = settings.data_dir / "adapters" / "early"
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.iterdir()) if p.is_file()} == hashes
    generator = load_generator(settings)  # a restarted app loads the earlier adapter
    generator.load_adapter("early", AdapterRegistry.of(settings))
    out = generator.generate("When was the oven built?", GenerationConfig(max_new_tokens=4))
    assert out.tokens >= 1


def test_build_journal_hides_a_live_creation_and_recovers_a_dead_one(app_settings):
    """A base being created by a live build is not listed (it is not readable yet) and is left
    alone; the same journal from a dead process makes the next store drop the half table."""
    import json

    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(app_settings, HashEmbedder())
    store.add_documents("kb1", [Document("a.md", DOCS["orchids.md"], "md")])
    journal = Path(app_settings.lancedb_location) / "_building-kb1.json"
    journal.write_text(json.dumps({"kb": "kb1", "version": None, "pid": os.getpid()}))
    assert store.names() == []
    assert KnowledgeStore(app_settings, HashEmbedder()).recovered == []  # live: untouched
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    journal.write_text(json.dumps({"kb": "kb1", "version": None, "pid": int(dead.stdout)}))
    recovered = KnowledgeStore(app_settings, HashEmbedder())
    assert recovered.recovered == ["kb1: dropped the half-built new base"]
    assert recovered.names() == [] and not journal.exists()
