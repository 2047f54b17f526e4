"""Likelihood scoring picks the most probable choice; sum and length-normalised rules differ
exactly where the hand computation says they should."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from core.errors import UserError
from core.evaluation.likelihood import score_choices
from core.generation import Generator


class UnigramLM(torch.nn.Module):
    """A 'language model' whose next-token distribution is fixed: P(t) = probs[t] everywhere.

    Then log P(choice | prompt) = sum of log probs[t] over the choice's tokens, by hand.
    """

    def __init__(self, probs: torch.Tensor):
        super().__init__()
        self.register_buffer("logp", probs.log())
        self.config = SimpleNamespace(max_position_embeddings=512)

    @property
    def device(self):
        return self.logp.device

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=None,
                **kwargs):
        logits = self.logp.expand(input_ids.shape[0], input_ids.shape[1], -1).clone()
        return SimpleNamespace(logits=logits, past_key_values=None)


@pytest.fixture
def unigram(tiny_tokenizer):
    ids = {w: tiny_tokenizer.convert_tokens_to_ids(w) for w in ("paris", "new", "york")}
    probs = torch.full((tiny_tokenizer.vocab_size,), 0.3 / (tiny_tokenizer.vocab_size - 3))
    probs[ids["paris"]], probs[ids["new"]], probs[ids["york"]] = 0.1, 0.3, 0.3
    gen = Generator(UnigramLM(probs), tiny_tokenizer, model_id="unigram", device="cpu",
                    is_seq2seq=False)
    return gen


def test_known_log_probs_and_both_rules(unigram):  # float32 sums: compare to 1e-4
    """paris: one token, log 0.1 = -2.303 (mean -2.303); new york: 2·log 0.3 = -2.408
    (mean -1.204). The sum prefers paris (-2.303 > -2.408), the per-token mean prefers
    new york (-1.204 > -2.303): the two rules disagree, as designed."""
    scores = score_choices(unigram, "which city?", ["paris", "new york"], chat=False)
    assert scores.token_counts == (1, 2)
    assert scores.logprob_sums == pytest.approx((math.log(0.1), 2 * math.log(0.3)), abs=1e-4)
    assert scores.logprob_means == pytest.approx((math.log(0.1), math.log(0.3)), abs=1e-4)
    assert scores.best_sum == 0 and scores.best_mean == 1


def test_cached_path_matches_full_sequence_logprobs(fresh_tiny_llama_generator, tiny_tokenizer):
    """Scoring with a KV cache equals the log-probs of the whole sequence in one pass."""
    gen = fresh_tiny_llama_generator
    prompt, choices = "the keeper is", ["marta quill", "ian cole of the north"]
    scores = score_choices(gen, prompt, choices, chat=False)
    prompt_ids = tiny_tokenizer(prompt, return_tensors="pt")["input_ids"][0]
    for choice, got in zip(choices, scores.logprob_sums, strict=True):
        cont = tiny_tokenizer(" " + choice, add_special_tokens=False)["input_ids"]
        ids = torch.cat([prompt_ids, torch.tensor(cont)]).unsqueeze(0)
        with torch.no_grad():
            logp = torch.log_softmax(gen.model(input_ids=ids).logits[0], dim=-1)
        n = len(prompt_ids)
        expected = sum(float(logp[n - 1 + i, t]) for i, t in enumerate(cont))
        assert got == pytest.approx(expected, abs=1e-4)


def test_trained_model_picks_the_memorised_choice(fresh_llama, tiny_tokenizer):
    """After LoRA memorises 'the keeper is marta quill', that choice has the highest score."""
    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora

    result = train_lora(fresh_llama(), tiny_tokenizer,
                        [TrainExample("the keeper is", "marta quill")] * 2,
                        LoraSettings(epochs=15, learning_rate=3e-2, dropout=0.0, batch_size=2,
                                     target_modules=("q_proj", "v_proj", "lm_head")))
    gen = Generator(result.model, tiny_tokenizer, model_id="t", device="cpu", is_seq2seq=False)
    choices = ["ian cole", "marta quill", "li wei", "sam roy"]
    # training had no leading space: score the prompt + choice as it was trained
    scores = score_choices(gen, "the keeper is", choices, chat=True)
    assert scores.best_mean == 1 and scores.best_sum == 1


def test_needs_two_choices(unigram):
    with pytest.raises(UserError, match="two choices"):
        score_choices(unigram, "q", ["only"])


@pytest.mark.parametrize("choices", [
    ["marta quill", "ian cole of the north", "li", "sam roy the elder of the keep"],
    ["a", "b"],  # one-token choices: no second pass at all
])
def test_one_pass_scoring_equals_scoring_each_choice_alone(fresh_tiny_llama_generator,
                                                          tiny_tokenizer, choices):
    """The batched pass (cache repeated per choice, right-padded to the longest) gives each
    choice the log-probability of prompt + that choice run alone, without cache or padding."""
    gen = fresh_tiny_llama_generator
    together = score_choices(gen, "the keeper is", choices, chat=False)
    prompt_ids = tiny_tokenizer("the keeper is", return_tensors="pt")["input_ids"][0]
    for i, choice in enumerate(choices):
        cont = tiny_tokenizer(" " + choice, add_special_tokens=False)["input_ids"]
        ids = torch.cat([prompt_ids, torch.tensor(cont)]).unsqueeze(0)
        with torch.no_grad():
            logp = torch.log_softmax(gen.model(input_ids=ids).logits[0], dim=-1)
        n = len(prompt_ids)
        alone = sum(float(logp[n - 1 + j, t]) for j, t in enumerate(cont))
        assert together.logprob_sums[i] == pytest.approx(alone, abs=1e-4)
        assert together.token_counts[i] == len(cont)


def test_one_pass_runs_two_forward_passes(fresh_tiny_llama_generator, monkeypatch):
    """Four choices cost two model calls (prompt, then all choices), not five."""
    gen = fresh_tiny_llama_generator
    calls = []
    original = gen.model.forward

    def counting(*args, **kwargs):
        calls.append(kwargs.get("input_ids").shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(gen.model, "forward", counting)
    score_choices(gen, "the keeper is", ["marta quill", "ian cole", "li wei", "sam roy"],
                  chat=False)
    assert len(calls) == 2 and calls[1][0] == 4
