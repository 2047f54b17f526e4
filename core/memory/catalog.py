"""Built-in catalog: the public ``config.json`` facts of popular models, in ``assets/``.

Each file ``assets/model_configs/<org>--<name>.json`` holds the size fields of the published
config of hub id ``<org>/<name>`` (no weights, no tokenizer). Lookup accepts the hub id, the
bare name, or the file stem, case-insensitively. This module does not validate sizes: see
:mod:`core.memory.arch`.

Example:
    >>> catalog_config("meta-llama/Llama-3.1-8B")["num_key_value_heads"]
    8
    >>> catalog_config("smollm2-135m")["tie_word_embeddings"]
    True
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.settings import ASSETS_DIR

CATALOG_DIR = ASSETS_DIR / "model_configs"


@cache
def _files() -> dict[str, Path]:
    return {p.stem.replace("--", "/"): p for p in sorted(CATALOG_DIR.glob("*.json"))}


def catalog_ids() -> list[str]:
    """Hub ids of every catalog entry, e.g. ``['FacebookAI/roberta-base', ...]``."""
    return list(_files())


def find_catalog_id(name: str) -> str | None:
    """The catalog hub id matching ``name`` (hub id, bare name or file stem), else None."""
    key = name.strip().lower().replace("--", "/")
    for hub_id in _files():
        low = hub_id.lower()
        if key in (low, low.split("/", 1)[1]):
            return hub_id
    return None


def catalog_config(name: str) -> dict[str, Any]:
    """A fresh copy of the catalog config for ``name``; UserError listing ids when unknown."""
    hub_id = find_catalog_id(name)
    if hub_id is None:
        raise UserError(f"{name!r} is not in the catalog; known: {', '.join(catalog_ids())}")
    return json.loads(_files()[hub_id].read_text())
