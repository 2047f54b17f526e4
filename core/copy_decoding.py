"""Copy decoding: the model answers with a span of a given text, chosen by its own likelihood.

Greedy decoding where every next token must continue a contiguous span of the source text
(constrained decoding through transformers' ``prefix_allowed_tokens_fn``, De Cao et al. 2021,
"Autoregressive Entity Retrieval"): the first token may start at any word of the source, each
later token must extend the span, and the answer may end (end of sequence or a line break)
after any token. The answer is then always a substring of the evidence, and it is the model's
own choice: which span it finds most likely after the question, not a sentence picker's.

Spans are matched on the token ids of each suffix of the source tokenised on its own (from
each word start), which is how the model would tokenise an answer that begins there.

Example:
    >>> c = CopyConstraint(tok, ["The bridge opened in 1902."], stop_ids={0})  # doctest: +SKIP
    >>> tok.decode(c.allowed([]))  # any word start  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_WORD_START = re.compile(r"(?<!\S)\S")


class CopyConstraint:
    """The tokens allowed after ``generated`` so the answer stays a span of ``sources``."""

    def __init__(self, tokenizer, sources: Sequence[str], *, stop_ids: Iterable[int]):
        self.stop_ids = sorted(set(stop_ids))
        self.suffixes: list[list[int]] = []
        for text in sources:
            for match in _WORD_START.finditer(text):
                ids = tokenizer(text[match.start():], add_special_tokens=False)["input_ids"]
                if ids:
                    self.suffixes.append(list(ids))
        if not self.suffixes:
            raise ValueError("copy decoding needs a non-empty source text")

    def allowed(self, generated: Sequence[int]) -> list[int]:
        """Next tokens that keep ``generated`` a prefix of some suffix; the stop tokens too once
        anything was generated (never an empty list: generation must be able to end)."""
        n = len(generated)
        nxt = {s[n] for s in self.suffixes if len(s) > n and s[:n] == list(generated)}
        if n:
            nxt.update(self.stop_ids)
        return sorted(nxt) or self.stop_ids


def prefix_allowed_tokens_fn(constraints: Sequence[CopyConstraint], prompt_width: int):
    """The ``model.generate`` hook for a left-padded batch: row ``b`` follows
    ``constraints[b]``; its generated tokens are those after ``prompt_width``."""

    def allowed(batch_id: int, input_ids) -> list[int]:
        return constraints[batch_id].allowed(input_ids[prompt_width:].tolist())

    return allowed


def stop_token_ids(tokenizer, model) -> set[int]:
    """The ids that may end a copied answer: end of sequence (tokenizer and generation config)
    and a line break (every answer ends at the first one)."""
    ids: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, eos):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(v for v in value if isinstance(v, int))
    ids.update(tokenizer("\n", add_special_tokens=False)["input_ids"])
    return ids
