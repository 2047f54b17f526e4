"""Training examples for LoRA: knowledge-base chunks, paraphrases of them, or QA pairs.

Three data modes (Ovadia et al., EMNLP 2024, train on the raw chunks and on paraphrases):

* ``chunks``: unsupervised causal-LM examples, the chunk text itself; loss on every token.
  Chunks longer than ``max_length`` are cut into consecutive windows so no fact is dropped.
* ``paraphrases``: each chunk plus N rewordings. Offline we cannot call a paraphrase model, so
  rewordings come from :mod:`core.finetune.paraphrase` (deterministic sentence-level
  transformations, or the generator itself prompted to reword; see there for exactly how).
* ``qa``: supervised pairs from the QA file's **train split only** (:func:`train_items` refuses
  test rows). Chat models get the prompt through their chat template; the loss covers only the
  answer tokens (prompt labels are -100, ignored by cross-entropy).

Seq2seq models (T5) get (input, target) pairs instead: the first half of a chunk predicts the
second half; a question predicts its answer. This module builds token ids; it trains nothing.

Example:
    >>> ex = TrainExample(prompt="Q?", target="A.")
    >>> # causal: input_ids = ids("Q?") + ids("A.") + [eos]
    >>> #         labels    = [-100] * len(ids("Q?")) + ids("A.") + [eos]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from core.errors import UserError
from core.finetune.paraphrase import split_sentences, template_paraphrases
from core.qa import QAItem, train_items

IGNORE_INDEX = -100  # positions cross-entropy skips (torch.nn.CrossEntropyLoss ignore_index)


@dataclass(frozen=True)
class SourceChunk:
    """A piece of a knowledge base: the document it came from and its text."""

    document: str
    text: str


@dataclass(frozen=True)
class TrainExample:
    """A training pair; ``prompt == ""`` means unsupervised (loss on the whole target)."""

    prompt: str
    target: str
    kind: str = "chunk"


def chunk_examples(chunks: Sequence[SourceChunk]) -> list[TrainExample]:
    """One unsupervised example per non-empty chunk."""
    return [TrainExample("", c.text.strip(), "chunk") for c in chunks if c.text.strip()]


def paraphrase_examples(chunks: Sequence[SourceChunk], per_chunk: int, *, seed: int = 0,
                        rewordings: dict[int, list[str]] | None = None) -> list[TrainExample]:
    """Each chunk followed by ``per_chunk`` rewordings.

    ``rewordings`` (chunk index -> texts, e.g. from the generator) are used first; the rest
    are filled with deterministic template paraphrases so every chunk gets exactly
    ``per_chunk`` extra examples.
    """
    examples: list[TrainExample] = []
    for i, chunk in enumerate(chunks):
        if not chunk.text.strip():
            continue
        examples.append(TrainExample("", chunk.text.strip(), "chunk"))
        given = list((rewordings or {}).get(i, []))[:per_chunk]
        for text in given:
            examples.append(TrainExample("", text, "generated-paraphrase"))
        missing = per_chunk - len(given)
        if missing > 0:
            for text in template_paraphrases(chunk.text, chunk.document, missing,
                                             seed=seed + i):
                examples.append(TrainExample("", text, "template-paraphrase"))
    return examples


def qa_examples(items: Sequence[QAItem], tokenizer, *, is_seq2seq: bool,
                question_prompt: Callable[[str], str] = lambda q: q) -> list[TrainExample]:
    """Supervised (prompt, answer) pairs from train-split items; test rows raise UserError.

    ``question_prompt`` turns a question into the text the model sees at answer time (use the
    same builder as the ``finetuned`` answer mode so training matches inference).
    """
    return [TrainExample(chat_prompt(tokenizer, question_prompt(item.question), is_seq2seq),
                         item.answer, "qa") for item in train_items(list(items))]


def chat_prompt(tokenizer, text: str, is_seq2seq: bool) -> str:
    """``text`` through the tokenizer's chat template (with the assistant turn opened), if any."""
    if is_seq2seq or not getattr(tokenizer, "chat_template", None):
        return text
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                         add_generation_prompt=True)


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _end_id(tokenizer) -> list[int]:
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    return [eos] if eos is not None else []


def encode_causal(example: TrainExample, tokenizer, max_length: int) -> list[dict[str, list]]:
    """Token ids and labels for a causal LM; long unsupervised texts become several windows."""
    end = _end_id(tokenizer)
    target = _ids(tokenizer, example.target) + end
    if not example.prompt:
        windows = [target[i:i + max_length] for i in range(0, len(target), max_length)]
        return [{"input_ids": w, "labels": list(w)} for w in windows if len(w) > 1]
    prompt = _ids(tokenizer, example.prompt)
    target = target[:max_length // 2] if len(target) > max_length // 2 else target
    prompt = prompt[-(max_length - len(target)):]  # keep the end: the question and turn opener
    return [{"input_ids": prompt + target, "labels": [IGNORE_INDEX] * len(prompt) + target}]


def encode_seq2seq(example: TrainExample, tokenizer, max_length: int) -> list[dict[str, list]]:
    """Encoder ids and decoder labels; an unsupervised chunk predicts its second half."""
    source, target = example.prompt, example.target
    if not source:
        sentences = split_sentences(target)
        if len(sentences) >= 2:
            half = len(sentences) // 2
            source, target = " ".join(sentences[:half]), " ".join(sentences[half:])
        else:
            source = "Continue:"
    src = _ids(tokenizer, source)[:max_length - 1] + _end_id(tokenizer)
    tgt = _ids(tokenizer, target)[:max_length - 1] + _end_id(tokenizer)
    return [{"input_ids": src, "labels": tgt}]


def encode_examples(examples: Sequence[TrainExample], tokenizer, *, max_length: int,
                    is_seq2seq: bool) -> list[dict[str, list]]:
    """Encode every example; raises UserError if nothing is left to train on."""
    encode = encode_seq2seq if is_seq2seq else encode_causal
    features = [f for ex in examples for f in encode(ex, tokenizer, max_length)]
    if not features:
        raise UserError("no training examples: the knowledge base or QA split is empty")
    return features


def batches(features: Sequence[dict[str, list]], batch_size: int, pad_id: int, *,
            seed: int, epoch: int) -> list[dict[str, torch.Tensor]]:
    """Shuffled (per epoch, reproducibly) and right-padded batches with attention masks."""
    order = list(range(len(features)))
    random.Random(seed * 1000 + epoch).shuffle(order)
    out = []
    for start in range(0, len(order), batch_size):
        group = [features[i] for i in order[start:start + batch_size]]
        out.append(collate(group, pad_id))
    return out


def collate(group: Sequence[dict[str, list]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad ``input_ids`` with ``pad_id`` and ``labels`` with -100 to the longest in the group."""
    width = max(len(f["input_ids"]) for f in group)
    lwidth = max(len(f["labels"]) for f in group)
    ids = [f["input_ids"] + [pad_id] * (width - len(f["input_ids"])) for f in group]
    mask = [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in group]
    labels = [f["labels"] + [IGNORE_INDEX] * (lwidth - len(f["labels"])) for f in group]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
            "labels": torch.tensor(labels)}


def count_target_tokens(features: Sequence[dict[str, list]]) -> int:
    """Tokens that carry loss (labels != -100): the 'training tokens' in tokens/s."""
    return sum(sum(1 for t in f["labels"] if t != IGNORE_INDEX) for f in features)
