"""Text generation around one shared model: greedy or sampled, whole or streamed, thread-safe.

One :class:`Generator` wraps one model instance; a lock serialises generation so several
browser sessions can ask at once without interleaving outputs or racing on adapter switches.
Causal LMs get the chat template when the tokenizer has one
(:func:`core.generator_protocol.chat_text`); seq2seq models (Flan-T5) get the plain prompt.
It implements :class:`~core.generator_protocol.TextGenerator`, as the model-server client does.
Prompt construction for RAG lives elsewhere (core.rag).

Adapters belong to the generator: ``generate``/``stream`` take ``adapter=NAME`` and
:meth:`Generator.adapter_model` gives the model for a forward pass with one. The first adapter
wraps the model in one ``PeftModel`` (LoRA layers injected in place), later ones are added
with ``load_adapter``; adapter layers stay *disabled* except inside a locked call that asked
for an adapter (peft's ``set_adapter`` + ``enable_adapter_layers``), so base answers are
bit-identical to the model without adapters. Adapters come from an
:class:`~core.adapters.AdapterRegistry` (the generator's own, or one passed to
:meth:`Generator.load_adapter`); a retrained adapter is reloaded, a deleted one dropped.

Example:
    >>> gen.generate("Say hi", GenerationConfig(max_new_tokens=5)).text  # doctest: +SKIP
    'Hi! How can I'
    >>> gen.generate("Who founded Orbis?", adapter="orbis").text  # doctest: +SKIP
    'Ada Moreno'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from core.adapters import CONFIG_FILE, watch_deletions
from core.copy_decoding import CopyConstraint, prefix_allowed_tokens_fn, stop_token_ids
from core.errors import UserError
from core.generator_protocol import (
    MAX_PROMPT_CHARS,
    GenerationConfig,
    GenerationResult,
    chat_text,
    check_prompt,
    cut_at_stop,
    has_chat_template,
)
from core.names import suggest_name

if TYPE_CHECKING:  # torch loads with the first model call, so CLI --help stays fast
    import torch

#: Re-exported: callers import the decoding types from here (:mod:`core.generator_protocol`).
__all__ = ["MAX_PROMPT_CHARS", "GenerationConfig", "GenerationResult", "Generator",
           "StreamingAnswer", "cut_at_stop", "shared_prompt_cache"]


class StopAfterText:
    """A per-row stopping criterion: a row is done once its new text (leading whitespace
    skipped) contains a stop string, so a newline before any answer does not end it empty."""

    def __init__(self, tokenizer, stop: tuple[str, ...], prompt_len: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, stop, prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:],
                                            skip_special_tokens=True)
        done = [any(s in t.lstrip() for s in self.stop) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class Generator:
    """A loaded model plus tokenizer and its adapters; every model call holds ``self.lock``.

    ``supports_copy``: it can decode constrained to spans of a text (:mod:`core.copy_decoding`).

    ``adapters`` is the :class:`~core.adapters.AdapterRegistry` that ``adapter=NAME`` loads
    from on first use (None: only adapters loaded with :meth:`load_adapter` are known).
    """

    supports_copy = True

    def __init__(self, model, tokenizer, *, model_id: str, device: str, is_seq2seq: bool,
                 adapters=None, dtype: str = ""):
        self.model = model  # the base model; LoRA layers, once loaded, live inside it (off)
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        #: what runs and ratings record: "int8" (quantised weights) or the weights' dtype
        self.dtype = dtype or str(getattr(model, "dtype", "")).removeprefix("torch.")
        self.is_seq2seq = is_seq2seq
        self.adapters = adapters
        self.lock = threading.RLock()
        self._peft = None  # the PeftModel wrapping self.model, once an adapter is loaded
        self._loaded: dict[str, tuple[str, str]] = {}  # name -> (folder, version stamp)
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token

    # -- adapters ----------------------------------------------------------------------------
    @property
    def loaded_adapters(self) -> list[str]:
        return list(self._loaded)

    def label(self, adapter: str | None = None) -> str:
        """``model_id``, plus `` + NAME`` with an adapter: ``'smollm2 + orbis'``."""
        return f"{self.model_id} + {adapter}" if adapter else self.model_id

    def load_adapter(self, name: str, registry=None):
        """Make adapter ``name`` available (reloaded if it was retrained); returns the PeftModel.

        ``registry`` defaults to the generator's own; the layers stay off until asked for.
        """
        from peft import PeftModel

        registry = registry or self.adapters
        if registry is None:
            raise UserError(f"adapter {name!r} is not loaded on this generator and it has no "
                            "adapter registry to load it from")
        folder = registry.path(name)
        if not (folder / CONFIG_FILE).is_file():
            raise UserError(f"no adapter named {folder.name!r}: train one on the Fine-tune page")
        key = folder.name
        with self.lock:
            version = (str(folder), registry.stamp(folder))
            if self._loaded.get(key) == version:
                return self._peft
            if key in self._loaded:
                self._drop(key)
            try:
                _dequantise_targets(self.model, folder / CONFIG_FILE)
                if self._peft is None:
                    self._peft = PeftModel.from_pretrained(
                        self.model, str(folder), adapter_name=key, is_trainable=False)
                else:
                    self._peft.load_adapter(str(folder), adapter_name=key, is_trainable=False)
            except (ValueError, KeyError, RuntimeError, OSError) as exc:
                raise UserError(f"adapter {key!r} does not fit {self.model_id}: "
                                f"{str(exc).splitlines()[0][:200]}") from exc
            self._peft.eval()
            self._peft.base_model.disable_adapter_layers()
            self._loaded[key] = version
            watch_deletions(self)
            return self._peft

    def _drop(self, key: str) -> None:
        self._peft.delete_adapter(key)
        self._loaded.pop(key)
        if self._loaded:
            self._peft.base_model.disable_adapter_layers()

    def forget_adapter(self, folder) -> None:
        """Drop the adapter loaded from ``folder`` (called when the registry deletes it)."""
        key = getattr(folder, "name", str(folder))
        with self.lock:
            if key in self._loaded and self._loaded[key][0] == str(folder):
                self._drop(key)

    def _ensure(self, adapter: str) -> str:
        key = suggest_name(adapter, "adapter")
        if key not in self._loaded:
            if self.adapters is None:
                raise UserError(f"adapter {key!r} is not loaded on this generator")
            self.load_adapter(key)
        return key

    @contextmanager
    def adapter_model(self, adapter: str | None = None):
        """Hold the lock and yield the model to call: the base, or with ``adapter`` switched on.

        Example: ``with gen.adapter_model("orbis") as m: m(input_ids=ids).logits``; on exit
        the adapter layers are off again, so ``gen.model`` answers as the base model.
        """
        with self.lock:
            if not adapter:
                yield self.model
                return
            key = self._ensure(adapter)
            peft_model = self._peft
            peft_model.base_model.set_adapter(key, inference_mode=True)
            peft_model.base_model.enable_adapter_layers()
            try:
                yield peft_model
            finally:
                peft_model.base_model.disable_adapter_layers()

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
        check_prompt(prompt)
        if chat and not self.is_seq2seq and has_chat_template(self.tokenizer):
            enc = self.tokenizer(chat_text(self.tokenizer, prompt), return_tensors="pt",
                                 add_special_tokens=False)  # the template holds them
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
                 chat: bool = True, adapter: str | None = None,
                 copy_from: Sequence[str] | None = None) -> GenerationResult:
        """Generate a whole answer (with ``adapter`` on, if named); text, token counts, time.

        ``copy_from``: the answer must be a span of these texts (:mod:`core.copy_decoding`).
        """
        import torch

        config = config or GenerationConfig()
        enc = self.encode_prompt(prompt, chat=chat)
        prompt_len = enc["input_ids"].shape[1]
        kwargs = self._decode_kwargs(config, prompt_len)
        kwargs.update(self._copy_kwargs([copy_from] if copy_from else None, prompt_len))
        with self.adapter_model(adapter) as model, torch.inference_mode():
            start = time.perf_counter()
            out = model.generate(**enc, **kwargs)
            seconds = time.perf_counter() - start
        new = self._new_tokens(out, prompt_len)
        new = new[new != self.tokenizer.pad_token_id] if self.is_seq2seq else new
        text = cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), config.stop)
        return GenerationResult(text, int(new.shape[0]), prompt_len, seconds)

    def _decode_kwargs(self, config: GenerationConfig, prompt_len: int) -> dict[str, object]:
        """``model.generate`` keywords: the config's, the pad id, the stop criterion if any."""
        kwargs = {**config.generate_kwargs(), "pad_token_id": self.tokenizer.pad_token_id}
        if config.stop:
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([StopAfterText(
                self.tokenizer, config.stop, 0 if self.is_seq2seq else prompt_len)])
        return kwargs

    def _copy_kwargs(self, sources: Sequence[Sequence[str]] | None, width: int) -> dict:
        """``prefix_allowed_tokens_fn`` keeping each row's answer a span of its sources."""
        if not sources:
            return {}
        if self.is_seq2seq:
            raise UserError("copy decoding needs a causal language model")
        stops = stop_token_ids(self.tokenizer, self.model)
        constraints = [CopyConstraint(self.tokenizer, s, stop_ids=stops) for s in sources]
        return {"prefix_allowed_tokens_fn": prefix_allowed_tokens_fn(constraints, width)}

    def _left_pad(self, encs: list[dict]) -> dict[str, torch.Tensor]:
        """One batch from single encodings: pad tokens and a zero mask on the left."""
        import torch

        width = max(e["input_ids"].shape[1] for e in encs)
        ids, mask = [], []
        for e in encs:
            gap = width - e["input_ids"].shape[1]
            ids.append(torch.nn.functional.pad(e["input_ids"], (gap, 0),
                                               value=self.tokenizer.pad_token_id))
            mask.append(torch.nn.functional.pad(e["attention_mask"], (gap, 0), value=0))
        return {"input_ids": torch.cat(ids), "attention_mask": torch.cat(mask)}

    def generate_batch(self, prompts: Sequence[str], config: GenerationConfig | None = None,
                       *, chat: bool = True, adapter: str | None = None, batch_size: int = 8,
                       copy_from: Sequence[Sequence[str]] | None = None, samples: int = 1,
                       before_batch: Callable[[], bool] | None = None,
                       progress: Callable[[float], None] | None = None,
                       ) -> list[GenerationResult | None]:
        """Answers to ``prompts`` in input order, ``batch_size`` prompts at a time.

        Prompts are sorted by length so a batch pads little, then left-padded (a causal LM
        continues every row from its last real token). Greedy answers equal one-by-one
        :meth:`generate` answers. Each result's ``seconds`` is its batch's wall time divided by
        its answers. ``samples`` > 1: that many answers per prompt (sample with a temperature),
        each prompt read once and its KV cache shared (:func:`shared_prompt_cache`).
        ``before_batch``, ``progress``, ``copy_from``: :class:`~core.generator_protocol.
        TextGenerator`. Example: ``[r.text for r in gen.generate_batch(["2+2?", "Hi"])]``.
        """
        if not 1 <= batch_size <= 512:
            raise UserError(f"batch_size must be 1..512, got {batch_size}")
        if not 1 <= samples <= 64 or (samples > 1 and copy_from):
            raise UserError(f"samples must be 1..64 (1 with copy decoding), got {samples}")
        config = config or GenerationConfig()
        encs = [self.encode_prompt(p, chat=chat) for p in prompts]
        order = sorted(range(len(encs)), key=lambda i: encs[i]["input_ids"].shape[1])
        results: list[GenerationResult | None] = [None] * (len(encs) * samples)
        for first in range(0, len(order), batch_size):
            if before_batch is not None and before_batch():
                break
            rows = order[first:first + batch_size]
            for k, result in enumerate(self._one_batch(
                    [encs[i] for i in rows], config, adapter, samples,
                    [copy_from[i] for i in rows] if copy_from else None)):
                results[rows[k // samples] * samples + k % samples] = result
            if progress is not None:
                progress(min(1.0, (first + len(rows)) / len(order)))
        return results

    def _one_batch(self, encs: list[dict], config: GenerationConfig, adapter: str | None,
                   samples: int, sources) -> list[GenerationResult]:
        """One padded batch's answers, ``samples`` consecutive ones per encoding."""
        import torch

        pad = self.tokenizer.pad_token_id
        batch = self._left_pad(encs) if not self.is_seq2seq else self.tokenizer.pad(
            {"input_ids": [e["input_ids"][0] for e in encs]},
            return_tensors="pt").to(self.model.device)
        width = batch["input_ids"].shape[1]
        kwargs = self._decode_kwargs(config, width)
        kwargs.update(self._copy_kwargs(sources, width))
        with self.adapter_model(adapter) as model, torch.inference_mode():
            start = time.perf_counter()
            if samples > 1:
                kwargs.update({"num_return_sequences": samples} if self.is_seq2seq
                              else shared_prompt_cache(model, batch, samples))
            out = model.generate(**batch, **kwargs)
            seconds = (time.perf_counter() - start) / (len(encs) * samples)
        results = []
        for row in range(out.shape[0]):
            new = out[row] if self.is_seq2seq else out[row, width:]
            keep = len(new)
            while keep and int(new[keep - 1]) == pad:  # rows that ended early are padded
                keep -= 1
            new = new[:keep] if not self.is_seq2seq else new[new != pad]
            text = cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), config.stop)
            results.append(GenerationResult(text, int(new.shape[0]),
                                            int(encs[row // samples]["input_ids"].shape[1]),
                                            seconds, len(encs)))
        return results

    def stream(self, prompt: str, config: GenerationConfig | None = None, *,
               chat: bool = True, adapter: str | None = None) -> StreamingAnswer:
        """Start generation in a worker thread; iterate the result for text pieces."""
        import torch
        from transformers import TextIteratorStreamer

        config = config or GenerationConfig()
        enc = self.encode_prompt(prompt, chat=chat)
        if adapter:
            with self.lock:  # a missing adapter fails here, not in the worker
                self._ensure(adapter)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=not self.is_seq2seq,
                                        skip_special_tokens=True, timeout=600)
        answer = StreamingAnswer(streamer, enc["input_ids"].shape[1], self.count_tokens,
                                 config.stop)
        kwargs = self._decode_kwargs(config, enc["input_ids"].shape[1])

        def work() -> None:
            try:
                with self.adapter_model(adapter) as model, torch.inference_mode():
                    answer.started = time.perf_counter()
                    model.generate(**enc, **kwargs, streamer=streamer)
            except Exception as exc:  # surfaced to the reader, never swallowed
                answer.error = exc
                streamer.end()

        threading.Thread(target=work, daemon=True, name="generate").start()
        return answer


class StreamingAnswer:
    """Iterable of text pieces; ``result`` is set once iteration ends."""

    def __init__(self, streamer, prompt_tokens: int, count_tokens, stop: tuple[str, ...] = ()):
        self._streamer = streamer
        self._stop = stop
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
        text = cut_at_stop("".join(pieces), self._stop)
        self.result = GenerationResult(text, self._count_tokens(text), self._prompt_tokens,
                                       seconds)


def shared_prompt_cache(model, enc: dict, samples: int) -> dict:
    """Read each prompt of ``enc`` once, all but its last token, and give every one of its
    ``samples`` rows a copy of that KV cache; ``enc`` is expanded in place to the rows.

    ``generate(**enc, past_key_values=cache)`` then reads only the last prompt token per row
    (Transformers continues from a cache: "Re-use cache to continue generation"); positions
    follow ``generate``'s own rule for left padding (mask cumsum - 1, padding at 0), so
    greedy answers equal ``num_return_sequences`` ones (tested).
    """
    import torch
    from transformers import DynamicCache

    if enc["input_ids"].shape[1] < 2:  # nothing to share
        return {"num_return_sequences": samples}
    mask = enc["attention_mask"]
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache = DynamicCache(config=model.config)
    model(input_ids=enc["input_ids"][:, :-1], attention_mask=mask[:, :-1],
          position_ids=positions[:, :-1], past_key_values=cache, use_cache=True,
          logits_to_keep=1)
    cache.batch_repeat_interleave(samples)
    for key in ("input_ids", "attention_mask"):
        enc[key] = torch.repeat_interleave(enc[key], samples, dim=0)
    return {"past_key_values": cache}


def _dequantise_targets(model, config_file) -> None:
    """Make the int8 layers an adapter targets plain bf16 Linear again, so peft can attach
    LoRA to them (:func:`core.quantization.dequantise`); a no-op on float models."""
    import json

    from core.quantization import dequantise, quantised_names

    if quantised_names(model):
        dequantise(model, json.loads(config_file.read_text()).get("target_modules") or [])
