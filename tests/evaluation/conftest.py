"""Fixtures for evaluation tests: a fresh tiny Llama generator and one torch thread (the tiny
models come from the suite's one factory, :mod:`tests.tiny_models`)."""

from __future__ import annotations

import pytest

from tests.finetune.conftest import one_torch_thread
from tests.tiny_models import build_tiny_llama

__all__ = ["one_torch_thread"]


@pytest.fixture
def fresh_tiny_llama_generator(tiny_tokenizer):
    from core.generation import Generator

    return Generator(build_tiny_llama(tiny_tokenizer), tiny_tokenizer, model_id="tiny-llama",
                     device="cpu", is_seq2seq=False)
