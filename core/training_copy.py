"""A trainable copy of a generator's model that never carries the app's loaded adapters.

The shared :class:`~core.generation.Generator` keeps serving while something trains, and
:meth:`~core.generation.Generator.load_adapter` injects LoRA layers into its model in place
(frozen, switched off except inside an adapter call). A deep copy of that model copies those
layers too: PEFT then wraps an already-wrapped model and training fails ("element 0 of
tensors does not require grad"). So the copy is never made from memory:
:func:`training_copy` loads the base weights fresh from the folder (or hub id) the shared
model was loaded from, in its dtype and on its device, and checks that no adapter layer came
with them. The tokenizer is copied.

Left out: attaching a parent adapter and training (callers do that, e.g.
``PeftModel.from_pretrained(model, folder, is_trainable=True)``).

Example:
    >>> model, tokenizer = training_copy(load_generator(settings))  # doctest: +SKIP
    >>> model is not load_generator(settings).model
    True
"""

from __future__ import annotations

import copy

from core.errors import UserError


def training_copy(generator):
    """(model, tokenizer): the generator's base model reloaded from its source, trainable.

    UserError when the shared model was built in memory (nothing to reload from) or its
    source no longer loads.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer
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
    if any(isinstance(m, BaseTunerLayer) for m in model.modules()):
        raise UserError(f"{source!r} loads with adapter layers attached; point the generator "
                        "setting at the base model's folder")
    model.to(shared.device)
    with generator.lock:
        tokenizer = copy.deepcopy(generator.tokenizer)
    return model, tokenizer
