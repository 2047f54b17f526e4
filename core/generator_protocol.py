"""What a generator is: decoding settings, results, the chat template, and :class:`TextGenerator`.

Two generators implement :class:`TextGenerator`: :class:`core.generation.Generator` (weights in
this process) and :class:`core.remote_generation.RemoteGenerator` (a model server); answer
modes, evaluation and the preference loop take either (tests pass fakes of the same shape).
Both render a chat prompt with :func:`chat_text`, the one place a prompt meets a chat template,
and cut answers with :func:`cut_at_stop`. Decoding itself lives in the two generator modules.

Example:
    >>> cut_at_stop("\\n Ada Moreno.\\nQuestion: ...", ("\\n",))
    'Ada Moreno.'
    >>> GenerationConfig(temperature=0.8, top_k=50).generate_kwargs()["top_k"]
    50
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import UserError

MAX_PROMPT_CHARS = 200_000


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings; ``temperature == 0`` means greedy (deterministic)."""

    max_new_tokens: int = field(default=128, metadata={"help": "Tokens to generate at most."})
    min_new_tokens: int = field(default=0, metadata={"help": "Tokens to generate at least."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy decoding."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass."})
    top_k: int = field(default=0, metadata={"help": "Top-k cut-off when sampling; 0 = the "
                                                    "model's own default."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 = off."})
    stop: tuple[str, ...] = field(
        default=(), metadata={"help": "Stop once the answer (leading whitespace aside) contains "
                                      "one of these strings; the answer ends before it."})

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 4096:
            raise UserError(f"max_new_tokens must be 1..4096, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise UserError(f"min_new_tokens must be 0..max_new_tokens, got {self.min_new_tokens}")
        if not 0.0 <= self.temperature <= 5.0:
            raise UserError(f"temperature must be 0..5, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.top_k <= 10_000:
            raise UserError(f"top_k must be 0..10000, got {self.top_k}")
        if not 0.5 <= self.repetition_penalty <= 3.0:
            raise UserError(f"repetition_penalty must be 0.5..3, got {self.repetition_penalty}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise UserError(f"stop strings must be non-empty strings, got {self.stop!r}")

    def generate_kwargs(self) -> dict[str, object]:
        """``model.generate`` keywords (transformers)."""
        kwargs: dict[str, object] = {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
            if self.top_k:
                kwargs["top_k"] = self.top_k
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


@dataclass(frozen=True)
class GenerationResult:
    text: str
    tokens: int
    prompt_tokens: int
    seconds: float  # generation wall time; in a batch, this answer's share of the batch's time
    batch_size: int = 1

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "tokens": self.tokens, "prompt_tokens": self.prompt_tokens,
                "seconds": round(self.seconds, 4),
                "tokens_per_second": round(self.tokens_per_second, 3)}


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """The answer up to the first stop string, leading whitespace ignored, stripped.

    Example: ``cut_at_stop("\\n Ada Moreno.\\nQuestion: ...", ("\\n",))`` -> ``'Ada Moreno.'``
    """
    text = text.lstrip()
    for s in stop:
        text = text.split(s, 1)[0]
    return text.strip()


def check_prompt(prompt: str) -> None:
    """UserError for an empty prompt or one over :data:`MAX_PROMPT_CHARS` characters."""
    if not prompt.strip():
        raise UserError("the prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(f"the prompt has {len(prompt):,} characters; the limit is "
                        f"{MAX_PROMPT_CHARS:,}")


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def chat_text(tokenizer, prompt: str, chat: bool = True) -> str:
    """The text a chat model reads for ``prompt``: one user turn, the assistant turn opened;
    ``prompt`` itself without ``chat`` or without a chat template. Tokenise the result with
    ``add_special_tokens=False`` (the template holds them).

    Example (SmolLM2): ``'<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'``.
    """
    if not chat or not has_chat_template(tokenizer):
        return prompt
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                         add_generation_prompt=True, tokenize=False)


class TextGenerator(Protocol):
    """A language model that answers prompts: in process, on a model server, or a test fake.

    ``generate_batch`` is the one batched method: ``samples`` answers per prompt (prompt-major:
    prompt i's at ``[i * samples, (i + 1) * samples)``); ``before_batch()`` is asked before
    each batch, True starting no more (the rest stay None); ``progress(fraction)`` hears after
    each. ``copy_from[i]``: prompt i's answer is a span of those texts (needs
    ``supports_copy``).
    """

    model_id: str
    device: str
    is_seq2seq: bool
    supports_copy: bool

    @property
    def tokenizer(self): ...

    @property
    def context_window(self) -> int: ...

    def label(self, adapter: str | None = None) -> str: ...

    def count_tokens(self, text: str) -> int: ...

    def load_adapter(self, name: str, registry=None): ...

    def generate(self, prompt: str, config: GenerationConfig | None = None, *,
                 chat: bool = True, adapter: str | None = None) -> GenerationResult: ...

    def generate_batch(self, prompts: Sequence[str], config: GenerationConfig | None = None, *,
                       chat: bool = True, adapter: str | None = None, batch_size: int = 8,
                       copy_from: Sequence[Sequence[str]] | None = None, samples: int = 1,
                       before_batch: Callable[[], bool] | None = None,
                       progress: Callable[[float], None] | None = None,
                       ) -> list[GenerationResult | None]: ...

    def stream(self, prompt: str, config: GenerationConfig | None = None, *,
               chat: bool = True, adapter: str | None = None) -> Iterable[str]: ...
