"""Text generation around one shared model: greedy or sampled, whole or streamed, thread-safe.

One :class:`Generator` wraps one model instance; a lock serialises generation so several
browser sessions can ask at once without interleaving outputs or racing on adapter switches.
Causal LMs get the chat template when the tokenizer has one; seq2seq models (Flan-T5) get the
plain prompt. Prompt construction for RAG lives elsewhere (core.rag).

Example:
    >>> gen.generate("Say hi", GenerationConfig(max_new_tokens=5)).text  # doctest: +SKIP
    'Hi! How can I'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from core.errors import UserError

MAX_PROMPT_CHARS = 200_000


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings; ``temperature == 0`` means greedy (deterministic)."""

    max_new_tokens: int = field(default=128, metadata={"help": "Tokens to generate at most."})
    min_new_tokens: int = field(default=0, metadata={"help": "Tokens to generate at least."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy decoding."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 = off."})

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 4096:
            raise UserError(f"max_new_tokens must be 1..4096, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise UserError(f"min_new_tokens must be 0..max_new_tokens, got {self.min_new_tokens}")
        if not 0.0 <= self.temperature <= 5.0:
            raise UserError(f"temperature must be 0..5, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0.5 <= self.repetition_penalty <= 3.0:
            raise UserError(f"repetition_penalty must be 0.5..3, got {self.repetition_penalty}")

    def generate_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


@dataclass(frozen=True)
class GenerationResult:
    text: str
    tokens: int
    prompt_tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "tokens": self.tokens, "prompt_tokens": self.prompt_tokens,
                "seconds": round(self.seconds, 4),
                "tokens_per_second": round(self.tokens_per_second, 3)}


class Generator:
    """A loaded model plus tokenizer; every generation holds ``self.lock``."""

    def __init__(self, model, tokenizer, *, model_id: str, device: str, is_seq2seq: bool):
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        self.is_seq2seq = is_seq2seq
        self.lock = threading.RLock()
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token

    @property
    def context_window(self) -> int:
        """Largest number of input tokens the model accepts (T5: its configured n_positions)."""
        cfg = self.model.config
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        limit = getattr(self.tokenizer, "model_max_length", 0)
        return limit if 0 < limit < 1_000_000 else 512

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_prompt(self, prompt: str, *, chat: bool = True) -> dict[str, torch.Tensor]:
        """Tokenise ``prompt`` (through the chat template for chat causal LMs)."""
        if not prompt.strip():
            raise UserError("the prompt is empty")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise UserError(f"the prompt has {len(prompt):,} characters; the limit is "
                            f"{MAX_PROMPT_CHARS:,}")
        if chat and not self.is_seq2seq and getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}]
            enc = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        else:
            enc = self.tokenizer(prompt, return_tensors="pt")
        # Only what generate() consumes: BERT-style tokenizers also return token_type_ids.
        enc = {k: enc[k].to(self.model.device) for k in ("input_ids", "attention_mask") if k in enc}
        n = enc["input_ids"].shape[1]
        if n > self.context_window:
            raise UserError(f"the prompt is {n} tokens; {self.model_id} accepts "
                            f"{self.context_window}: shorten it")
        return enc

    def _new_tokens(self, output_ids: torch.Tensor, prompt_len: int) -> torch.Tensor:
        return output_ids[0] if self.is_seq2seq else output_ids[0][prompt_len:]

    def generate(self, prompt: str, config: GenerationConfig | None = None, *,
                 chat: bool = True) -> GenerationResult:
        """Generate a whole answer; returns text, token counts and wall time."""
        config = config or GenerationConfig()
        enc = self.encode_prompt(prompt, chat=chat)
        prompt_len = enc["input_ids"].shape[1]
        with self.lock, torch.inference_mode():
            start = time.perf_counter()
            out = self.model.generate(**enc, **config.generate_kwargs(),
                                      pad_token_id=self.tokenizer.pad_token_id)
            seconds = time.perf_counter() - start
        new = self._new_tokens(out, prompt_len)
        new = new[new != self.tokenizer.pad_token_id] if self.is_seq2seq else new
        text = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        return GenerationResult(text, int(new.shape[0]), prompt_len, seconds)

    def stream(self, prompt: str, config: GenerationConfig | None = None, *,
               chat: bool = True) -> StreamingAnswer:
        """Start generation in a worker thread; iterate the result for text pieces."""
        from transformers import TextIteratorStreamer

        config = config or GenerationConfig()
        enc = self.encode_prompt(prompt, chat=chat)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=not self.is_seq2seq,
                                        skip_special_tokens=True, timeout=600)
        answer = StreamingAnswer(streamer, enc["input_ids"].shape[1], self.count_tokens)

        def work() -> None:
            with self.lock, torch.inference_mode():
                answer.started = time.perf_counter()
                try:
                    self.model.generate(**enc, **config.generate_kwargs(), streamer=streamer,
                                        pad_token_id=self.tokenizer.pad_token_id)
                except Exception as exc:  # surfaced to the reader, never swallowed
                    answer.error = exc
                    streamer.end()

        threading.Thread(target=work, daemon=True, name="generate").start()
        return answer


class StreamingAnswer:
    """Iterable of text pieces; ``result`` is set once iteration ends."""

    def __init__(self, streamer, prompt_tokens: int, count_tokens):
        self._streamer = streamer
        self._prompt_tokens = prompt_tokens
        self._count_tokens = count_tokens
        self.started: float | None = None
        self.error: Exception | None = None
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[str]:
        pieces: list[str] = []
        for piece in self._streamer:
            pieces.append(piece)
            yield piece
        if self.error is not None:
            raise RuntimeError(f"generation failed: {self.error}") from self.error
        seconds = time.perf_counter() - (self.started or time.perf_counter())
        text = "".join(pieces).strip()
        self.result = GenerationResult(text, self._count_tokens(text), self._prompt_tokens,
                                       seconds)
