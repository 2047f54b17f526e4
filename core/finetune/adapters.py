"""The adapter registry on disk, and named adapters on the shared generator.

Layout: ``<data_dir>/adapters/<name>/`` holds the standard PEFT files (``adapter_config.json``,
``adapter_model.safetensors``: loadable by ``PeftModel.from_pretrained``) plus our
``metadata.json`` (base model, knowledge base and content hash, settings, data size, losses,
duration, created_at). Any folder with an ``adapter_config.json`` counts, so adapters written
by other features (feedback training) are listed, inspected and deleted the same way.
Saving writes into a hidden temporary folder and renames it into place (``os.replace``), so a
crash never leaves a half-written adapter under a real name. Names match ``[a-z0-9_-]{1,64}``.

Switching: the first adapter wraps the shared model in one ``PeftModel``; later ones are added
with ``load_adapter``. Adapter layers stay *disabled* except while an adapter view
(:func:`adapter_generator`) runs a forward or generate call under ``generator.lock``, so base
answers are bit-identical to the model without adapters.

Example:
    >>> sanitise_name("My Adapter")
    'my-adapter'
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
import weakref
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from core.errors import UserError
from core.generation import Generator
from core.settings import Settings

NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")
METADATA_FILE = "metadata.json"
CONFIG_FILE = "adapter_config.json"


def sanitise_name(name: str) -> str:
    """Lower-case, spaces to ``-``; then it must match ``[a-z0-9_-]{1,64}`` or UserError.

    Example: ``"Orbis v2" -> "orbis-v2"``; ``"../etc"`` and ``"a/b"`` are refused.
    """
    cleaned = re.sub(r"\s+", "-", str(name).strip().lower())
    if not NAME_RE.fullmatch(cleaned):
        bad = sorted({c for c in cleaned if not re.fullmatch(r"[a-z0-9_-]", c)})
        detail = f"characters {''.join(bad)!r} are not allowed" if bad else (
            "it must be 1 to 64 characters long")
        raise UserError(f"adapter name {name!r} is invalid: {detail} (use a-z, 0-9, _ and -)")
    return cleaned


def adapters_root(settings: Settings) -> Path:
    return settings.data_dir / "adapters"


def adapter_path(settings: Settings, name: str) -> Path:
    return adapters_root(settings) / sanitise_name(name)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save_adapter(peft_model, name: str, metadata: dict, settings: Settings, *,
                 adapter_name: str = "default", overwrite: bool = False) -> Path:
    """Write the adapter and ``metadata.json`` atomically; returns the final folder."""
    target = adapter_path(settings, name)
    if target.exists() and not overwrite:
        raise UserError(f"an adapter named {target.name!r} exists: pick another name or delete it")
    root = adapters_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
    old = root / f".old-{target.name}-{uuid.uuid4().hex[:8]}"
    try:
        peft_model.save_pretrained(str(tmp), selected_adapters=[adapter_name])
        produced = tmp / adapter_name if adapter_name != "default" else tmp
        if produced != tmp:  # peft nests non-default adapters in a sub-folder
            for item in produced.iterdir():
                os.replace(item, tmp / item.name)
            produced.rmdir()
        meta = {"name": target.name, "created_at": now_iso(), **metadata}
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def list_adapters(settings: Settings) -> list[dict]:
    """One summary per adapter folder, newest first (skips temp folders and non-adapters)."""
    root = adapters_root(settings)
    if not root.is_dir():
        return []
    rows = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not (folder / CONFIG_FILE).is_file():
            continue
        if not NAME_RE.fullmatch(folder.name):
            continue
        meta = _read_json(folder / METADATA_FILE)
        config = _read_json(folder / CONFIG_FILE)
        losses = meta.get("losses") or []
        rows.append({
            "name": folder.name,
            "created_at": meta.get("created_at")
            or datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat(timespec="seconds"),
            "base_model": meta.get("base_model") or config.get("base_model_name_or_path", ""),
            "knowledge_base": meta.get("knowledge_base", ""),
            "data_mode": (meta.get("settings") or {}).get("data_mode", meta.get("source", "")),
            "source": meta.get("source") or meta.get("kind") or "",
            "parent_adapter": meta.get("parent_adapter"),
            "rank": config.get("r"),
            "final_loss": meta.get("train_loss", losses[-1] if losses else None),
            "seconds": meta.get("seconds"),
            "partial": bool(meta.get("partial")),  # kept from a cancelled run
        })
    return sorted(rows, key=lambda r: str(r["created_at"]), reverse=True)


def require_adapter(settings: Settings, name: str) -> Path:
    """The folder of an existing adapter; UserError listing the available ones if missing."""
    folder = adapter_path(settings, name)
    if not (folder / CONFIG_FILE).is_file():
        have = ", ".join(sorted(r["name"] for r in list_adapters(settings))) or "none yet"
        raise UserError(f"no adapter named {folder.name!r} in {folder.parent} "
                        f"(available: {have})")
    return folder


def read_metadata(settings: Settings, name: str) -> dict:
    """The adapter's ``metadata.json`` ({} when it has none or it is unreadable)."""
    return _read_json(adapter_path(settings, name) / METADATA_FILE)


def inspect_adapter(settings: Settings, name: str) -> dict:
    """Metadata, PEFT config and files (with sizes) of one adapter."""
    folder = adapter_path(settings, name)
    if not (folder / CONFIG_FILE).is_file():
        raise UserError(f"no adapter named {folder.name!r}")
    return {"name": folder.name, "path": str(folder),
            "metadata": _read_json(folder / METADATA_FILE),
            "peft_config": _read_json(folder / CONFIG_FILE),
            "files": {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}}


def delete_adapter(settings: Settings, name: str) -> None:
    """Remove an adapter folder (and drop it from any generator that loaded it)."""
    folder = adapter_path(settings, name)
    if not folder.is_dir():
        raise UserError(f"no adapter named {folder.name!r}")
    trash = folder.parent / f".deleted-{folder.name}-{uuid.uuid4().hex[:8]}"
    os.replace(folder, trash)  # atomic: the name disappears at once
    shutil.rmtree(trash, ignore_errors=True)
    for state in list(_states.values()):
        state.forget(folder.name)


class _AdapterState:
    """The PeftModel wrapping one generator's model and which adapter versions it holds."""

    def __init__(self) -> None:
        self.peft_model = None
        self.loaded: dict[str, str] = {}  # name -> created_at of the loaded version

    def forget(self, name: str) -> None:
        if self.peft_model is not None and name in self.loaded:
            self.peft_model.delete_adapter(name)
            self.loaded.pop(name)
            if self.loaded:
                self.peft_model.base_model.disable_adapter_layers()


_states: weakref.WeakKeyDictionary[Generator, _AdapterState] = weakref.WeakKeyDictionary()


def _stamp(folder: Path) -> str:
    meta = _read_json(folder / METADATA_FILE)
    return str(meta.get("created_at") or (folder / CONFIG_FILE).stat().st_mtime_ns)


def load_adapter(generator: Generator, name: str, settings: Settings):
    """Make adapter ``name`` available on ``generator`` (reloads if it was retrained)."""
    from peft import PeftModel

    folder = adapter_path(settings, name)
    if not (folder / CONFIG_FILE).is_file():
        raise UserError(f"no adapter named {folder.name!r}: train one on the Fine-tune page")
    key = folder.name
    with generator.lock:
        state = _states.setdefault(generator, _AdapterState())
        stamp = _stamp(folder)
        if state.loaded.get(key) == stamp:
            return state.peft_model
        if key in state.loaded:
            state.forget(key)
        try:
            if state.peft_model is None:
                state.peft_model = PeftModel.from_pretrained(
                    generator.model, str(folder), adapter_name=key, is_trainable=False)
            else:
                state.peft_model.load_adapter(str(folder), adapter_name=key, is_trainable=False)
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            raise UserError(f"adapter {key!r} does not fit {generator.model_id}: "
                            f"{str(exc).splitlines()[0][:200]}") from exc
        state.peft_model.eval()
        state.peft_model.base_model.disable_adapter_layers()
        state.loaded[key] = stamp
        return state.peft_model


@contextmanager
def active_adapter(generator: Generator, name: str):
    """Hold the lock with ``name`` enabled; adapter layers are disabled again on exit."""
    with generator.lock:
        state = _states.get(generator)
        if state is None or name not in state.loaded:
            raise UserError(f"adapter {name!r} is not loaded on this generator")
        peft_model = state.peft_model
        peft_model.base_model.set_adapter(name, inference_mode=True)
        peft_model.base_model.enable_adapter_layers()
        try:
            yield peft_model
        finally:
            peft_model.base_model.disable_adapter_layers()


class _AdapterModel:
    """Stands in for ``generator.model``: forward and generate run with one adapter enabled."""

    def __init__(self, generator: Generator, name: str) -> None:
        self._generator, self._name = generator, name

    def __call__(self, *args, **kwargs):
        with active_adapter(self._generator, self._name) as model:
            return model(*args, **kwargs)

    def generate(self, *args, **kwargs):
        with active_adapter(self._generator, self._name) as model:
            return model.generate(*args, **kwargs)

    def __getattr__(self, attr: str):  # device, config, dtype... of the shared model
        return getattr(self._generator.model, attr)


def adapter_generator(generator: Generator, name: str, settings: Settings) -> Generator:
    """A :class:`Generator` view sharing model, tokenizer and lock, answering with ``name``.

    Works with ``generate`` and ``stream`` alike: the adapter is switched on inside the
    locked model call, wherever that runs.
    """
    load_adapter(generator, name, settings)
    key = sanitise_name(name)
    view = Generator(_AdapterModel(generator, key), generator.tokenizer,
                     model_id=f"{generator.model_id} + {key}", device=generator.device,
                     is_seq2seq=generator.is_seq2seq)
    view.lock = generator.lock
    view.adapter_name = key  # type: ignore[attr-defined]
    return view

