"""Suite-wide set-up: offline hub, a throw-away data directory, tiny and real model fixtures.

No test writes into the working tree: NLPLAB_DATA_DIR points at a temp folder for the whole
session and each test that needs isolation gets its own through ``app_settings``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="nlplab-tests-"))
os.environ["NLPLAB_DATA_DIR"] = str(_SESSION_DIR / "data")
# Converted models are shared by every test of the session (the SmolLM2 conversion takes ~20 s).
os.environ["NLPLAB_MODEL_CACHE"] = str(_SESSION_DIR / "models")
os.environ["NLPLAB_DEVICE"] = "cpu"
os.environ.setdefault("NLPLAB_WARM_UP", "0")  # page tests must not load the real models

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def app_settings(tmp_path, monkeypatch):
    """Settings whose data directory is this test's own ``tmp_path``."""
    from core.settings import load_settings

    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "appdata"))
    return load_settings()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """The real MiniLM WordPiece tokenizer (ships in a package, loads offline)."""
    from transformers import AutoTokenizer

    from core.model_sources import BUILTINS, package_folder

    b = BUILTINS["all-minilm-l6-v2"]
    return AutoTokenizer.from_pretrained(package_folder(b.module, b.package) / "model")


@pytest.fixture(scope="session")
def tiny_generator(tiny_tokenizer):
    """A ~1M-parameter Llama built from a config, wrapped in our Generator."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from core.generation import Generator

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tiny_tokenizer.vocab_size, hidden_size=32,
                         intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256,
                         pad_token_id=tiny_tokenizer.pad_token_id,
                         eos_token_id=tiny_tokenizer.sep_token_id)
    model = LlamaForCausalLM(config).eval()
    return Generator(model, tiny_tokenizer, model_id="tiny-llama", device="cpu",
                     is_seq2seq=False)


@pytest.fixture(scope="session")
def real_settings():
    from core.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def real_generator(real_settings):
    from core.loaders import load_generator

    return load_generator(real_settings)


@pytest.fixture(scope="session")
def real_embedder(real_settings):
    from core.loaders import load_embedder

    return load_embedder(real_settings)


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real tweets); skips where a user's clone has no ``../shared``."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real tweet data not found at {SHARED_DATA} (only on the team's machines)")
    return SHARED_DATA


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's data and converted-model folder (about 550 MB) when tests end."""
    import shutil

    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
