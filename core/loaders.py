"""Model loaders: the sentence embedder, the generator and the classification encoder.

Each loader resolves its spec (:mod:`core.model_sources`), picks the device and dtype
(:mod:`core.devices`) and returns a ready model (the tokenizer alone:
:mod:`core.tokenizer_loader`); a process-wide memo (:mod:`core.memo`)
keeps one instance per (spec, device) so the CLI and tests load once. The Streamlit wrapper
(:mod:`core.st_cache`) adds ``st.cache_resource`` on top. ``trust_remote_code`` is never enabled.

Example:
    >>> embedder = load_embedder(load_settings())  # doctest: +SKIP
    >>> embedder.encode(["hello"]).shape
    (1, 384)
"""

from __future__ import annotations

import threading

from core.adapters import AdapterRegistry
from core.devices import generator_dtype, pick_device
from core.generation import GenerationConfig, Generator
from core.memo import has_local, memoized
from core.model_sources import resolve
from core.remote_generation import RemoteGenerator
from core.settings import Settings
from core.tokenizer_loader import is_encoder_decoder, load_error
from core.tokenizer_loader import load_generator_tokenizer as load_generator_tokenizer


def is_loaded(role: str, settings: Settings) -> bool:
    """Whether the model for ``role`` (embedder/generator) is already in this process."""
    spec = settings.embedding_model if role == "embedder" else settings.generator_model
    return has_local(role, spec)


def load_embedder(settings: Settings):
    """A ``SentenceTransformer`` for ``settings.embedding_model`` on the chosen device."""
    choice = pick_device(settings.device)

    def build():
        from sentence_transformers import SentenceTransformer

        source = resolve(settings.embedding_model, settings.models_dir)
        try:
            model = SentenceTransformer(source.location, device=choice.device,
                                        trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise load_error(source, exc) from exc
        if choice.device == "cuda":
            model = model.to(choice.dtype)
        return model

    return memoized(("embedder", settings.embedding_model, choice.device), build)


def load_causal_or_seq2seq(spec: str, settings: Settings, dtype_name: str | None = None):
    """(model, tokenizer, is_seq2seq) for a generator spec, on the chosen device and dtype.

    ``dtype_name`` (None: the device's training dtype) is one of
    :func:`core.devices.generator_dtype`'s answers; ``int8`` loads fp32 weights and makes
    every Linear layer int8 weight-only with bf16 activations (:mod:`core.quantization`).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    choice = pick_device(settings.device)
    dtype_name = dtype_name or choice.dtype_name
    load_dtype = torch.float32 if dtype_name == "int8" else getattr(torch, dtype_name)
    source = resolve(spec, settings.models_dir)
    try:
        seq2seq = is_encoder_decoder(source.location)
        auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        tokenizer = AutoTokenizer.from_pretrained(source.location)
        model = auto.from_pretrained(source.location, dtype=load_dtype)
    except (OSError, ValueError) as exc:
        raise load_error(source, exc) from exc
    model.to(choice.device).eval()
    if dtype_name == "int8":
        from core.quantization import quantise

        model = quantise(model)
    return model, tokenizer, seq2seq


def load_generator(settings: Settings) -> Generator:
    """The shared :class:`Generator` for ``settings.generator_model``, in the dtype
    :func:`core.devices.generator_dtype` picks (``NLPLAB_GENERATOR_DTYPE``; int8 weights with
    bf16 activations on CPUs with native bf16).

    With ``NLPLAB_GENERATOR_URL`` set: a :class:`~core.remote_generation.RemoteGenerator` for
    that server (no weights load; one client per URL and served model).
    """
    if settings.generator_url:
        return load_remote_generator(settings)
    choice = pick_device(settings.device)
    dtype_name = generator_dtype(settings.generator_dtype, choice)

    def build() -> Generator:
        model, tokenizer, seq2seq = load_causal_or_seq2seq(settings.generator_model, settings,
                                                           dtype_name)
        return Generator(model, tokenizer, model_id=settings.generator_model,
                         device=choice.device, is_seq2seq=seq2seq,
                         adapters=AdapterRegistry.of(settings), dtype=dtype_name)

    return memoized(("generator", settings.generator_model, choice.device, dtype_name), build)


_warm_threads: dict[tuple, threading.Thread] = {}
_warm_lock = threading.Lock()


def warm_up(settings: Settings) -> threading.Thread:
    """Load the embedder and the generator in a background thread and run each once, so the
    first question pays neither load nor first-call costs; once per process and settings.

    Pages that need a model meanwhile wait on the same load (the memo's per-key lock), never
    load it twice. A failure is logged here and raised again where a page loads the model.
    Example: ``warm_up(settings).join()`` -> both models are in memory and have run once.
    """
    key = (settings.embedding_model, settings.generator_model, settings.device,
           settings.generator_dtype, settings.models_dir)
    with _warm_lock:
        thread = _warm_threads.get(key)
        if thread is None:
            thread = threading.Thread(target=_warm, args=(settings,), daemon=True,
                                      name="warm-up")
            _warm_threads[key] = thread
            thread.start()
    return thread


def _warm(settings: Settings) -> None:
    import logging

    try:
        load_embedder(settings).encode(["warm up"])
        load_generator(settings).generate("Hi", GenerationConfig(max_new_tokens=2))
    except Exception as exc:  # the page that needs the model reports it to the user
        logging.getLogger(__name__).warning("warm-up failed: %s: %s", type(exc).__name__, exc)


def load_remote_generator(settings: Settings):
    """The :class:`~core.remote_generation.RemoteGenerator` for ``settings.generator_url``."""
    key = ("generator", settings.generator_model, "remote", settings.generator_url,
           settings.generator_served_model)
    return memoized(key, lambda: RemoteGenerator(settings))


def load_classifier_base(settings: Settings, labels: list[str]):
    """A fresh (model, tokenizer) for sequence classification over ``labels``.

    Not memoized: each training run starts from the pretrained encoder with a new head.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    choice = pick_device(settings.device)
    source = resolve(settings.classifier_model, settings.models_dir)
    id2label = dict(enumerate(labels))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location)
        model = AutoModelForSequenceClassification.from_pretrained(
            source.location, num_labels=len(labels), id2label=id2label,
            label2id={v: k for k, v in id2label.items()})
    except (OSError, ValueError) as exc:
        raise load_error(source, exc) from exc
    return model.to(choice.device), tokenizer
