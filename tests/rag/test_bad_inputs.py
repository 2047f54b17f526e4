"""Issue item 7 through the CLI: each bad input gets a one-line message, exit 2, and the
existing knowledge base is untouched (same rows, same version)."""

import json

import pytest

from core.cli import main
from tests.rag.conftest import DOCS, HashEmbedder
from tests.rag.test_ingest import make_pdf

BAD_FILES = {
    "empty": ("empty.txt", b""),
    "binary": ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00"),
    "scanned pdf": ("scan.pdf", make_pdf(None)),
    "csv without column": ("table.csv", b"id,body\n1,hello\n"),
}


@pytest.fixture
def env(monkeypatch, tiny_generator, app_settings, tmp_path, capsys):
    import core.loaders

    monkeypatch.setattr(core.loaders, "load_embedder", lambda settings: HashEmbedder())
    monkeypatch.setattr(core.loaders, "load_generator", lambda settings: tiny_generator)
    good = tmp_path / "good"
    good.mkdir()
    for name, text in DOCS.items():
        (good / name).write_text(text)
    assert main(["index", "--docs", str(good), "--kb", "kb1"]) == 0
    capsys.readouterr()
    return app_settings


def snapshot(settings):
    from core.rag.store import KnowledgeStore

    tbl = KnowledgeStore(settings, HashEmbedder(), embedder_id=settings.embedding_model).table(
        "kb1")
    return tbl.version, sorted(tbl.to_arrow().select(["id", "text"]).to_pylist(),
                               key=lambda r: r["id"])


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_and_kb_kept(env, tmp_path, capsys, case):
    name, data = BAD_FILES[case]
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / name).write_bytes(data)
    before = snapshot(env)
    code = main(["index", "--docs", str(folder), "--kb", "kb1"])
    out, err = capsys.readouterr()
    assert code == 2 and not out and err.startswith("error: ") and name in err
    assert snapshot(env) == before


@pytest.mark.parametrize("argv, needle", [
    (["ask", "", "--kb", "kb1"], "empty"),
    (["ask", " \t\n ", "--kb", "kb1"], "empty"),
    (["ask", "y" * 50_000, "--kb", "kb1"], "50,000 characters"),
    (["index", "--docs", "{good}", "--kb", "../kb1"], "not allowed"),
    (["ask", "What?", "--kb", "../kb1"], "not allowed"),
    (["kb-delete", "../kb1"], "not allowed"),
])
def test_bad_question_or_name_is_refused_and_kb_kept(env, tmp_path, capsys, argv, needle):
    before = snapshot(env)
    code = main([a.replace("{good}", str(tmp_path / "good")) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2 and not out and needle in err and err.count("\n") == 1
    assert snapshot(env) == before
    assert main(["kbs"]) == 0
    assert json.loads(capsys.readouterr()[0])[0]["chunks"] == 3
