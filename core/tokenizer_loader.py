"""The generator's tokenizer without its weights, and the load-error message every loader uses.

Token counts (prompt budgets, the fine-tuning estimate, a model server's missing usage) need
only the tokenizer files: a second or less instead of a model load. When the generator itself
is already in memory its own tokenizer is returned. Loading models is :mod:`core.loaders`.

Example:
    >>> tokenizer, is_seq2seq = load_generator_tokenizer(load_settings())  # doctest: +SKIP
    >>> is_seq2seq
    False
"""

from __future__ import annotations

from core.devices import pick_device
from core.errors import ModelNotFoundError
from core.memo import find, memoized
from core.model_sources import ModelSource, resolve
from core.settings import Settings


def load_error(source: ModelSource, exc: Exception) -> ModelNotFoundError:
    """One line saying which model failed to load, why, and what to check."""
    hint = ("set HF_HUB_OFFLINE=0 and check the id, or download it and point the setting "
            "at the folder") if source.kind == "hub" else "check the folder's contents"
    return ModelNotFoundError(f"cannot load model {source.spec!r} ({source.kind}): "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}; {hint}")


def is_encoder_decoder(location: str) -> bool:
    """Whether the model at ``location`` is seq2seq (Flan-T5), from its config alone."""
    from transformers import AutoConfig

    return bool(getattr(AutoConfig.from_pretrained(location), "is_encoder_decoder", False))


def load_generator_tokenizer(settings: Settings):
    """(tokenizer, is_seq2seq) of the generator without loading its weights.

    For token counts (the fine-tuning estimate): the loaded generator's own tokenizer when it is
    in memory, else the tokenizer files alone (a second or less instead of a model load).
    """
    choice = pick_device(settings.device)
    loaded = find(("generator", settings.generator_model, choice.device))
    if loaded is not None:
        return loaded.tokenizer, loaded.is_seq2seq

    def build():
        from transformers import AutoTokenizer

        source = resolve(settings.generator_model, settings.models_dir)
        try:
            return (AutoTokenizer.from_pretrained(source.location),
                    is_encoder_decoder(source.location))
        except (OSError, ValueError) as exc:
            raise load_error(source, exc) from exc

    return memoized(("generator-tokenizer", settings.generator_model), build)
