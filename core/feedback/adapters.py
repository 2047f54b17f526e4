"""Where LoRA adapters live on disk and how their names are checked.

Adapters are folders ``<data_dir>/adapters/<name>/`` in standard PEFT format
(``adapter_config.json`` + ``adapter_model.safetensors``), optionally with our
``metadata.json``. Names become path components, so only a conservative alphabet is accepted.
This module does not load or train anything.

Example:
    >>> sanitise_name("kto-v2")
    'kto-v2'
    >>> sanitise_name("../etc")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    core.errors.UserError: ...
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.errors import UserError
from core.settings import Settings

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def sanitise_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name, else raise UserError saying what is allowed."""
    name = (name or "").strip()
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise UserError(f"adapter name must be 1-64 letters, digits, '.', '_' or '-', starting "
                        f"with a letter or digit, without '..' or slashes; got {name!r}")
    return name


def adapters_dir(settings: Settings) -> Path:
    return settings.data_dir / "adapters"


def is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


def list_adapters(settings: Settings) -> list[str]:
    """Names of the complete adapters (temp folders of unfinished runs are skipped)."""
    root = adapters_dir(settings)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and is_adapter(p))


def resolve_adapter(settings: Settings, name: str) -> Path:
    """The folder of adapter ``name``; UserError listing the available ones if missing."""
    folder = adapters_dir(settings) / sanitise_name(name)
    if not is_adapter(folder):
        have = ", ".join(list_adapters(settings)) or "none yet"
        raise UserError(f"no adapter named {name!r} in {adapters_dir(settings)} "
                        f"(available: {have})")
    return folder


def read_metadata(folder: Path) -> dict:
    path = folder / "metadata.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}
