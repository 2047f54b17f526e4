"""Fixtures for evaluation tests: fresh tiny models (reusing the fine-tuning builders)."""

from __future__ import annotations

import pytest

from tests.finetune.conftest import build_tiny_llama, fresh_generator, fresh_llama, one_torch_thread

__all__ = ["fresh_generator", "fresh_llama", "one_torch_thread"]


@pytest.fixture
def fresh_tiny_llama_generator(tiny_tokenizer):
    from core.generation import Generator

    return Generator(build_tiny_llama(tiny_tokenizer), tiny_tokenizer, model_id="tiny-llama",
                     device="cpu", is_seq2seq=False)
