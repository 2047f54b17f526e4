"""Multiple-choice scoring by log-likelihood: which option does the model find most probable?

For a prompt ``x`` (the mode's own prompt: the bare question for base/fine-tuned, retrieved
context + question for RAG) and each choice ``c = (c_1..c_n)`` tokens, the model gives
``log P(c | x) = sum_i log P(c_i | x, c_<i)`` (teacher forcing, one forward pass). This is the
knowledge measure of Ovadia et al. (2024) and of lm-evaluation-harness; it works even when the
model is too small to generate the answer verbatim.

Two selection rules are computed, and both reported:
* ``sum``: argmax of the total log-probability (lm-eval-harness ``acc``); favours short choices.
* ``mean`` (**the one reported as ``mc_accuracy``**): argmax of the log-probability per token,
  ``log P(c | x) / n`` (length-normalised), because our choices differ in length
  ("7.3 kilometres" vs "11.4 kilometres" tokenise differently) and the sum would penalise the
  longer ones regardless of knowledge.

Causal LMs: the prompt goes through the chat template (assistant turn opened) exactly as at
generation time, is run once, and each choice continues from a copy of its KV cache. Without
a chat template the choice is scored as " " + choice after the prompt. Seq2seq: the encoder
reads the prompt, the decoder is scored on the choice followed by EOS. A generator on a model
server scores through the server (:meth:`core.remote_generation.RemoteGenerator.score_choices`)
or raises ``LikelihoodUnavailable`` saying why it cannot.

Example:
    >>> score_choices(gen, "Capital of France?", ["Paris", "Rome"]).best_mean  # doctest: +SKIP
    0
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from core.errors import UserError


@dataclass(frozen=True)
class ChoiceScores:
    """Per-choice summed log-probabilities and token counts, and both argmax rules."""

    logprob_sums: tuple[float, ...]
    token_counts: tuple[int, ...]

    @property
    def logprob_means(self) -> tuple[float, ...]:
        return tuple(s / max(1, n) for s, n in zip(self.logprob_sums, self.token_counts,
                                                    strict=True))

    @property
    def best_sum(self) -> int:
        return max(range(len(self.logprob_sums)), key=self.logprob_sums.__getitem__)

    @property
    def best_mean(self) -> int:
        means = self.logprob_means
        return max(range(len(means)), key=means.__getitem__)


def _uses_chat(generator, chat: bool) -> bool:
    return chat and not generator.is_seq2seq and bool(
        getattr(generator.tokenizer, "chat_template", None))


def _continuation_ids(generator, choice: str, chat: bool) -> list[int]:
    text = choice if _uses_chat(generator, chat) else " " + choice
    ids = list(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
    if not ids:
        raise UserError(f"choice {choice!r} has no tokens")
    return ids


def _causal_scores(generator, model, prompt: str, choices: Sequence[str],
                   chat: bool) -> ChoiceScores:
    enc = generator.encode_prompt(prompt, chat=chat)
    sums, counts = [], []
    out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    for choice in choices:
        ids = _continuation_ids(generator, choice, chat)
        total = float(first[ids[0]])
        if len(ids) > 1:
            cont = torch.tensor([ids], device=enc["input_ids"].device)
            mask = torch.ones(1, enc["input_ids"].shape[1] + len(ids), dtype=torch.long,
                              device=cont.device)
            step = model(input_ids=cont[:, :-1], attention_mask=mask[:, :-1],
                         past_key_values=copy.deepcopy(out.past_key_values), use_cache=True)
            logp = torch.log_softmax(step.logits[0].float(), dim=-1)
            total += float(logp.gather(1, cont[0, 1:].unsqueeze(1)).sum())
        sums.append(total)
        counts.append(len(ids))
    return ChoiceScores(tuple(sums), tuple(counts))


def _seq2seq_scores(generator, model, prompt: str, choices: Sequence[str]) -> ChoiceScores:
    enc = generator.encode_prompt(prompt, chat=False)
    eos = generator.tokenizer.eos_token_id
    sums, counts = [], []
    for choice in choices:
        ids = list(generator.tokenizer(choice, add_special_tokens=False)["input_ids"])
        ids = ids + ([eos] if eos is not None else [])
        labels = torch.tensor([ids], device=enc["input_ids"].device)
        logits = model(**enc, labels=labels).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1).gather(1, labels[0].unsqueeze(1))
        sums.append(float(logp.sum()))
        counts.append(len(ids))
    return ChoiceScores(tuple(sums), tuple(counts))


def score_choices(generator, prompt: str, choices: Sequence[str], *, chat: bool = True,
                  adapter: str | None = None) -> ChoiceScores:
    """Log-likelihood of each choice after ``prompt`` (with ``adapter`` on, if named); holds
    ``generator.lock`` throughout (:meth:`~core.generation.Generator.adapter_model`)."""
    if len(choices) < 2:
        raise UserError("multiple-choice scoring needs at least two choices")
    if hasattr(generator, "score_choices"):  # a model server: /v1/completions echo + logprobs
        return generator.score_choices(prompt, choices, chat=chat, adapter=adapter)
    with generator.adapter_model(adapter) as model, torch.inference_mode():
        if generator.is_seq2seq:
            return _seq2seq_scores(generator, model, prompt, choices)
        return _causal_scores(generator, model, prompt, choices, chat)
