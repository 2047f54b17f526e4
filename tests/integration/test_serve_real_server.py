"""Slow tier: the real offline SmolLM2 served by `transformers serve`; `ask --mode rag` through
the server answers the same questions as the model in this process, word for word, and the
model's own text carries the fact where the 135M model reads it correctly."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.model_server import start_transformers_serve, stop

pytestmark = pytest.mark.slow

DOCS = {
    "zorblax.md": "The Zorblax Institute was founded in 1987 by Mirela Vantosh in the town of "
                  "Quillhaven.",
    "trams.txt": "The Northline tram leaves Harbor Square every 12 minutes. Tickets cost 3 "
                 "crowns. Night trams run on Fridays only.",
    "bakery.md": "Corvin's bakery sells rye bread. Its oven was built in 1932 and burns beech "
                 "wood.",
}
QUESTIONS = {"Who founded the Zorblax Institute?": "Vantosh",
             "What wood does the oven of Corvin's bakery burn?": "beech",
             "How much does a Northline tram ticket cost?": "3 crowns"}
# The tram passage holds two numbers (12 minutes, 3 crowns) and the small model picks the
# wrong one ("12 cents"): the server must reproduce even that answer, but it is not scored.
MISREAD = {"How much does a Northline tram ticket cost?"}


@pytest.fixture(scope="module")
def smollm2_server(real_settings, tmp_path_factory):
    from core.model_sources import resolve

    folder = resolve(real_settings.generator_model, real_settings.models_dir).location
    proc, url = start_transformers_serve(folder, tmp_path_factory.mktemp("smol") / "serve.log")
    yield url, folder
    stop(proc)


def ask(question: str, capsys) -> dict:
    assert main(["ask", question, "--kb", "kb1", "--mode", "rag", "--top-k", "1",
                 "--max-new-tokens", "24"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ask_rag_through_the_server_answers_like_the_local_model(smollm2_server, tmp_path,
                                                                 monkeypatch, capsys):
    url, folder = smollm2_server
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "appdata"))
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    assert main(["index", "--docs", str(docs), "--kb", "kb1"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("NLPLAB_GENERATOR_DTYPE", "float32")  # the server's weights: fp32
    local = {q: ask(q, capsys) for q in QUESTIONS}
    monkeypatch.setenv("NLPLAB_GENERATOR_URL", url)
    monkeypatch.setenv("NLPLAB_GENERATOR_SERVED_MODEL", folder)
    remote = {q: ask(q, capsys) for q in QUESTIONS}
    for question, fact in QUESTIONS.items():
        assert not remote[question]["extractive"], question  # the model's own text
        assert remote[question]["answer"] == local[question]["answer"]
        if question not in MISREAD:
            assert fact in remote[question]["answer"], (question, remote[question]["answer"])
        assert remote[question]["sources"] == local[question]["sources"]
