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
    assert code == 0 and set(out) == {"answer", "mode", "sources", "seconds", "extractive",
                                      "generated", "provenance"}
    assert out["extractive"] is False and out["answer"] == out["generated"]  # fallback off
    assert out["provenance"]["stop"] == ["\n"] and out["provenance"]["max_new_tokens"] == 40
    assert out["mode"] == "rag" and len(out["sources"]) == 1  # fts: one doc mentions "oven"
    assert set(out["sources"][0]) == {"document", "chunk", "score", "text"}
    code, out, _ = run(capsys, "ask", "When was the bakery oven built?", "--kb", "notes",
                       "--mode", "extractive", "--top-k", "2", "--search", "fts")
    assert code == 0 and out["extractive"] and "oven" in out["answer"].lower()
    assert out["generated"] == "" and out["provenance"]["generator"] is None
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


def test_ask_questions_file_prints_one_line_per_question(fake_models, folder, tmp_path,
                                                         capsys):
    """Every row of a QA file gets one JSON line, in file order, with the single-question
    keys plus its id and question; the answers are those of one-at-a-time ``ask``."""
    assert run(capsys, "index", "--docs", str(folder), "--kb", "notes")[0] == 0
    questions = ["When was the bakery oven built?", "Who planted the first orchid?",
                 "How often does the tram leave?"]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({"question": q, "answer": "x", "split": s}) + "\n"
                          for q, s in zip(questions, ["test", "train", "test"], strict=True)))
    code = main(["ask", "--questions", str(qa), "--kb", "notes", "--mode", "rag",
                 "--batch-size", "2", "--max-new-tokens", "6"])
    out, _ = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["question"] for line in lines] == questions
    for line in lines:
        assert set(line) == {"id", "question", "answer", "mode", "sources", "seconds",
                             "extractive", "generated", "provenance"}
        assert line["mode"] == "rag" and line["sources"] and line["seconds"] > 0
    assert len({line["id"] for line in lines}) == 3
    for q, line in zip(questions, lines, strict=True):
        code, single, _ = run(capsys, "ask", q, "--kb", "notes", "--mode", "rag",
                              "--max-new-tokens", "6")
        assert single["answer"] == line["answer"]
        assert single["sources"] == line["sources"]
    code = main(["ask", "--questions", str(qa), "--split", "test", "--kb", "notes",
                 "--mode", "base", "--max-new-tokens", "3"])
    out, _ = capsys.readouterr()
    assert [json.loads(x)["question"] for x in out.splitlines()] == [questions[0], questions[2]]


@pytest.mark.parametrize("argv, needle", [
    (["ask", "Why?", "--questions", "{qa}"], "not both"),
    (["ask"], "not both"),
    (["ask", "--questions", "{folder}/missing.jsonl"], ""),
    (["ask", "--questions", "{qa}", "--batch-size", "0"], "batch-size"),
])
def test_ask_questions_errors(fake_models, folder, tmp_path, capsys, argv, needle):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Why?", "answer": "x"}) + "\n")
    argv = [a.format(qa=qa, folder=folder) for a in argv]
    code = main([*argv, "--kb", "notes"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and needle in err and len(err.strip().splitlines()) == 1
