"""Suite-wide set-up: offline hub, a throw-away data directory, the tiny-model fixtures, the
real-model guard of the fast tier, and the check that a test's folder matches its tier.

No test writes into the working tree: NLPLAB_DATA_DIR points at a temp folder for the whole
session and each test that needs isolation gets its own through ``app_settings``.

Tiers (docs/testing.md): a test marked neither ``slow`` nor ``browser`` is the fast tier and
must not load a real embedded model (SmolLM2, MiniLM's weights, the emoji predictor): while it
runs, the real-model loaders raise :class:`RealModelInFastTier`. ``tests/integration/`` holds
only ``slow`` tests, ``tests/browser/`` only ``browser`` tests, and a ``browser`` test lives in
``tests/browser/``; collection fails otherwise.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import pytest

from tests.tiny_models import (
    build_tiny_llama,
    build_tiny_t5,
    minilm_tokenizer,
    save_tiny_emoji_model,
    save_tiny_model_set,
    tiny_model,
)

__all__ = ["build_tiny_llama", "build_tiny_t5", "tiny_model"]

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
os.environ.setdefault("NLPLAB_FIRST_ADAPTER", "0")  # nor train the first-start adapter

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TESTS = Path(__file__).resolve().parent
REAL_MODEL_MARKERS = ("slow", "browser")  # the tiers allowed to load the real models


# -- tiers by folder and marker --------------------------------------------------------------
def tier_problem(folder: str, markers: set[str]) -> str | None:
    """What is wrong with a test in ``tests/<folder>/`` carrying ``markers`` (None: nothing).

    Example: ``tier_problem("integration", {"parametrize"})`` -> "tests/integration/ holds
    slow tests only: mark it slow or move it to its feature folder".
    """
    if folder == "browser" and "browser" not in markers:
        return "tests/browser/ holds browser tests only: mark it browser or move it out"
    if folder == "integration" and "slow" not in markers:
        return ("tests/integration/ holds slow tests only: mark it slow or move it to its "
                "feature folder")
    if "browser" in markers and folder != "browser":
        return "a browser test belongs in tests/browser/"
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects: every collected test is checked
def pytest_collection_modifyitems(config, items):
    """Fail collection when a test's folder and tier disagree, or when a fast-tier test asks
    for a real-model fixture (``real_generator``, ``real_embedder``)."""
    problems = []
    for item in items:
        path = Path(str(item.path)).resolve()
        if TESTS not in path.parents:
            continue
        rel = path.relative_to(TESTS)
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        markers = {m.name for m in item.iter_markers()}
        problem = tier_problem(folder, markers)
        if problem is None and not markers & set(REAL_MODEL_MARKERS):
            real = sorted({"real_generator", "real_embedder"} & set(item.fixturenames))
            if real:
                problem = f"uses {', '.join(real)} (real models) without the slow marker"
        if problem:
            problems.append(f"{item.nodeid}: {problem}")
    if problems:
        raise pytest.UsageError("tests whose folder or fixtures disagree with their tier "
                                "(docs/testing.md, Tiers):\n  " + "\n  ".join(problems))


# -- the fast tier's guard: no real embedded model -------------------------------------------
class RealModelInFastTier(RuntimeError):
    """A fast-tier test reached a real-model loader."""


_guard = {"on": False, "test": ""}


def _refuse(what: str):
    raise RealModelInFastTier(
        f"{_guard['test']} loads {what} but is not marked slow: use the tiny models "
        "(tiny_generator, fresh_llama, tiny_bert_base, HashEmbedder, a tiny model folder in "
        "the settings) or mark it @pytest.mark.slow and move it to tests/integration/ "
        "(docs/testing.md, Tiers)")


def _is_builtin(spec) -> bool:
    return isinstance(spec, str) and spec.strip().startswith("builtin:")


def _guarded(func, spec_of, what: str):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _guard["on"]:
            spec = spec_of(*args, **kwargs)
            if spec is True or _is_builtin(spec):
                _refuse(f"{what} {spec if spec is not True else ''}".strip())
        return func(*args, **kwargs)

    wrapper.__wrapped_real_model_guard__ = True
    return wrapper


def _settings_field(field: str):
    def spec_of(settings, *args, **kwargs):
        return getattr(settings, field, None)

    return spec_of


def _install_real_model_guard() -> None:
    """Wrap the real-model loaders once; each wrapper refuses only while ``_guard['on']``.

    Wrapped: :mod:`core.loaders` (embedder, generator weights, classifier base, for
    ``builtin:`` specs), :func:`core.model_sources.convert_smollm2` (the GGUF conversion) and
    :class:`core.emotions.emoji_signal.EmojiSignal` (the packaged fastText predictor). Model
    folders a test saved (tiny models) and fakes pass. Core modules import these lazily
    (``from core.loaders import load_embedder`` inside functions), so they get the wrappers.
    """
    from core import loaders, model_sources
    from core.emotions import emoji_signal

    if getattr(loaders.load_embedder, "__wrapped_real_model_guard__", False):
        return
    loaders.load_embedder = _guarded(loaders.load_embedder, _settings_field("embedding_model"),
                                     "the real embedder")
    loaders.load_classifier_base = _guarded(loaders.load_classifier_base,
                                            _settings_field("classifier_model"),
                                            "the real classifier encoder")
    loaders.load_causal_or_seq2seq = _guarded(loaders.load_causal_or_seq2seq,
                                              lambda spec, *a, **k: spec,
                                              "the real generator")
    model_sources.convert_smollm2 = _guarded(  # the packaged file; a test's own fake passes
        model_sources.convert_smollm2,
        lambda gguf_path, *a, **k: Path(gguf_path).name == model_sources.SMOLLM2_GGUF,
        "the SmolLM2 GGUF conversion")
    emoji_signal.load_emoji_predictor = _tiny_emoji_in_fast_tier(emoji_signal.load_emoji_predictor)
    init = emoji_signal.EmojiSignal.__init__
    emoji_signal.EmojiSignal.__init__ = _guarded(
        init, lambda self, spec=emoji_signal.BUILTIN, *a, **k: spec, "the real emoji predictor")


def _tiny_emoji_in_fast_tier(real_load):
    """Fast tier: ``load_emoji_predictor("builtin:nade-emoji")`` (nade's 13 MB fastText model,
    which emotion training reads by default) gets a tiny fastText model in its place (5 labels,
    :func:`tests.tiny_models.save_tiny_emoji_model`), still named by the built-in spec so saved
    emotion models record and reload it as usual. Slow and browser tests get the real one."""
    from core.emotions import emoji_signal
    from core.memo import memoized

    def build():
        path = _SESSION_DIR / "tiny-emoji" / "tiny-emoji.bin"
        if not path.exists():
            save_tiny_emoji_model(path.parent)
        signal = emoji_signal.EmojiSignal(str(path))
        signal.spec = emoji_signal.BUILTIN
        return signal

    @functools.wraps(real_load)
    def load(spec: str = emoji_signal.BUILTIN):
        if _guard["on"] and spec.strip() == emoji_signal.BUILTIN:
            return memoized(("emoji predictor", spec.strip(), "cpu", "tiny stand-in"), build)
        return real_load(spec)

    return load


def pytest_configure(config):
    _install_real_model_guard()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    """The guard is on from a fast-tier test's first fixture (session ones included) to its
    last teardown; slow and browser tests load the real models freely."""
    if not any(item.get_closest_marker(m) for m in REAL_MODEL_MARKERS):
        _guard.update(on=True, test=item.nodeid)
    yield


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    _guard.update(on=False, test="")


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def app_settings(tmp_path, monkeypatch):
    """Settings whose data directory is this test's own ``tmp_path``."""
    from core.settings import load_settings

    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path / "appdata"))
    return load_settings()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """The real MiniLM WordPiece tokenizer (ships in a package, loads offline)."""
    return minilm_tokenizer()


@pytest.fixture(scope="session")
def tiny_generator(tiny_tokenizer):
    """A ~1M-parameter Llama built from a config, wrapped in our Generator (shared by the
    session: never attach an adapter to it or train it; use ``fresh_generator``)."""
    from core.generation import Generator

    return Generator(build_tiny_llama(tiny_tokenizer), tiny_tokenizer, model_id="tiny-llama",
                     device="cpu", is_seq2seq=False)


@pytest.fixture
def fresh_llama(tiny_tokenizer):
    """A factory: ``fresh_llama()`` returns a new tiny Llama with seed-0 weights."""
    return lambda seed=0: build_tiny_llama(tiny_tokenizer, seed)


@pytest.fixture
def fresh_t5(tiny_tokenizer):
    """A factory of new tiny T5 models (encoder-decoder) with the MiniLM tokenizer."""
    return lambda seed=0: build_tiny_t5(tiny_tokenizer, seed)


@pytest.fixture
def fresh_generator(tiny_tokenizer):
    """A factory of Generators around fresh tiny Llamas (safe to attach adapters to)."""
    from core.generation import Generator

    def make(seed: int = 0) -> Generator:
        return Generator(build_tiny_llama(tiny_tokenizer, seed), tiny_tokenizer,
                         model_id="tiny-llama", device="cpu", is_seq2seq=False)

    return make


@pytest.fixture(scope="session")
def tiny_model_set(tmp_path_factory) -> dict[str, str]:
    """Every model the app loads, tiny and saved once per session: ``{NLPLAB_* variable:
    path}`` (generator, embedder, classifier encoder, emoji predictor)."""
    return save_tiny_model_set(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def tiny_models_env(tiny_model_set, monkeypatch):
    """The app's model settings point at the tiny model set (pages, the CLI and subprocesses
    started by the test): a fast-tier page renders without loading a real model."""
    for name, path in tiny_model_set.items():
        monkeypatch.setenv(name, path)
    _clear_cached_settings()
    yield tiny_model_set
    _clear_cached_settings()


def _clear_cached_settings() -> None:
    import sys

    if "core.st_cache" in sys.modules:  # pages cache the Settings read from the env
        sys.modules["core.st_cache"].settings.clear()


@pytest.fixture(scope="session")
def real_settings():
    from core.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def real_generator(real_settings):
    """The real default generator (slow tier only: collection refuses it elsewhere)."""
    from core.loaders import load_generator

    return load_generator(real_settings)


@pytest.fixture(scope="session")
def real_embedder(real_settings):
    """The real default embedder (slow tier only: collection refuses it elsewhere)."""
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
