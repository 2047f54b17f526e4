"""The preference loop (feedback drill) on a tiny Llama: simulated ratings stored apart,
DPO/KTO trained, a before/after with a paired bootstrap interval, the adapter saved with its
result."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from safetensors.torch import load_file

from core import access
from core.errors import UserError
from core.feedback.store import SQLFeedbackStore
from core.finetune.preference_loop import (
    DrillConfig,
    answer_prompts,
    dpo_pairs,
    rate,
    run_drill,
)
from core.generation import shared_prompt_cache
from core.generator_protocol import GenerationConfig
from core.settings import Settings


@pytest.mark.parametrize(("answer", "thumb"), [
    ("It is 7.3 km away.", "up"), ("7.3 kilometres", "up"), ("seven km", "down"),
    ("17.3 km", "down"),  # whole tokens only: 17.3 is not 7.3
])
def test_rule_is_answer_hit(answer, thumb):
    assert rate(answer, ["7.3 kilometres", "7.3 km"]) == thumb


def test_dpo_pairs_contrast_distinct_answers():
    samples = [("A", "up"), ("B", "down"), ("C", "down"), ("A", "up")]
    assert dpo_pairs(samples, 2) == [("A", "B"), ("A", "C")]
    assert dpo_pairs([("A", "up"), ("A", "up")], 2) == []  # nothing to contrast
    assert dpo_pairs([("A", "up"), ("B", "down"), ("C", "up")], 5) == [("A", "B"), ("C", "B")]


def test_shared_prompt_cache_gives_the_same_answers(fresh_llama, tiny_tokenizer):
    """Several samples per prompt read the prompt once and copy its KV cache: with greedy
    decoding every copy must answer exactly what one plain, uncached generate answers, for
    prompts of different lengths in one left-padded batch."""
    model = fresh_llama()
    texts = ["short one", "a much longer prompt with many more words in it than the first",
             "middle sized prompt here", "x"]
    greedy = GenerationConfig(max_new_tokens=6)
    one = answer_prompts(model, tiny_tokenizer, texts, greedy, batch_size=8)
    three = answer_prompts(model, tiny_tokenizer, texts, greedy, batch_size=8, samples=3)
    assert all(len(a) == 1 and a[0] for a in one)
    assert three == [a * 3 for a in one]


def test_shared_prompt_cache_gives_the_same_logits(fresh_llama, tiny_tokenizer, monkeypatch):
    """The copied cache continues exactly where a plain generate would be: same next-token
    logits at every step for every row, left padding included (positions must match)."""
    import torch

    model = fresh_llama()
    # the tokenizer is session-wide: restored after this test (a BERT test padding on the
    # left would see other position ids)
    monkeypatch.setattr(tiny_tokenizer, "padding_side", "left")
    enc = dict(tiny_tokenizer(["short one", "a much longer prompt with many more words"],
                              return_tensors="pt", padding=True, add_special_tokens=False))
    enc.pop("token_type_ids", None)
    greedy = {"max_new_tokens": 3, "do_sample": False, "output_logits": True,
              "return_dict_in_generate": True, "pad_token_id": tiny_tokenizer.pad_token_id}
    with torch.inference_mode():
        plain = model.generate(**{k: v.repeat_interleave(2, 0) for k, v in enc.items()},
                               **greedy)
        shared = dict(enc)
        extra = shared_prompt_cache(model, shared, 2)
        cached = model.generate(**shared, **extra, **greedy)
    assert shared["input_ids"].shape[0] == 4
    for a, b in zip(plain.logits, cached.logits, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_bf16_answers_come_from_a_copy(fresh_llama):
    import torch

    from core.finetune.preference_loop import inference_model

    model = fresh_llama()
    copy = inference_model(model, "bf16")
    assert copy is not model and copy.dtype == torch.bfloat16 and model.dtype == torch.float32
    assert inference_model(model, "fp32") is model


def test_generation_deadline_leaves_the_rest_unanswered(fresh_llama, tiny_tokenizer):
    model = fresh_llama()
    out = answer_prompts(model, tiny_tokenizer, ["a b", "c d e"],
                         GenerationConfig(max_new_tokens=3), batch_size=1, deadline=0.0)
    assert out == [None, None]


def test_no_generation_batch_starts_that_would_end_past_the_deadline(fresh_llama,
                                                                     tiny_tokenizer,
                                                                     monkeypatch):
    """A clock that moves 1 s per reading: the first batch may end by the deadline (2.5 s
    away), the next, taken to last as long as the one before, would not, so it never starts."""
    from types import SimpleNamespace

    from core.finetune import preference_loop

    ticks = iter(range(100, 200))
    monkeypatch.setattr(preference_loop, "time",
                        SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    out = answer_prompts(fresh_llama(), tiny_tokenizer, ["a b", "c d e", "f g"],
                         GenerationConfig(max_new_tokens=3), batch_size=1, deadline=102.5)
    assert sum(o is not None for o in out) == 1  # one batch (the shortest prompt first)


def _qa(tmp_path, n_train=4, n_test=6):
    rows = [{"question": f"What is item {i}?", "answer": f"thing {i}", "split": "train"}
            for i in range(n_train)]
    rows += [{"question": f"Where is place {i}?", "answer": f"spot {i}", "split": "test"}
             for i in range(n_test)]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return str(path)


def _parity(answer, item):  # a stand-in user: 👍 for an even number of characters
    return "up" if len(answer) % 2 == 0 else "down"


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_drill_trains_and_reports_before_after(folder_generator, tmp_path, method):
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    fb = SQLFeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}")
    config = DrillConfig(questions=4, qa=_qa(tmp_path), mode="base", samples=4,
                         temperature=2.0, max_new_tokens=6, method=method, epochs=1,
                         batch_size=2, adapter=f"drill-{method}", learning_rate=1e-2)
    said: list[float] = []
    out = run_drill(settings, config, generator=folder_generator, feedback=fb, rule=_parity,
                    hooks=__import__("core.training.callbacks", fromlist=["x"]).TrainingHooks(
                        progress=lambda f, m: said.append(f)))
    cli = out.to_cli()
    assert {"metric", "before", "after", "delta", "delta_ci95", "seconds"} <= set(cli)
    assert cli["delta"] == pytest.approx(cli["after"] - cli["before"], abs=1e-4)
    assert cli["delta_ci95"][0] <= cli["delta"] <= cli["delta_ci95"][1]
    assert cli["heldout_questions"] == 6 and cli["train_questions"] == 4
    assert cli["ratings"]["ratings"] == 16 and cli["steps"] >= 1
    assert said[-1] == 1.0 and said == sorted(said)
    # every drill rating is simulated: none reaches real users' lists
    assert fb.list_outputs() == []
    sim = fb.list_outputs(source="simulated")
    assert len(sim) == 16 + 2 * 6
    assert {r.page for r in sim} == {"drill"} and all(r.rating for r in sim)
    sampled = [r for r in sim if "sample" in r.extra]
    assert all(r.rating == _parity(r.output, None) for r in sampled)
    after = [r for r in sim if r.extra.get("side") == "after"]
    assert {r.adapter_id for r in after} == {f"drill-{method}"}
    assert np.mean([r.rating == "up" for r in after]) == pytest.approx(cli["after"], abs=1e-4)
    folder = settings.data_dir / "adapters" / f"drill-{method}"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["source"] == "drill" and meta["before_after"]["n"] == 6
    assert meta["before_after"]["helped"] == (cli["delta_ci95"][0] > 0)
    weights = load_file(str(folder / "adapter_model.safetensors"))
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in weights.items())  # it trained
    fb.close()


def test_drill_needs_the_train_role(tmp_path, monkeypatch):
    demo = access.actor_for("demo", session="s", admin=False)
    with pytest.raises(access.PermissionDenied):
        run_drill(Settings(data_dir=tmp_path), DrillConfig(), actor=demo)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"samples": 1}, "samples must be 2..32"), ({"mode": "finetuned"}, "mode must be one of"),
    ({"method": "sft"}, "method must be one of"), ({"adapter": "../x"}, "adapter name must"),
    ({"minutes": 0}, "minutes must be"),
])
def test_bad_config_refused(kwargs, message):
    with pytest.raises(UserError, match=message):
        DrillConfig(**kwargs)


def test_cli_drill_refuses_when_nothing_can_be_contrasted(tiny_env, tmp_path, capsys,
                                                          monkeypatch):
    """A random tiny model never writes 'zebra quantum': all 32 samples (4 questions x 8) get
    👎, stored as simulated, and the drill stops with a message saying why (exit code 2),
    training nothing. The CLI loads the model once: no shared generator, one training copy."""
    from core import loaders
    from core.cli import main
    from core.feedback.store import open_store
    from core.training import copy

    def no_shared(settings):
        raise AssertionError("the drill loaded the shared generator as well")

    monkeypatch.setattr(loaders, "load_generator", no_shared)
    loads = []
    real_copy = copy.training_copy
    monkeypatch.setattr(copy, "training_copy",
                        lambda *a, **k: loads.append(a) or real_copy(*a, **k))

    rows = [{"question": f"Q{i}?", "answer": "zebra quantum", "split": s}
            for i, s in enumerate(["train"] * 4 + ["test"] * 2)]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(r) for r in rows))
    code = main(["feedback", "drill", "--mode", "base", "--qa", str(qa), "--questions", "4",
                 "--max-new-tokens", "4", "--adapter", "cli-drill"])
    err = capsys.readouterr().err
    assert code == 2 and "no question got both a 👍 and a 👎" in err and "0 of 32" in err
    store = open_store(tiny_env)
    assert store.list_outputs() == [] and len(store.list_outputs(source="simulated")) == 32
    store.close()
    assert not (tiny_env.data_dir / "adapters" / "cli-drill").exists()
    assert len(loads) == 1


def test_drill_out_of_time_before_sampling_says_so(folder_generator, tmp_path):
    """--minutes is a budget: with no time left for sampling, nothing is sampled or trained,
    and the message names the budget."""
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    fb = SQLFeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}")
    config = DrillConfig(questions=4, qa=_qa(tmp_path), mode="base", max_new_tokens=2,
                         minutes=0.01, adapter="late")
    with pytest.raises(UserError, match=r"--minutes 0\.01 ran out before any training question"):
        run_drill(settings, config, generator=folder_generator, feedback=fb, rule=_parity)
    assert fb.list_outputs(source="simulated") == []
    assert not (settings.data_dir / "adapters" / "late").exists()
    fb.close()


def test_cli_drill_help_states_the_rule(capsys):
    from core.cli import main

    with pytest.raises(SystemExit):
        main(["feedback", "drill", "--help"])
    out = capsys.readouterr().out
    assert "simulated user gives" in out and "--include" not in out and "--minutes" in out


def test_drill_in_rag_mode_answers_from_retrieved_chunks(tiny_env, folder_generator, tmp_path):
    """rag mode: prompts are built by the answer mode (retrieve, then answer), and every
    stored simulated answer names the chunks it was given."""
    from core.rag.store import KnowledgeStore
    from tests.rag.conftest import HashEmbedder

    kb = KnowledgeStore(tiny_env, HashEmbedder(), embedder_id=tiny_env.embedding_model)
    fb = SQLFeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}")
    config = DrillConfig(questions=2, heldout=2, qa=_qa(tmp_path), kb="mini", mode="rag",
                         samples=2, temperature=2.0, max_new_tokens=4, epochs=1, batch_size=2,
                         top_k=2, adapter="drill-rag")
    thumbs = itertools.cycle(["up", "down"])  # every question's two samples: one of each
    out = run_drill(tiny_env, config, generator=folder_generator, store=kb, feedback=fb,
                    rule=lambda answer, item: next(thumbs)).to_cli()
    assert out["mode"] == "rag" and out["heldout_questions"] == 2
    sim = fb.list_outputs(source="simulated")
    assert sim and all(r.mode == "rag" and 1 <= len(r.retrieved_ids) <= 2 for r in sim)
    fb.close()


def test_the_drill_holds_out_the_split_it_is_given(tmp_path):
    """Settings are chosen on dev (split="dev"); the test split is reported."""
    from core.finetune.preference_loop import _items

    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps({"question": f"Q{i}?", "answer": f"a{i}", "split": s})
                            for i, s in enumerate(["train"] * 3 + ["dev"] * 2 + ["test"] * 4)))
    for split, n in (("dev", 2), ("test", 4)):
        train, held = _items(DrillConfig(qa=str(qa), split=split))
        assert len(train) == 3 and len(held) == n
    with pytest.raises(UserError, match="split must be one of"):
        DrillConfig(split="train")
