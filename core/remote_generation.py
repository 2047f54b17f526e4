"""The generator on an OpenAI-compatible model server (vLLM, TGI, Ollama, `transformers serve`).

With ``NLPLAB_GENERATOR_URL`` set, :func:`core.loaders.load_generator` returns a
:class:`RemoteGenerator` instead of loading weights: the same ``generate`` / ``stream`` /
``label`` / ``count_tokens`` surface as :class:`~core.generation.Generator` (both are a
:class:`~core.generator_protocol.TextGenerator`), so answer modes,
evaluation and pages run unchanged while the server batches requests from every session.
Requests go through the ``openai`` client (chat prompts to ``/v1/chat/completions``, plain
prompts to ``/v1/completions``) with a bounded timeout and retry count from settings.

* The served model name is ``NLPLAB_GENERATOR_SERVED_MODEL``, else the local copy's name
  (``NLPLAB_GENERATOR_MODEL``) if ``/v1/models`` lists it, else the server's only listed model.
  A list that fails with an HTTP error or lists other models falls back to the local copy's
  name with one logged warning (``transformers serve`` fails it without a hub cache folder,
  and lists that cache, not the folder it serves); with a ``builtin:`` local copy it is an
  error naming the listed models and ``NLPLAB_GENERATOR_SERVED_MODEL``.
* Token counts come from the server's ``usage``; a server that sends none is counted with the
  local tokenizer. The tokenizer (files only, from ``NLPLAB_GENERATOR_MODEL``: the local copy
  of the same model) also builds and trims RAG prompts, as in process.
* Adapters: a fine-tuned mode answers with the server-side LoRA of the same name when the
  server lists it as a model (vLLM ``--enable-lora --lora-modules NAME=FOLDER``); otherwise the
  mode says it needs the local model. Training always runs locally (:mod:`core.training`).
* Multiple-choice log-likelihood (:meth:`RemoteGenerator.score_choices`) asks
  ``/v1/completions`` for the prompt's log-probabilities (``echo`` + ``logprobs``); servers
  that do not return them raise :class:`LikelihoodUnavailable` with the reason.
* Every failure (server down, timeout, HTTP 4xx / 5xx) is one :class:`ModelServerError` line.

Example:
    >>> # NLPLAB_GENERATOR_URL=http://gpu:8000/v1
    >>> gen = RemoteGenerator(load_settings())  # doctest: +SKIP
    >>> gen.generate("Say hi").to_dict()["tokens"]  # doctest: +SKIP
    5
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

from core.choice_scores import ChoiceScores, LikelihoodUnavailable
from core.errors import UserError
from core.generator_protocol import (
    GenerationConfig,
    GenerationResult,
    chat_text,
    check_prompt,
    has_chat_template,
)
from core.model_sources import resolve
from core.names import suggest_name
from core.tokenizer_loader import load_generator_tokenizer

__all__ = ["LikelihoodUnavailable", "ModelServerError", "RemoteGenerator", "RemoteStream"]


class ModelServerError(UserError):
    """The model server is down, slow, or refused a request (one line, says which)."""


def _detail(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body.get("detail", body))
        body = inner.get("message", inner) if isinstance(inner, dict) else inner
    text = str(body if body else getattr(exc, "message", exc))
    return text.splitlines()[0][:200] if text else ""


class RemoteGenerator:
    """A model behind an OpenAI-compatible API; thread-safe (the server does the batching)."""

    device = "remote"
    is_seq2seq = False
    supports_copy = False  # copy decoding constrains the model's logits: weights in process

    def __init__(self, settings, *, client=None, tokenizer=None):
        import openai

        self.settings = settings
        self.url = settings.generator_url.rstrip("/")
        self.client = client or openai.OpenAI(
            base_url=self.url, api_key=settings.generator_api_key or "none",
            max_retries=settings.generator_max_retries,
            timeout=openai.Timeout(settings.generator_timeout,
                                   connect=settings.generator_connect_timeout))
        self._served = settings.generator_served_model or None
        self._tokenizer = tokenizer
        self._context_window: int | None = None
        self._adapters: set[str] = set()
        self.adapters = None  # server-side adapters only: nothing to load from disk
        self.lock = threading.RLock()  # guards lazy state only; requests run concurrently
        self.warning: str | None = None  # set when the served name was not found in the list

    # -- errors ------------------------------------------------------------------------------
    def _error(self, exc: Exception, what: str) -> ModelServerError:
        import openai

        where = f"the model server at {self.url}"
        if isinstance(exc, openai.APITimeoutError):
            msg = (f"{where} did not answer {what} within {self.settings.generator_timeout:g} s "
                   "(NLPLAB_GENERATOR_TIMEOUT)")
        elif isinstance(exc, openai.APIConnectionError):
            msg = f"cannot reach {where} ({what}): is it running? (NLPLAB_GENERATOR_URL)"
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            msg = (f"{where} refused the API key (HTTP {exc.status_code}): check "
                   "NLPLAB_GENERATOR_API_KEY")
        elif isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            msg = f"{where} failed {what} (HTTP {exc.status_code}): {_detail(exc)}"
        elif isinstance(exc, openai.APIStatusError):
            msg = f"{where} rejected {what} (HTTP {exc.status_code}): {_detail(exc)}"
        else:
            msg = f"{where}: unexpected reply to {what}: {type(exc).__name__}: {_detail(exc)}"
        return ModelServerError(msg)

    def _call(self, what: str, fn, *args, **kwargs):
        import openai

        try:
            return fn(*args, **kwargs)
        except openai.OpenAIError as exc:
            raise self._error(exc, what) from exc

    # -- what the server offers ----------------------------------------------------------------
    def server_models(self) -> list[dict]:
        """``/v1/models`` entries as dicts (vLLM adds ``parent`` for LoRA and ``max_model_len``)."""
        page = self._call("the model list", self.client.models.list)
        return [m.model_dump() for m in page.data]

    @property
    def served_model(self) -> str:
        """The base model's name on the server: the setting, else picked from ``/v1/models``
        (:meth:`_pick_served_model`)."""
        with self.lock:
            if self._served is None:
                self._served = self._pick_served_model()
            return self._served

    def _local_copy_name(self) -> str | None:
        """``NLPLAB_GENERATOR_MODEL`` when a server may know the model by it: a folder
        (``transformers serve FOLDER`` answers to that path) or a hub id (``vllm serve ID``);
        not a ``builtin:`` spec, which no server is started with."""
        spec = self.settings.generator_model.strip()
        return None if not spec or spec.startswith("builtin:") else spec

    def _pick_served_model(self) -> str:
        """The server's only listed base model, or the local copy's name if it is listed.

        The list is a convenience, not a requirement: when it fails with an HTTP error
        (``transformers serve`` answers 500 without a hub cache folder) or lists other models
        (it lists the hub cache, not the folder it serves), the local copy's name is asked
        for, with one warning. Without such a name it is an error saying what to set.

        Example: list HTTP 500, ``NLPLAB_GENERATOR_MODEL=/srv/smol`` -> ``'/srv/smol'`` and
        the warning "the model server at URL failed the model list (HTTP 500): ...; asking
        for '/srv/smol' (NLPLAB_GENERATOR_MODEL)".
        """
        import openai

        guess = self._local_copy_name()
        hint = "set NLPLAB_GENERATOR_SERVED_MODEL to the model's name on the server"
        try:
            models = self.server_models()
        except ModelServerError as exc:  # down, timed out or key refused: raised as it is
            cause = exc.__cause__
            if not isinstance(cause, openai.APIStatusError) or isinstance(
                    cause, openai.AuthenticationError | openai.PermissionDeniedError):
                raise
            if guess is None:
                raise ModelServerError(f"{exc}; {hint}") from cause
            return self._fall_back(f"{exc}; asking for {guess!r} (NLPLAB_GENERATOR_MODEL)",
                                   guess, hint)
        bases = [m["id"] for m in models if not m.get("parent")]
        if guess in bases:
            return guess
        if len(bases) == 1:
            return bases[0]
        listed = f"lists {len(bases)} models ({', '.join(bases) or 'none'})"
        if guess is None:
            raise ModelServerError(f"the model server at {self.url} {listed}: {hint}")
        return self._fall_back(f"the model server at {self.url} {listed}, not {guess!r}; "
                               f"asking for it (NLPLAB_GENERATOR_MODEL)", guess, hint)

    def _fall_back(self, message: str, name: str, hint: str) -> str:
        """Log ``message`` (one line) as this generator's warning and use ``name``."""
        import logging

        self.warning = f"{message}; {hint} to skip the list"
        logging.getLogger(__name__).warning(self.warning)
        return name

    @property
    def model_id(self) -> str:
        return self.served_model

    def label(self, adapter: str | None = None) -> str:
        """``'SERVED @ server'``, plus `` + NAME`` with a server-side adapter."""
        base = f"{self.served_model} @ server"
        return f"{base} + {adapter}" if adapter else base

    # -- adapters (server-side LoRA) ---------------------------------------------------------
    @property
    def loaded_adapters(self) -> list[str]:
        return sorted(self._adapters)

    def load_adapter(self, name: str, registry=None) -> None:
        """Check that the server offers adapter ``name`` (as a model); UserError if not."""
        key = suggest_name(name, "adapter")
        if key in self._adapters:
            return None
        try:
            offered = [m["id"] for m in self.server_models()]
        except ModelServerError as exc:
            raise UserError(f"fine-tuned modes need adapter {key!r} on the model server, and "
                            f"its model list is unavailable ({exc}); or use the local model "
                            "(unset NLPLAB_GENERATOR_URL)") from exc
        if key not in offered:
            raise UserError(
                f"fine-tuned modes need the local model or adapter {key!r} served by the model "
                f"server (vLLM: --enable-lora --lora-modules {key}=<adapter folder>); "
                f"the server at {self.url} offers {', '.join(offered) or 'no models'}")
        with self.lock:
            self._adapters.add(key)
        return None

    def forget_adapter(self, folder) -> None:
        with self.lock:
            self._adapters.discard(getattr(folder, "name", str(folder)))

    def adapter_model(self, adapter: str | None = None):
        raise UserError("this needs the model weights in this process; the generator runs on "
                        f"the model server at {self.url} (unset NLPLAB_GENERATOR_URL)")

    def _model_for(self, adapter: str | None) -> str:
        if not adapter:
            return self.served_model
        self.load_adapter(adapter)
        return suggest_name(adapter, "adapter")

    # -- tokens ------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        """The local copy's tokenizer (files only): prompt budgets and missing usage counts."""
        with self.lock:
            if self._tokenizer is None:
                self._tokenizer, _ = load_generator_tokenizer(self.settings)
            return self._tokenizer

    @property
    def context_window(self) -> int:
        """The server's ``max_model_len`` when listed (vLLM), else the local copy's config."""
        with self.lock:
            if self._context_window is None:
                self._context_window = self._find_context_window()
            return self._context_window

    def _find_context_window(self) -> int:
        try:
            for m in self.server_models():
                if m["id"] == self.served_model and isinstance(m.get("max_model_len"), int):
                    return m["max_model_len"]
        except ModelServerError:
            pass  # the list is optional (transformers serve may fail it); the config decides
        from transformers import AutoConfig

        source = resolve(self.settings.generator_model, self.settings.models_dir)
        cfg = AutoConfig.from_pretrained(source.location)
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        limit = getattr(self.tokenizer, "model_max_length", 0)
        return limit if 0 < limit < 1_000_000 else 2048

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- generation --------------------------------------------------------------------------

    @staticmethod
    def _params(config: GenerationConfig) -> dict[str, object]:
        params: dict[str, object] = {"max_tokens": config.max_new_tokens,
                                     "temperature": config.temperature}
        if config.temperature > 0:
            params["top_p"] = config.top_p
        extra = {}
        if config.temperature > 0 and config.top_k:
            extra["top_k"] = config.top_k  # vLLM/TGI extension
        if config.repetition_penalty != 1.0:
            extra["repetition_penalty"] = config.repetition_penalty  # vLLM/TGI extension
        if config.min_new_tokens:
            extra["min_tokens"] = config.min_new_tokens  # vLLM extension
        if extra:
            params["extra_body"] = extra
        return params

    def _request(self, prompt: str, config: GenerationConfig, chat: bool, adapter, **more):
        model = self._model_for(adapter)
        params = {**self._params(config), **more}
        if chat:
            return self._call("the chat request", self.client.chat.completions.create,
                              model=model, messages=[{"role": "user", "content": prompt}],
                              **params)
        return self._call("the completion request", self.client.completions.create,
                          model=model, prompt=prompt, **params)

    def _prompt_tokens(self, prompt: str, chat: bool) -> int:
        return self.count_tokens(chat_text(self.tokenizer, prompt) if chat else prompt)

    def generate(self, prompt: str, config: GenerationConfig | None = None, *,
                 chat: bool = True, adapter: str | None = None) -> GenerationResult:
        """One whole answer from the server: text, token counts (server's usage), time."""
        config = config or GenerationConfig()
        check_prompt(prompt)
        start = time.perf_counter()
        resp = self._request(prompt, config, chat, adapter)
        seconds = time.perf_counter() - start
        if not resp.choices:
            raise ModelServerError(f"the model server at {self.url} returned no answer")
        first = resp.choices[0]
        text = (first.message.content or "") if chat else (first.text or "")
        text = text.strip()
        usage = resp.usage
        tokens = usage.completion_tokens if usage else self.count_tokens(text)
        prompt_tokens = usage.prompt_tokens if usage else self._prompt_tokens(prompt, chat)
        return GenerationResult(text, int(tokens), int(prompt_tokens), seconds)

    def generate_batch(self, prompts: Sequence[str], config: GenerationConfig | None = None,
                       *, chat: bool = True, adapter: str | None = None, batch_size: int = 8,
                       copy_from: Sequence[Sequence[str]] | None = None, samples: int = 1,
                       before_batch: Callable[[], bool] | None = None,
                       progress: Callable[[float], None] | None = None,
                       ) -> list[GenerationResult | None]:
        """Answers to ``prompts`` in order (``samples`` each, prompt-major), up to
        ``batch_size`` requests in flight at once (the server batches them); each result keeps
        its own request time. With ``before_batch`` or ``progress`` the requests go in groups
        of ``batch_size`` prompts, asked and told between groups (:class:`~core.
        generator_protocol.TextGenerator`)."""
        from concurrent.futures import ThreadPoolExecutor

        if not 1 <= batch_size <= 512:
            raise UserError(f"batch_size must be 1..512, got {batch_size}")
        if copy_from:
            raise UserError("the copy reader needs a local model (not a model server)")
        jobs = [p for p in prompts for _ in range(samples)]
        step = len(jobs) if before_batch is None and progress is None else batch_size * samples
        done: list[GenerationResult | None] = []
        with ThreadPoolExecutor(max_workers=batch_size, thread_name_prefix="remote") as pool:
            for first in range(0, len(jobs), max(1, step)):
                if before_batch is not None and before_batch():
                    break
                done.extend(pool.map(lambda p: self.generate(p, config, chat=chat,
                                                             adapter=adapter),
                                     jobs[first:first + step]))
                if progress is not None:
                    progress(len(done) / len(jobs))
        return done + [None] * (len(jobs) - len(done))

    def stream(self, prompt: str, config: GenerationConfig | None = None, *,
               chat: bool = True, adapter: str | None = None) -> RemoteStream:
        """Start a streamed answer; iterate the result for text pieces (then ``.result``).

        The request is sent here, so a server that is down or refuses fails at this call.
        """
        config = config or GenerationConfig()
        check_prompt(prompt)
        start = time.perf_counter()
        more = {"stream": True}
        if chat:
            more["stream_options"] = {"include_usage": True}
        events = self._request(prompt, config, chat, adapter, **more)
        return RemoteStream(self, events, chat, prompt, start)

    # -- multiple-choice scoring ---------------------------------------------------------------
    def score_choices(self, prompt: str, choices: Sequence[str], *, chat: bool = True,
                      adapter: str | None = None):
        """Per-choice log P(choice | prompt) from ``/v1/completions`` echo + logprobs.

        The prompt is rendered exactly as chat generation sees it (the local tokenizer's chat
        template, assistant turn opened), the choice appended (after a space without a chat
        template, as in :mod:`core.evaluation.likelihood`), and the echoed log-probabilities
        of the tokens that end inside the choice are summed.
        """
        if len(choices) < 2:
            raise UserError("multiple-choice scoring needs at least two choices")
        check_prompt(prompt)
        use_chat = chat and has_chat_template(self.tokenizer)
        prefix = chat_text(self.tokenizer, prompt) if use_chat else prompt
        model = self._model_for(adapter)
        sums, counts = [], []
        for choice in choices:
            text = prefix + (choice if use_chat else " " + choice)
            resp = self._call("the scoring request", self.client.completions.create,
                              model=model, prompt=text, max_tokens=1, temperature=0,
                              echo=True, logprobs=0)
            total, n = self._choice_logprob(resp, len(prefix), len(text))
            sums.append(total)
            counts.append(n)
        return ChoiceScores(tuple(sums), tuple(counts))

    def _choice_logprob(self, resp, prefix_chars: int, text_chars: int) -> tuple[float, int]:
        lp = resp.choices[0].logprobs if resp.choices else None
        offsets = list(getattr(lp, "text_offset", None) or [])
        values = list(getattr(lp, "token_logprobs", None) or [])
        if not offsets or len(offsets) != len(values):
            raise LikelihoodUnavailable(
                f"the model server at {self.url} returns no prompt log-probabilities "
                "(/v1/completions with echo and logprobs); multiple-choice scoring needs a "
                "server that does (vLLM) or the local model")
        total, n = 0.0, 0
        for i, (offset, value) in enumerate(zip(offsets, values, strict=True)):
            end = offsets[i + 1] if i + 1 < len(offsets) else text_chars
            if offset >= text_chars:
                break  # the generated token after the echoed prompt
            if end > prefix_chars and value is not None:
                total += float(value)
                n += 1
        if n == 0:
            raise LikelihoodUnavailable(f"the model server at {self.url} echoed no tokens for "
                                        "the choice")
        return total, n


class RemoteStream:
    """Iterable of text pieces from a server stream; ``result`` is set once it ends."""

    def __init__(self, generator: RemoteGenerator, events, chat: bool, prompt: str,
                 start: float):
        self._gen, self._events, self._chat, self._prompt = generator, events, chat, prompt
        self._start = start
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[str]:
        import openai

        pieces: list[str] = []
        usage = finished = None
        try:
            for event in self._events:
                usage = getattr(event, "usage", None) or usage
                if not event.choices:
                    continue
                finished = event.choices[0].finish_reason or finished
                piece = (event.choices[0].delta.content if self._chat
                         else event.choices[0].text) or ""
                if piece:
                    pieces.append(piece)
                    yield piece
        except openai.OpenAIError as exc:
            raise self._gen._error(exc, "while streaming") from exc
        except Exception as exc:  # a connection cut mid-stream surfaces from the HTTP layer
            if type(exc).__module__.split(".")[0] not in ("httpx2", "httpx", "httpcore"):
                raise
            if "Timeout" in type(exc).__name__:
                raise ModelServerError(
                    f"the model server at {self._gen.url} stopped streaming for more than "
                    f"{self._gen.settings.generator_timeout:g} s (NLPLAB_GENERATOR_TIMEOUT)"
                ) from exc
            raise ModelServerError(f"the model server at {self._gen.url} dropped the stream: "
                                   f"{type(exc).__name__}") from exc
        if finished is None:  # no final event: the connection closed mid-answer
            raise ModelServerError(f"the model server at {self._gen.url} ended the stream "
                                   "before the answer finished")
        seconds = time.perf_counter() - self._start
        text = "".join(pieces).strip()
        tokens = usage.completion_tokens if usage else self._gen.count_tokens(text)
        prompt_tokens = (usage.prompt_tokens if usage
                         else self._gen._prompt_tokens(self._prompt, self._chat))
        self.result = GenerationResult(text, int(tokens), int(prompt_tokens), seconds)
