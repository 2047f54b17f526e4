"""The real embedded models, offline, end to end (loaded once per session)."""

import json

import numpy as np
import pytest

from core.generation import GenerationConfig

pytestmark = pytest.mark.slow


def test_embedding_ranks_paraphrase_above_unrelated(real_embedder):
    anchor, paraphrase, unrelated = real_embedder.encode(
        ["The meeting was moved to Thursday afternoon.",
         "They rescheduled the meeting for Thursday after lunch.",
         "Penguins live mostly in the southern hemisphere."],
        normalize_embeddings=True)
    assert float(np.dot(anchor, paraphrase)) > float(np.dot(anchor, unrelated)) + 0.3


def test_generator_repeats_a_made_up_fact_from_context(real_generator):
    prompt = ("Context: The Zorblax Institute was founded in 1987 by Mirela Vantosh in the "
              "town of Quillhaven.\n\nQuestion: Who founded the Zorblax Institute?\n"
              "Answer briefly using the context.")
    result = real_generator.generate(prompt, GenerationConfig(max_new_tokens=24))
    assert "Vantosh" in result.text


def test_info_loads_the_four_default_models(capsys):
    from core.cli import main

    assert main(["info"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {m["role"]: m for m in data["models"]}
    assert all(rows[r]["ok"] and "load_seconds" in rows[r]
               for r in ("embedder", "generator", "classifier", "emoji predictor")), rows
    assert rows["generator"]["loaded"] and rows["embedder"]["loaded"]
