"""The knowledge base -> adapter pipeline and the CLI contracts, on a tiny Llama saved as a
model folder (so the real loaders run) and a LanceDB knowledge base."""

from __future__ import annotations

import json
import threading

import pytest

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.finetune.config import LoraSettings
from core.finetune.pipeline import content_hash, kb_chunks, run_finetune
from core.training.callbacks import TrainingHooks


def test_run_finetune_saves_adapter_with_metadata(tiny_env):
    steps = []
    summary = run_finetune(tiny_env, "mini", "Mini Chunks",
                           LoraSettings(epochs=2, batch_size=2, data_mode="chunks",
                                        target_modules=()),
                           hooks=TrainingHooks(step=lambda s, t, loss: steps.append(s)))
    assert summary["saved"] and summary["adapter"] == "mini-chunks"
    assert steps == list(range(1, summary["total_steps"] + 1))
    info = AdapterRegistry.of(tiny_env).inspect("mini-chunks")
    meta = info["metadata"]
    assert meta["base_model"] == tiny_env.generator_model and meta["knowledge_base"] == "mini"
    assert meta["kb_content_hash"] == content_hash(kb_chunks(tiny_env, "mini"))
    assert meta["settings"]["epochs"] == 2 and meta["data"] == {"chunks": len(kb_chunks(
        tiny_env, "mini"))}
    assert len(meta["losses"]) == summary["steps"] and meta["seconds"] > 0
    assert meta["trainable_parameters"] > 0 and meta["target_modules"] == ["q_proj", "v_proj"]
    with pytest.raises(UserError, match="exists"):
        run_finetune(tiny_env, "mini", "mini-chunks", LoraSettings(epochs=1))


def _cancelled_after_one_step(settings, name):
    cancel = threading.Event()
    return run_finetune(settings, "mini", name, LoraSettings(epochs=3, batch_size=1),
                        hooks=TrainingHooks(step=lambda s, t, loss: cancel.set(),
                                            cancel=cancel))


def test_cancelled_run_saves_nothing_unless_the_partial_adapter_is_kept(tiny_env):
    summary = _cancelled_after_one_step(tiny_env, "Kept Part")
    assert summary["cancelled"] and summary["steps"] == 1 and not summary["saved"]
    assert AdapterRegistry.of(tiny_env).list() == []  # nothing saved by the run itself
    summary["partial"].save(tiny_env)
    meta = AdapterRegistry.of(tiny_env).inspect("kept-part")["metadata"]
    assert meta["partial"] is True and meta["steps"] == 1
    assert meta["total_steps"] == summary["total_steps"] > 1
    with pytest.raises(UserError, match="already saved"):
        summary["partial"].save(tiny_env)


def test_discarded_partial_adapter_is_never_saved(tiny_env):
    summary = _cancelled_after_one_step(tiny_env, "gone")
    summary["partial"].discard()
    assert summary["partial"].model is None
    with pytest.raises(UserError, match="discarded"):
        summary["partial"].save(tiny_env)
    assert AdapterRegistry.of(tiny_env).list() == []


def test_qa_mode_uses_only_train_split(tiny_env, tmp_path):
    qa = tmp_path / "qa.jsonl"
    rows = [{"question": "Who planted the first orchid?", "answer": "Ilsa Marek",
             "split": "train"},
            {"question": "When was the oven built?", "answer": "1932", "split": "test"}]
    qa.write_text("\n".join(json.dumps(r) for r in rows))
    summary = run_finetune(tiny_env, "mini", "qa1", LoraSettings(epochs=1, data_mode="qa"),
                           qa_file=qa)
    meta = AdapterRegistry.of(tiny_env).inspect("qa1")["metadata"]
    assert summary["examples"] == 1 and meta["data"]["train_questions"] == 1


def test_paraphrase_mode_multiplies_examples(tiny_env):
    n = len(kb_chunks(tiny_env, "mini"))
    summary = run_finetune(tiny_env, "mini", "para", LoraSettings(
        epochs=1, data_mode="paraphrases", paraphrases_per_chunk=2, max_length=512))
    assert summary["examples"] == 3 * n


def test_missing_kb_is_a_user_error(tiny_env):
    with pytest.raises(UserError, match="does not exist"):
        run_finetune(tiny_env, "nope", "x", LoraSettings())


def test_cli_finetune_ask_and_evaluate_contracts(tiny_env, capsys, tmp_path):
    from core.cli import main

    assert main(["finetune", "--kb", "mini", "--adapter", "cli-ad", "--epochs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"adapter", "train_loss", "seconds", "epochs", "tokens_per_second"} <= set(out)
    assert out["adapter"] == "cli-ad" and out["epochs"] == 1
    assert out["train_loss"] > 0 and out["seconds"] > 0

    assert main(["ask", "When was the oven built?", "--kb", "mini", "--mode", "finetuned",
                 "--adapter", "cli-ad", "--max-new-tokens", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"answer", "mode", "sources", "seconds", "extractive", "generated",
                        "provenance"}
    assert out["mode"] == "finetuned" and out["sources"] == []

    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "When was the oven built?", "answer": "1932",
                              "choices": ["1932", "1950", "1899", "2001"],
                              "source": "bakery.md", "split": "test"}) + "\n")
    assert main(["evaluate", "--qa", str(qa), "--kb", "mini", "--adapter", "cli-ad",
                 "--modes", "base,finetuned", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 1 and set(out["modes"]) == {"base", "finetuned"}
    for agg in out["modes"].values():
        for key in ("exact_match", "f1", "mc_accuracy"):
            assert 0.0 <= agg[key] <= 1.0
        assert agg["hit_rate"] is None and agg["mrr"] is None
        assert agg["seconds_per_question"] > 0

    assert main(["evaluate", "--qa", str(qa), "--kb", "mini", "--modes", "finetuned"]) == 2
    assert "need --adapter" in capsys.readouterr().err
    assert main(["finetune", "--kb", "mini", "--adapter", "../x"]) == 2
    assert "adapter name" in capsys.readouterr().err
