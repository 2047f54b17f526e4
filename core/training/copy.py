"""A trainable copy of the generator's model that never carries the app's loaded adapters.

The shared :class:`~core.generation.Generator` keeps serving while something trains, and
:meth:`~core.generation.Generator.load_adapter` injects LoRA layers into its model in place
(frozen, switched off except inside an adapter call). A deep copy of that model copies those
layers too: PEFT then wraps an already-wrapped model and training fails ("element 0 of
tensors does not require grad"). So the copy is never made from memory: :func:`training_copy`
loads the base weights fresh from the folder (or hub id) the model comes from, in its dtype
and on its device, and checks that no adapter layer came with them. Every LoRA trainer gets
its model here: knowledge fine-tuning passes the generator setting (no shared model needs
loading for a CLI run), feedback learning passes the live generator. The tokenizer is a copy too.

Left out: attaching a parent adapter and training (callers do that, e.g.
``PeftModel.from_pretrained(model, folder, is_trainable=True)``). The emotion encoder needs
no copy: each run starts from a fresh pretrained encoder with a new classification head.

Example:
    >>> model, tokenizer = training_copy(load_generator(settings))  # doctest: +SKIP
    >>> model is not load_generator(settings).model
    True
    >>> model, tokenizer = training_copy(settings.generator_model, settings)  # doctest: +SKIP
"""

from __future__ import annotations

import copy

from core.errors import UserError


def training_copy(source, settings=None):
    """(model, tokenizer): base weights reloaded from ``source``, trainable, adapter-free.

    ``source`` is a Generator (reloaded from the folder or hub id its model came from) or a
    model spec such as ``settings.generator_model`` (resolved like the app's loaders; needs
    ``settings``). UserError when a Generator's model was built in memory (nothing to reload
    from), the source no longer loads, or it loads with adapter layers attached.
    """
    if getattr(source, "device", None) == "remote":  # a model server: train the local copy
        source, settings = source.settings.generator_model, source.settings
    if isinstance(source, str):
        from core.loaders import load_causal_or_seq2seq

        model, tokenizer, _ = load_causal_or_seq2seq(source, settings)
        name = source
    else:
        model, tokenizer, name = _reload(source)
    _refuse_adapter_layers(model, name)
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _reload(generator):
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    shared = generator.model  # the base model (any loaded LoRA layers sit inside it, off)
    source = getattr(shared, "name_or_path", "") or ""
    if not source:
        raise UserError(f"cannot make a training copy of {generator.model_id}: the model was "
                        "built in memory, not loaded from a model folder or hub id")
    auto = AutoModelForSeq2SeqLM if generator.is_seq2seq else AutoModelForCausalLM
    try:
        model = auto.from_pretrained(source, dtype=shared.dtype)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot reload {source!r} for training: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
    model.to(shared.device)
    with generator.lock:
        tokenizer = copy.deepcopy(generator.tokenizer)
    return model, tokenizer, source


def _refuse_adapter_layers(model, source: str) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    if any(isinstance(m, BaseTunerLayer) for m in model.modules()):
        raise UserError(f"{source!r} loads with adapter layers attached; point the generator "
                        "setting at the base model's folder")
