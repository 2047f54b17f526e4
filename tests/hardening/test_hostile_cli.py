"""Issue 8 item 4, CLI side: every ``python -m core`` command against hostile input.

Table-driven: each case is an argv (``{name}`` placeholders become files written by
:func:`bad_files` or the good docs folder) and a fragment the one-line error must contain.
Expected for all: exit code 2, nothing on stdout, exactly one line on stderr starting
``error:``, no traceback, and the data directory (file hashes, LanceDB versions and row counts,
feedback counts) byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from tests.hardening.conftest import CSV_OK, snapshot
from tests.rag.test_ingest import make_pdf

REPO = Path(__file__).resolve().parents[2]
HUGE = 2_100_000  # bytes: over the 2 MB limit the tests set with NLPLAB_MAX_UPLOAD_MB
HTML = "<script>alert('x')</script><img src=x onerror=alert(1)>"

#: name -> bytes of a hostile file (written under tmp_path/bad/<case>/<name>).
BAD_FILES: dict[str, tuple[str, bytes]] = {
    "empty": ("empty.txt", b""),
    "whitespace": ("blank.md", b"  \n\t\n  "),
    "binary": ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00" * 20),
    "latin1": ("latin.txt", "café crème brûlée, déjà vu".encode("latin-1")),
    "utf16": ("wide.md", "hello in UTF-16, with a BOM".encode("utf-16")),
    "huge": ("huge.txt", b"word " * (HUGE // 5 + 1)),
    "malformed pdf": ("broken.pdf", b"%PDF-1.4\n1 0 obj <<< garbage >>\ntrailer\n%%EOF"),
    "truncated pdf": ("cut.pdf", make_pdf("The vault code is 4417.")[:60]),
    "scanned pdf": ("scan.pdf", make_pdf(None)),
    "csv no column": ("table.csv", b"id,body\n1,hello\n"),
    "jsonl malformed": ("rows.jsonl", b'{"text": "ok"}\n{"text": broken\n'),
    "jsonl not object": ("rows.jsonl", b'["text", "a list"]\n'),
}

CSV_FILES: dict[str, bytes] = {
    "empty.csv": b"",
    "header_only.csv": b"text,label\n",
    "binary.csv": b"\x00\x01\x02\xff\xfe" * 100,
    "latin1.csv": "text,label\ncafé triste,sadness\n".encode("latin-1"),
    "utf16.csv": "text,label\nhappy,joy\n".encode("utf-16"),
    "no_label.csv": b"text,mood\nhappy,joy\n",
    "ragged.csv": b'text,label\n"never closed,joy\nx,y,z,w\n',
    "huge.csv": b"text,label\n" + b"happy happy,joy\n" * (HUGE // 16 + 1),
    "empty_rows.csv": b"text,label\n,\n , \n",
    "ok.csv": CSV_OK.encode(),
    "bad_map.json": b"{not json",
    "list_map.json": b'["joy", "sadness"]',
    "config_array.json": b"[1, 2, 3]",
    "config_empty.json": b"{}",
    "config_binary.json": b"\x00\xff\xfe garbage",
    "config_malformed.json": b'{"hidden_size": 4096,',
    "config_negative.json": json.dumps({"model_type": "llama", "hidden_size": -4096,
                                        "num_hidden_layers": 32, "num_attention_heads": 32,
                                        "vocab_size": 32000,
                                        "intermediate_size": 11008}).encode(),
    "config_huge.json": b'{"a": "' + b"x" * HUGE + b'"}',
    "qa_empty.jsonl": b"",
    "qa_blank.jsonl": b"\n  \n\t\n",
    "qa_binary.jsonl": b"\x00\x01\x02\xff\xfe" * 100,
    "qa_latin1.jsonl": '{"question": "Qui a écrit?", "answer": "Zoé"}\n'.encode("latin-1"),
    "qa_utf16.jsonl": '{"question": "Who?", "answer": "Ann"}\n'.encode("utf-16"),
    "qa_malformed.jsonl": b'{"question": "Who?", "answer": "Ann"}\n{"question": broken\n',
    "qa_array.jsonl": b'["question", "answer"]\n',
    "qa_no_question.jsonl": b'{"answer": "Ann"}\n',
    "qa_huge.jsonl": b'{"question": "' + b"x" * HUGE + b'", "answer": "y"}\n',
}

PATHS = ["../../etc/passwd", "/etc/passwd", "a/b", "..", "a\x00b", "my kb", "", "x" * 300]

# (id, argv, fragment expected in the one-line message)
CASES: list[tuple[str, list[str], str]] = []
for name in BAD_FILES:
    CASES.append((f"index file {name}", ["index", "--docs", "{bad:" + name + "}", "--kb", "kb1"],
                  ""))
for i, kb in enumerate(PATHS):
    CASES += [
        (f"index kb {i}", ["index", "--docs", "{good}", "--kb", kb], "not allowed"),
        (f"ask kb {i}", ["ask", "What?", "--kb", kb], "not allowed"),
        (f"kb-show {i}", ["kb-show", kb], ""),
        (f"kb-delete {i}", ["kb-delete", kb], ""),
        (f"kb-delete-doc kb {i}", ["kb-delete-doc", kb, "orchids.md"], ""),
        (f"kb-delete-doc doc {i}", ["kb-delete-doc", "kb1", kb], ""),
        (f"emotions classify name {i}", ["emotions", "classify", "--name", kb, "hi"], ""),
        (f"emotions evaluate name {i}", ["emotions", "evaluate", "--name", kb,
                                         "--data", "{csv:ok.csv}"], ""),
        (f"emotions train name {i}", ["emotions", "train", "--name", kb, "--model", "logreg",
                                      "--data", "{csv:ok.csv}"], ""),
        (f"feedback learn adapter {i}", ["feedback", "learn", "--adapter", kb], ""),
        (f"feedback learn base {i}", ["feedback", "learn", "--adapter", "new1",
                                      "--base-adapter", kb], ""),
        (f"memory model {i}", ["memory", "--model", kb, "--dtype", "bf16",
                               "--mode", "inference"], ""),
        (f"finetune kb {i}", ["finetune", "--kb", kb, "--adapter", "ad1"], ""),
        *([] if kb == "my kb" else  # documented: spaces become '-' ("my-kb")
          [(f"finetune adapter {i}", ["finetune", "--kb", "kb1", "--adapter", kb], "")]),
        (f"adapter-show {i}", ["adapter-show", kb], ""),
        (f"adapter-delete {i}", ["adapter-delete", kb], ""),
        (f"evaluate kb {i}", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", kb], ""),
        (f"evaluate adapter {i}", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", "kb1",
                                   "--adapter", kb, "--modes", "finetuned"], ""),
        (f"evaluate qa path {i}", ["evaluate", "--qa", kb, "--kb", "kb1"], ""),
        (f"feedback compare adapter {i}", ["feedback", "compare", "--adapter", kb], ""),
        (f"feedback compare kb {i}", ["feedback", "compare", "--adapter", "nope", "--kb", kb,
                                      "--modes", "finetuned+rag"], ""),
    ]
CASES += [
    ("index docs missing", ["index", "--docs", "/nonexistent/docs", "--kb", "kb1"], "not a folder"),
    ("index docs is a file", ["index", "--docs", "/etc/passwd", "--kb", "kb1"], "not a folder"),
    ("index docs empty folder", ["index", "--docs", "{empty_dir}", "--kb", "kb1"], "no "),
    ("index docs traversal", ["index", "--docs", "../../../../../../nonexistent", "--kb", "kb1"],
     "not a folder"),
    ("index chunk 0", ["index", "--docs", "{good}", "--kb", "kb1", "--chunk-size", "0"],
     "chunk_size"),
    ("index chunk -5", ["index", "--docs", "{good}", "--kb", "kb1", "--chunk-size", "-5"],
     "chunk_size"),
    ("index overlap > size", ["index", "--docs", "{good}", "--kb", "kb1", "--chunk-size", "200",
                              "--chunk-overlap", "500"], "chunk_overlap"),
    ("index csv column", ["index", "--docs", "{good_csv}", "--kb", "kb1", "--text-column",
                          "../../etc/passwd"], "no column"),
    ("ask empty", ["ask", "", "--kb", "kb1"], "empty"),
    ("ask whitespace", ["ask", " \t\n ", "--kb", "kb1"], "empty"),
    ("ask 50k", ["ask", "y" * 50_001, "--kb", "kb1"], "characters"),
    ("ask 100k", ["ask", "y " * 50_000, "--kb", "kb1"], "characters"),
    ("ask missing kb", ["ask", "What?", "--kb", "nope"], "nope"),
    ("ask top-k 0", ["ask", "What?", "--kb", "kb1", "--top-k", "0"], "top_k"),
    ("ask top-k huge", ["ask", "What?", "--kb", "kb1", "--top-k", "100000"], "top_k"),
    ("ask mode evil", ["ask", "What?", "--kb", "kb1", "--mode", "<script>"], "mode"),
    ("ask max tokens 0", ["ask", "What?", "--kb", "kb1", "--max-new-tokens", "0"], ""),
    ("ask max tokens -1", ["ask", "What?", "--kb", "kb1", "--max-new-tokens", "-1"], ""),
    ("generate empty", ["generate", ""], ""),
    ("generate whitespace", ["generate", "   \n "], ""),
    ("generate max tokens 0", ["generate", "hi", "--max-new-tokens", "0"], ""),
    ("generate max tokens huge", ["generate", "hi", "--max-new-tokens", "1000000000"], ""),
    ("generate temperature -1", ["generate", "hi", "--temperature", "-1"], ""),
    ("generate 100k", ["generate", "y " * 50_000], ""),
    ("emotions preprocess empty", ["emotions", "preprocess", ""], "empty"),
    ("emotions preprocess whitespace", ["emotions", "preprocess", " \n\t "], "empty"),
    ("emotions classify empty", ["emotions", "classify", "--name", "emo1", ""], "empty"),
    ("emotions classify whitespace", ["emotions", "classify", "--name", "emo1", "  "], "empty"),
    ("emotions classify missing", ["emotions", "classify", "--name", "nope", "hi"], "nope"),
    ("emotions train data missing", ["emotions", "train", "--name", "m2", "--model", "logreg",
                                     "--data", "/nonexistent.csv"], "not found"),
    ("emotions train data is dir", ["emotions", "train", "--name", "m2", "--model", "logreg",
                                    "--data", "/etc"], ""),
    ("emotions train text col", ["emotions", "train", "--name", "m2", "--model", "logreg",
                                 "--data", "{csv:ok.csv}", "--text-col", "<script>"], "column"),
    ("emotions train epochs 0", ["emotions", "train", "--name", "m2", "--model", "transformer",
                                 "--data", "{csv:ok.csv}", "--epochs", "0"], "epochs"),
    ("emotions train ensemble 0", ["emotions", "train", "--name", "m2", "--model",
                                   "transformer", "--data", "{csv:ok.csv}",
                                   "--ensemble-size", "0"], "ensemble_size"),
    ("emotions train distill 1", ["emotions", "train", "--name", "m2", "--model",
                                  "transformer", "--data", "{csv:ok.csv}",
                                  "--distill", "1"], "distill"),
    ("emotions train teacher svc", ["emotions", "train", "--name", "m2", "--model",
                                    "transformer", "--data", "{csv:ok.csv}",
                                    "--teacher", "svc"], "teacher"),
    ("emotions train cv 0", ["emotions", "train", "--name", "m2", "--model", "logreg",
                             "--data", "{csv:ok.csv}", "--cv-folds", "0"], "cv_folds"),
    ("emotions train map malformed", ["emotions", "train", "--name", "m2", "--model", "logreg",
                                      "--data", "{csv:ok.csv}", "--group-map",
                                      "{csv:bad_map.json}"], "JSON"),
    ("emotions train map list", ["emotions", "train", "--name", "m2", "--model", "logreg",
                                 "--data", "{csv:ok.csv}", "--group-map",
                                 "{csv:list_map.json}"], "object"),
    ("emotions train map missing", ["emotions", "train", "--name", "m2", "--model", "logreg",
                                    "--data", "{csv:ok.csv}", "--group-map", "/nonexistent.json"],
     "not found"),
    ("feedback export out dir", ["feedback", "export", "--format", "jsonl", "--out", "/etc"],
     "folder"),
    ("feedback export no parent", ["feedback", "export", "--format", "kto", "--out",
                                   "../../nonexistent/x.jsonl"], "does not exist"),
    ("feedback export empty", ["feedback", "export", "--format", "csv", "--out", ""], ""),
    ("feedback learn steps 0", ["feedback", "learn", "--adapter", "new1", "--max-steps", "0"],
     "max_steps"),
    ("feedback learn steps -1", ["feedback", "learn", "--adapter", "new1", "--max-steps", "-1"],
     "max_steps"),
    ("memory batch 0", ["memory", "--model", "builtin:smollm2-135m-instruct", "--dtype", "bf16",
                        "--mode", "inference", "--batch", "0"], "positive"),
    ("memory batch text", ["memory", "--model", "builtin:smollm2-135m-instruct", "--dtype",
                           "bf16", "--mode", "inference", "--batch", "<b>x</b>"], "whole"),
    ("memory seq -1", ["memory", "--model", "builtin:smollm2-135m-instruct", "--dtype", "bf16",
                       "--mode", "inference", "--seq", "-1"], "positive"),
    ("memory seq huge", ["memory", "--model", "builtin:smollm2-135m-instruct", "--dtype", "bf16",
                         "--mode", "inference", "--seq", "9" * 40], ""),
    ("memory lora targets", ["memory", "--model", "builtin:smollm2-135m-instruct", "--dtype",
                             "bf16", "--mode", "lora", "--lora-targets", "../../etc"], ""),
    ("memory config missing", ["memory", "--config", "/nonexistent/config.json", "--dtype", "bf16",
                               "--mode", "inference"], "does not exist"),
    ("memory config is dir", ["memory", "--config", "/etc", "--dtype", "bf16",
                              "--mode", "inference"], ""),
    ("memory config passwd", ["memory", "--config", "/etc/passwd", "--dtype", "bf16",
                              "--mode", "inference"], "JSON"),
]
CASES += [
    ("finetune missing kb", ["finetune", "--kb", "nope", "--adapter", "ad1"], "nope"),
    ("finetune minutes 0", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--minutes", "0"],
     "minutes"),
    ("finetune epochs -1", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--epochs", "-1"], ""),
    ("finetune rank 0", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--rank", "0"], ""),
    ("finetune lr -1", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--lr", "-1"], ""),
    ("finetune batch 0", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--batch-size", "0"], ""),
    ("finetune max-length 0", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--max-length",
                               "0"], ""),
    ("finetune paraphrases -1", ["finetune", "--kb", "kb1", "--adapter", "ad1", "--data",
                                 "paraphrases", "--paraphrases", "-1"], ""),
    ("adapter-show missing", ["adapter-show", "nope"], "nope"),
    ("adapter-delete missing", ["adapter-delete", "nope"], "nope"),
    ("evaluate qa missing", ["evaluate", "--qa", "/nonexistent.jsonl", "--kb", "kb1"], ""),
    ("evaluate qa dir", ["evaluate", "--qa", "/etc", "--kb", "kb1"], ""),
    ("evaluate qa passwd", ["evaluate", "--qa", "/etc/passwd", "--kb", "kb1"], ""),
    ("evaluate missing kb", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", "nope"], ""),
    ("evaluate limit -1", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", "kb1", "--limit",
                           "-1"], ""),
    ("evaluate top-k 0", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", "kb1", "--top-k",
                          "0"], ""),
    ("evaluate modes evil", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", "kb1", "--modes",
                             "<script>,../x"], ""),
    ("evaluate finetuned no adapter", ["evaluate", "--qa", "{csv:qa_ok.jsonl}", "--kb", "kb1",
                                       "--modes", "finetuned"], ""),
]
CASES += [
    ("feedback compare missing", ["feedback", "compare", "--adapter", "nope"], "nope"),
    ("feedback compare limit -1", ["feedback", "compare", "--adapter", "nope", "--limit", "-1"],
     ""),
    ("feedback compare modes", ["feedback", "compare", "--adapter", "nope", "--modes",
                                "<script>"], ""),
]
for fname in CSV_FILES:
    if fname.startswith("qa_"):
        CASES.append((f"feedback compare {fname}", ["feedback", "compare", "--adapter", "nope",
                                                    "--qa", "{csv:" + fname + "}"], ""))
        CASES.append((f"evaluate {fname}", ["evaluate", "--qa", "{csv:" + fname + "}", "--kb",
                                            "kb1", "--modes", "base"], ""))
    if fname.endswith(".csv") and fname != "ok.csv":
        CASES.append((f"emotions train {fname}", ["emotions", "train", "--name", "m2", "--model",
                                                  "logreg", "--data", "{csv:" + fname + "}"], ""))
        CASES.append((f"emotions evaluate {fname}", ["emotions", "evaluate", "--name", "emo1",
                                                     "--data", "{csv:" + fname + "}"], ""))
    if fname.startswith("config_"):
        CASES.append((f"memory {fname}", ["memory", "--config", "{csv:" + fname + "}", "--dtype",
                                          "fp16", "--mode", "full"], ""))


_TEMPLATE: dict = {}


def template_snapshot(settings) -> dict:
    """The snapshot of an untouched copy, taken once (every test starts from the same copy)."""
    if not _TEMPLATE:
        _TEMPLATE.update(snapshot(settings))
    return _TEMPLATE


@pytest.fixture
def env(populated, tmp_path, monkeypatch):
    monkeypatch.setenv("NLPLAB_MAX_UPLOAD_MB", "2")
    monkeypatch.chdir(tmp_path)  # relative hostile paths resolve inside tmp_path
    files = tmp_path / "files"
    files.mkdir()
    for fname, data in CSV_FILES.items():
        (files / fname).write_bytes(data)
    (files / "qa_ok.jsonl").write_text('{"question": "Who planted the first orchid?", '
                                       '"answer": "Ilsa Marek", "split": "test"}\n')
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "good_csv").mkdir()
    (tmp_path / "good_csv" / "t.csv").write_text("text\nhello there\n")
    return populated


def expand(arg: str, tmp_path: Path) -> str:
    if arg.startswith("{bad:"):
        case = arg[5:-1]
        fname, data = BAD_FILES[case]
        folder = tmp_path / "bad" / case.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / fname).write_bytes(data)
        return str(folder)
    if arg.startswith("{csv:"):
        return str(tmp_path / "files" / arg[5:-1])
    if arg in ("{good}", "{empty_dir}", "{good_csv}"):
        return str(tmp_path / arg[1:-1])
    return arg


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_refuses_with_one_line_and_keeps_data(env, tmp_path, capsys, argv, fragment):
    args = [expand(a, tmp_path) for a in argv]
    before = template_snapshot(env)
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:  # argparse: usage + one error line, exit 2
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code}; stdout={out[:300]!r} stderr={err[:500]!r}"
    assert not out
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith(("error:", "python -m core")), err[:500]
    if not err.startswith("usage:"):
        assert len(lines) == 1, err[:500]
    assert fragment.lower() in err.lower()
    assert snapshot(env) == before


def test_cli_subprocess_hostile_argv_has_no_traceback(env, tmp_path):
    """A few cases through a real process: exit 2, one line, no traceback, data kept."""
    before = snapshot(env)
    cases = [["index", "--docs", str(tmp_path / "good"), "--kb", "../../etc/passwd"],
             ["emotions", "classify", "--name", "/etc/passwd", "hi"],
             ["memory", "--config", str(tmp_path / "files" / "config_binary.json"),
              "--dtype", "fp16", "--mode", "full"]]
    for argv in cases:
        proc = subprocess.run([sys.executable, "-m", "core", *argv], cwd=REPO, text=True,
                              capture_output=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 2, proc.stderr[-500:]
        assert not proc.stdout and "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert snapshot(env) == before


def test_cli_bounds_huge_text_and_keeps_data(env, capsys):
    """Huge tweets are truncated (documented: 2,000 characters, noted on the page), not fatal."""
    before = template_snapshot(env)
    assert main(["emotions", "preprocess", "happy <script>x</script> " * 4_000]) == 0
    steps = json.loads(capsys.readouterr()[0])["steps"]
    assert len(steps[0]["text"]) <= 2_000
    assert main(["emotions", "classify", "--name", "emo1", "x" * 100_000]) == 0
    assert json.loads(capsys.readouterr()[0])[0]["label"] in {"joy", "sadness", "anger"}
    assert snapshot(env) == before
