"""The adapter registry on disk: one folder per LoRA adapter, listed, inspected, saved, deleted.

Layout: ``<data_dir>/adapters/<name>/`` holds the standard PEFT files (``adapter_config.json``,
``adapter_model.safetensors``: loadable by ``PeftModel.from_pretrained``) plus our
``metadata.json`` (base model, knowledge base and content hash, settings, data size, losses,
duration, created_at). Any folder with an ``adapter_config.json`` counts, so adapters written
by other features (feedback training) are listed, inspected and deleted the same way.
Saving writes into a hidden temporary folder renamed into place (:func:`core.atomic.atomic_dir`),
so a crash never leaves a half-written adapter under a real name. Names follow the one
store-name rule (``[a-z0-9_-]{1,64}``) after :func:`core.names.suggest_name` lower-cases them
and turns spaces into ``-`` (adapter names are typed as free text on the Fine-tune page and
the CLI); anything else (``/``, ``.``, accents) is refused.

Left out: putting an adapter on a model. The :class:`~core.generation.Generator` loads and
switches its own adapters; it registers here (:func:`watch_deletions`) so that deleting an
adapter also drops it from every generator that loaded it.

Example:
    >>> AdapterRegistry(Path("/data/adapters")).path("Orbis v2").name
    'orbis-v2'
    >>> AdapterRegistry(Path("/data/adapters")).path("../etc")  # doctest: +SKIP
    core.errors.UserError: adapter name '../etc' is not allowed; ...
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import weakref
from datetime import UTC, datetime
from pathlib import Path

from core import access
from core.atomic import atomic_dir, write_text_atomic
from core.errors import UserError
from core.names import is_valid_name, suggest_name

METADATA_FILE = "metadata.json"
CONFIG_FILE = "adapter_config.json"
_watchers: weakref.WeakSet = weakref.WeakSet()  # generators: forget_adapter(folder) on delete


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def watch_deletions(holder) -> None:
    """Call ``holder.forget_adapter(folder)`` whenever a registry deletes an adapter folder."""
    _watchers.add(holder)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def helped_label(result: dict | None) -> str:
    """What the adapter list says about a stored before/after result.

    Example: delta +0.12 with interval (0.05, 0.19) -> "yes: +0.120 answer_hit";
    interval (-0.02, 0.10) -> "unclear: +0.040 answer_hit"; no result -> "".
    """
    if not result:
        return ""
    low, high = result.get("delta_ci95") or (None, None)
    verdict = ("unclear" if low is None else "yes" if low > 0 else "no" if high < 0
               else "unclear")
    return f"{verdict}: {result.get('delta', 0):+.3f} {result.get('metric', '')}".strip()


class AdapterRegistry:
    """The adapters under one folder (``<data_dir>/adapters``: see :meth:`of`)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def of(cls, settings) -> AdapterRegistry:
        """The registry of ``settings.data_dir``."""
        return cls(Path(settings.data_dir) / "adapters")

    def __repr__(self) -> str:
        return f"AdapterRegistry({str(self.root)!r})"

    def path(self, name: str) -> Path:
        """The folder adapter ``name`` lives (or would live) in; the name is checked first."""
        return self.root / suggest_name(name, "adapter")

    def exists(self, name: str) -> bool:
        return (self.path(name) / CONFIG_FILE).is_file()

    def require(self, name: str) -> Path:
        """The folder of an existing adapter; UserError listing the available ones if missing."""
        folder = self.path(name)
        if not (folder / CONFIG_FILE).is_file():
            have = ", ".join(sorted(r["name"] for r in self.list())) or "none yet"
            raise UserError(f"no adapter named {folder.name!r} in {folder.parent} "
                            f"(available: {have})")
        return folder

    def metadata(self, name: str) -> dict:
        """The adapter's ``metadata.json``: {} when it has none; a :class:`UserError` naming
        the file when it is there but unreadable (a page shows it: a silent {} would hide, for
        example, which knowledge base the adapter was trained on)."""
        path = self.path(name) / METADATA_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"the metadata of adapter {name!r} ({METADATA_FILE}) is unreadable: "
                            f"{str(exc).splitlines()[0][:120]}") from None
        if not isinstance(data, dict):
            raise UserError(f"the metadata of adapter {name!r} ({METADATA_FILE}) is not a JSON "
                            "object")
        return data

    @staticmethod
    def stamp(folder: Path) -> str:
        """Which version of the adapter sits in ``folder``: created_at and the config's mtime
        (a save replaces the folder, so a retrain within the same second differs too)."""
        meta = _read_json(folder / METADATA_FILE)
        return f"{meta.get('created_at', '')}|{(folder / CONFIG_FILE).stat().st_mtime_ns}"

    def list(self) -> list[dict]:
        """One summary per adapter folder, newest first (skips temp folders and non-adapters)."""
        if not self.root.is_dir():
            return []
        rows = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not (folder / CONFIG_FILE).is_file():
                continue
            if not is_valid_name(folder.name):
                continue
            meta = _read_json(folder / METADATA_FILE)
            config = _read_json(folder / CONFIG_FILE)
            losses = meta.get("losses") or []
            rows.append({
                "name": folder.name,
                "created_at": meta.get("created_at") or datetime.fromtimestamp(
                    folder.stat().st_mtime, UTC).isoformat(timespec="seconds"),
                "base_model": meta.get("base_model") or config.get("base_model_name_or_path", ""),
                "knowledge_base": meta.get("knowledge_base", ""),
                "data_mode": (meta.get("settings") or {}).get("data_mode", meta.get("source", "")),
                "source": meta.get("source") or meta.get("kind") or "",
                "parent_adapter": meta.get("parent_adapter"),
                "rank": config.get("r"),
                "final_loss": meta.get("train_loss", losses[-1] if losses else None),
                "seconds": meta.get("seconds"),
                "partial": bool(meta.get("partial")),  # kept from a cancelled run
                "helped": helped_label(meta.get("before_after")),
            })
        return sorted(rows, key=lambda r: str(r["created_at"]), reverse=True)

    def names(self) -> list[str]:
        return [r["name"] for r in self.list()]

    def inspect(self, name: str) -> dict:
        """Metadata, PEFT config and files (with sizes) of one adapter."""
        folder = self.path(name)
        if not (folder / CONFIG_FILE).is_file():
            raise UserError(f"no adapter named {folder.name!r}")
        return {"name": folder.name, "path": str(folder),
                "metadata": _read_json(folder / METADATA_FILE),
                "peft_config": _read_json(folder / CONFIG_FILE),
                "files": {p.name: p.stat().st_size for p in sorted(folder.iterdir())
                          if p.is_file()}}

    def save(self, peft_model, name: str, metadata: dict, *, adapter_name: str = "default",
             overwrite: bool = False) -> Path:
        """Write the adapter and ``metadata.json`` atomically; returns the final folder."""
        target = self.path(name)
        if target.exists() and not overwrite:
            raise UserError(f"an adapter named {target.name!r} exists: pick another name or "
                            "delete it")
        with atomic_dir(target) as tmp:
            peft_model.save_pretrained(str(tmp), selected_adapters=[adapter_name])
            produced = tmp / adapter_name if adapter_name != "default" else tmp
            if produced != tmp:  # peft nests non-default adapters in a sub-folder
                for item in produced.iterdir():
                    os.replace(item, tmp / item.name)
                produced.rmdir()
            meta = {"name": target.name, "created_at": now_iso(), **metadata}
            (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return target

    def update_metadata(self, name: str, patch: dict) -> dict:
        """Merge ``patch`` into an existing adapter's ``metadata.json`` (atomic replace: a
        reader sees the old file or the new one, never half of it); returns the new metadata."""
        folder = self.require(name)
        meta = {**_read_json(folder / METADATA_FILE), **patch}
        write_text_atomic(folder / METADATA_FILE, json.dumps(meta, indent=2, default=str))
        return meta

    def delete(self, name: str, *, actor: access.Actor | None = None) -> None:
        """Remove an adapter folder (and drop it from any generator that loaded it); ``actor``
        must be allowed ``delete`` (None: the process's actor, see core.access)."""
        access.require(actor, "delete")
        folder = self.path(name)
        if not folder.is_dir():
            raise UserError(f"no adapter named {folder.name!r}")
        trash = folder.parent / f".deleted-{folder.name}-{uuid.uuid4().hex[:8]}"
        os.replace(folder, trash)  # atomic: the name disappears at once
        shutil.rmtree(trash, ignore_errors=True)
        for holder in list(_watchers):
            holder.forget_adapter(folder)
