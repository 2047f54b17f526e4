"""CLI contract: index / ask / kbs JSON keys, errors as one line with exit code 2."""

import json

import pytest

from core.cli import main
from tests.rag.conftest import DOCS, HashEmbedder


@pytest.fixture
def fake_models(monkeypatch, tiny_generator, app_settings):
    import core.loaders

    monkeypatch.setattr(core.loaders, "load_embedder", lambda settings: HashEmbedder())
    monkeypatch.setattr(core.loaders, "load_generator", lambda settings: tiny_generator)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in DOCS.items():
        (d / name).write_text(text)
    (d / "empty.txt").write_text("")
    return d


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_index_then_ask_and_list(fake_models, folder, capsys):
    code, out, err = run(capsys, "index", "--docs", str(folder), "--kb", "notes")
    assert code == 0 and set(out) == {"kb", "documents", "chunks", "seconds"}
    assert out["kb"] == "notes" and out["documents"] == 3 and out["chunks"] == 3
    assert "skipped" in err and "empty.txt" in err
    code, out, _ = run(capsys, "ask", "When was the bakery oven built?", "--kb", "notes",
                       "--mode", "rag", "--top-k", "2", "--search", "fts")
    assert code == 0 and set(out) == {"answer", "mode", "sources", "seconds"}
    assert out["mode"] == "rag" and len(out["sources"]) == 1  # fts: one doc mentions "oven"
    assert set(out["sources"][0]) == {"document", "chunk", "score", "text"}
    code, out, _ = run(capsys, "ask", "When?", "--kb", "notes", "--mode", "base")
    assert code == 0 and out["sources"] == [] and out["mode"] == "base"
    code, out, _ = run(capsys, "kbs")
    assert [k["kb"] for k in out] == ["notes"] and out[0]["chunks"] == 3
    code, out, _ = run(capsys, "kb-show", "notes")
    assert len(out["document_list"]) == 3 and out["sample_chunks"]
    code, out, _ = run(capsys, "kb-delete-doc", "notes", "bakery.md")
    assert out["chunks_removed"] == 1
    code, out, _ = run(capsys, "kb-delete", "notes")
    assert out["deleted"] and run(capsys, "kbs")[1] == []


@pytest.mark.parametrize("argv, needle", [
    (["index", "--docs", "{folder}", "--kb", "../evil"], "not allowed"),
    (["index", "--docs", "{folder}/nope", "--kb", "x"], "not a folder"),
    (["ask", "   ", "--kb", "x"], "question is empty"),
    (["ask", "q" * 50_000, "--kb", "x"], "50,000 characters"),
    (["ask", "Why?", "--kb", "missing", "--mode", "rag"], "does not exist"),
    (["ask", "Why?", "--kb", "x", "--top-k", "0"], "top_k"),
])
def test_bad_input_exits_2_with_one_line(fake_models, folder, capsys, argv, needle):
    code, out, err = run(capsys, *[a.replace("{folder}", str(folder)) for a in argv])
    assert code == 2 and out is None
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1
