"""The suite's one factory of tiny models built from configs (no weights download, no load).

Plain functions, importable where fixtures are not: module level, ``torchrun`` scripts
(``tests/serve/ddp_*.py``), subprocesses. ``tests/conftest.py`` wraps them in fixtures
(``tiny_tokenizer``, ``tiny_generator``, ``fresh_llama``, ``fresh_t5``, ``fresh_generator``,
``tiny_model_factory``). Importing this module has no side effects (no env, no temp folders).

Each kind has one set of sizes (``SIZES``), so a test that needs "a tiny Llama" gets the same
~1M-parameter model everywhere; token ids (vocabulary, pad, eos, bos) come from the tokenizer
the model is paired with. A fixed seed gives identical weights on every call, so a test can
compare a trained copy with an untouched one.

Example:
    >>> model = tiny_model("llama", vocab_size=64)          # doctest: +SKIP
    >>> model.config.hidden_size, model.config.num_hidden_layers
    (32, 2)
    >>> tiny_model("llama", minilm_tokenizer()).config.eos_token_id  # MiniLM's [SEP]
    102
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: kind -> (config class, model class), both in ``transformers``.
KINDS: dict[str, tuple[str, str]] = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "t5": ("T5Config", "T5ForConditionalGeneration"),
    "bert": ("BertConfig", "BertModel"),  # an encoder (sentence embeddings)
    "bert-cls": ("BertConfig", "BertForSequenceClassification"),
}

_LLAMA = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=256)  # ~1M parameters + embeddings
_T5 = dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4)
_BERT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
             max_position_embeddings=128)
SIZES: dict[str, dict] = {"llama": _LLAMA, "t5": _T5, "bert": _BERT, "bert-cls": _BERT}


def token_ids(kind: str, tokenizer) -> dict:
    """Config entries taken from ``tokenizer``.

    Example: MiniLM's WordPiece tokenizer (no eos) -> ``{"vocab_size": 30522,
    "pad_token_id": 0, "eos_token_id": 102}`` for a Llama: its ``[SEP]`` ends a generation.
    """
    if tokenizer is None:
        return {}
    ids: dict = {"vocab_size": len(tokenizer)}
    if kind.startswith("bert"):
        return ids
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    ids.update(pad_token_id=tokenizer.pad_token_id, eos_token_id=eos)
    if tokenizer.bos_token_id is not None:
        ids["bos_token_id"] = tokenizer.bos_token_id
    if kind == "t5":
        ids["decoder_start_token_id"] = tokenizer.pad_token_id
    return ids


def tiny_config(kind: str = "llama", tokenizer=None, **overrides):
    """The ``transformers`` config of a tiny ``kind`` model; ``overrides`` win."""
    import transformers

    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; known: {', '.join(KINDS)}")
    config_cls = getattr(transformers, KINDS[kind][0])
    return config_cls(**{**SIZES[kind], **token_ids(kind, tokenizer), **overrides})


def tiny_model(kind: str = "llama", tokenizer=None, seed: int = 0, train: bool = False,
               **overrides):
    """A fresh tiny ``kind`` model with seed-``seed`` weights, in eval mode unless ``train``.

    ``overrides`` go to the config (``vocab_size=64`` without a tokenizer, ``num_labels=3``).
    """
    import torch
    import transformers

    config = tiny_config(kind, tokenizer, **overrides)
    torch.manual_seed(seed)
    model = getattr(transformers, KINDS[kind][1])(config)
    return model.train() if train else model.eval()


def build_tiny_llama(tokenizer, seed: int = 0):
    """The tiny Llama paired with ``tokenizer`` (the most used kind; kept under this name)."""
    return tiny_model("llama", tokenizer, seed)


def build_tiny_t5(tokenizer, seed: int = 0):
    return tiny_model("t5", tokenizer, seed)


def save_tiny_model(folder: Path, tokenizer, kind: str = "llama", seed: int = 0,
                    **overrides) -> Path:
    """Save a tiny model and its tokenizer to ``folder`` the way ``save_pretrained`` does, so
    the app's loaders read it as a model folder (``NLPLAB_GENERATOR_MODEL=<folder>``)."""
    folder = Path(folder)
    tiny_model(kind, tokenizer, seed, **overrides).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def minilm_tokenizer():
    """The real MiniLM WordPiece tokenizer (ships in a package, loads offline; no weights)."""
    from transformers import AutoTokenizer

    from core.model_sources import BUILTINS, package_folder

    b = BUILTINS["all-minilm-l6-v2"]
    return AutoTokenizer.from_pretrained(package_folder(b.module, b.package) / "model")


def smollm2_tokenizer():
    """SmolLM2's tokenizer (with its chat template) from the packaged GGUF; no weights load."""
    from transformers import AutoTokenizer

    from core.model_sources import BUILTINS, SMOLLM2_GGUF, package_folder

    b = BUILTINS["smollm2-135m-instruct"]
    return AutoTokenizer.from_pretrained(package_folder(b.module, b.package),
                                         gguf_file=SMOLLM2_GGUF)


def save_tiny_sentence_encoder(folder: Path, tokenizer, **overrides) -> Path:
    """A sentence-transformers folder over a 1-layer tiny BERT (mean pooling, normalised), the
    shape ``NLPLAB_EMBEDDING_MODEL`` takes (384-d MiniLM replaced by 32-d noise)."""
    from sentence_transformers import SentenceTransformer, models

    folder = Path(folder)
    encoder = save_tiny_model(folder / "bert", tokenizer, kind="bert",
                              **{"num_hidden_layers": 1, **overrides})
    word = models.Transformer(str(encoder), max_seq_length=64)
    dim = getattr(word, "get_embedding_dimension", word.get_word_embedding_dimension)()
    pool = models.Pooling(dim, "mean")
    SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu").save(
        str(folder / "st"))
    return folder / "st"


#: Lines a tiny fastText emoji predictor learns from: five emoji, two words each.
TINY_EMOJI_TEXT = {"1": "happy great", "2": "sad cry", "3": "angry mad", "4": "love heart",
                   "5": "funny lol"}


#: A fastText supervised model trained once by :func:`train_tiny_emoji_model` (637 bytes).
TINY_EMOJI_BIN = Path(__file__).resolve().parent / "assets" / "tiny-emoji.bin"


def save_tiny_emoji_model(folder: Path) -> Path:
    """The tiny emoji predictor (5 labels ``__label__1``..``5``, 4-d vectors) copied into
    ``folder`` as ``tiny-emoji.bin``: the file form of ``NLPLAB_EMOJI_MODEL``.

    A committed file, not trained per session: fastText's trainer reports "Encountered NaN" on
    this tiny file in anything from 5 % to every run of a process, seed and thread count fixed
    (a whole suite once failed 50 tries in a row), so tests read the one good model.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny-emoji.bin"
    shutil.copyfile(TINY_EMOJI_BIN, path)
    return path


def train_tiny_emoji_model(path: Path, tries: int = 500) -> Path:
    """Train the tiny emoji predictor again (softmax, dim 4, 5 epochs, a new seed after each
    "Encountered NaN") and save it at ``path``; this made :data:`TINY_EMOJI_BIN`.

    Example: ``train_tiny_emoji_model(TINY_EMOJI_BIN)`` after a fastText upgrade.
    """
    import fasttext

    path = Path(path)
    lines = [f"__label__{k} {v}" for k, v in TINY_EMOJI_TEXT.items() for _ in range(20)]
    train = path.with_suffix(".txt")
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fasttext.FastText.eprint = lambda *_: None
    try:
        for seed in range(tries):
            try:
                model = fasttext.train_supervised(str(train), dim=4, epoch=5, minCount=1,
                                                  loss="softmax", thread=1, seed=seed,
                                                  verbose=0)
                break
            except RuntimeError:  # "Encountered NaN."
                continue
        else:
            raise RuntimeError(f"fastText could not train the tiny emoji model ({tries} tries)")
    finally:
        train.unlink()
    model.save_model(str(path))
    return path


def save_tiny_model_set(folder: Path) -> dict[str, str]:
    """Every model the app loads, tiny, under ``folder``: ``{NLPLAB_* variable: path}``.

    Example: ``monkeypatch.setenv(name, path)`` for each -> pages, the CLI and its
    subprocesses run on tiny models (the ``tiny_models_env`` fixture).
    """
    folder = Path(folder)
    tok = minilm_tokenizer()
    return {
        "NLPLAB_GENERATOR_MODEL": str(save_tiny_model(folder / "generator", tok)),
        "NLPLAB_EMBEDDING_MODEL": str(save_tiny_sentence_encoder(folder / "embedder", tok)),
        "NLPLAB_CLASSIFIER_MODEL": str(save_tiny_model(folder / "classifier", tok, kind="bert")),
        "NLPLAB_EMOJI_MODEL": str(save_tiny_emoji_model(folder / "emoji")),
    }
