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
generation time and is run once; all choices then continue from its KV cache in one batched
forward pass (two passes per question instead of one per choice plus one). Without
a chat template the choice is scored as " " + choice after the prompt. Seq2seq: the encoder
reads the prompt, the decoder is scored on the choice followed by EOS. A generator on a model
server scores through the server (:meth:`core.remote_generation.RemoteGenerator.score_choices`)
or raises ``LikelihoodUnavailable`` saying why it cannot.

Example:
    >>> score_choices(gen, "Capital of France?", ["Paris", "Rome"]).best_mean  # doctest: +SKIP
    0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.choice_scores import ChoiceScores
from core.errors import UserError
from core.generator_protocol import has_chat_template

__all__ = ["ChoiceScores", "score_choices"]


def _uses_chat(generator, chat: bool) -> bool:
    return chat and not generator.is_seq2seq and has_chat_template(generator.tokenizer)


def _continuation_ids(generator, choice: str, chat: bool) -> list[int]:
    text = choice if _uses_chat(generator, chat) else " " + choice
    ids = list(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
    if not ids:
        raise UserError(f"choice {choice!r} has no tokens")
    return ids


def _causal_scores(generator, model, prompt: str, choices: Sequence[str],
                   chat: bool) -> ChoiceScores:
    """Two forward passes whatever the number of choices: the prompt once, then every
    choice's remaining tokens as one right-padded batch over the prompt's KV cache (repeated
    once per choice; padding sits after each choice's tokens, so causal attention never sees
    it)."""
    enc = generator.encode_prompt(prompt, chat=chat)
    conts = [_continuation_ids(generator, choice, chat) for choice in choices]
    out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    sums = [float(first[ids[0]]) for ids in conts]
    longer = [i for i, ids in enumerate(conts) if len(ids) > 1]
    if longer:
        device = enc["input_ids"].device
        prompt_len, width = enc["input_ids"].shape[1], max(len(conts[i]) for i in longer) - 1
        pad = generator.tokenizer.pad_token_id or 0
        inputs = torch.full((len(longer), width), pad, dtype=torch.long, device=device)
        mask = torch.zeros(len(longer), prompt_len + width, dtype=torch.long, device=device)
        mask[:, :prompt_len] = 1
        for row, i in enumerate(longer):
            n = len(conts[i]) - 1
            inputs[row, :n] = torch.tensor(conts[i][:-1], device=device)
            mask[row, prompt_len:prompt_len + n] = 1
        past = out.past_key_values
        if past is not None and len(longer) > 1:
            past.batch_repeat_interleave(len(longer))
        step = model(input_ids=inputs, attention_mask=mask, past_key_values=past,
                     use_cache=False)
        logp = torch.log_softmax(step.logits.float(), dim=-1)
        for row, i in enumerate(longer):
            targets = torch.tensor(conts[i][1:], device=device)
            sums[i] += float(logp[row, torch.arange(len(targets)), targets].sum())
    return ChoiceScores(tuple(sums), tuple(len(ids) for ids in conts))


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
