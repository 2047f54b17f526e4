"""Where a model description comes from: catalog, uploaded config.json, hub id, loaded models.

Every route returns a :class:`ModelDescription` whose config has passed
:func:`core.memory.arch.arch_from_config` (UserError naming the bad field otherwise). A hub id
fetches ``config.json`` only (never weights) and only when online; offline it says so.
``builtin:`` specs and local folders (the app's own models) read their config.json from disk.
Nothing here loads weights.

Example:
    >>> describe("meta-llama/Llama-2-7b-hf").source
    'catalog'
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import access
from core.errors import UserError
from core.memory.arch import arch_from_config
from core.memory.catalog import catalog_config, find_catalog_id

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
#: Local models the app ships, and the catalog entry whose architecture they share.
BUILTIN_ARCH = {"builtin:smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M",
                "builtin:all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}


@dataclass(frozen=True)
class ModelDescription:
    name: str
    source: str  # catalog | upload | hub | loaded | builtin | path
    config: dict[str, Any]
    location: str | None = None  # folder the app can load (measurable), else None


def validated(cfg: Any, name: str, source: str, location: str | None = None) -> ModelDescription:
    if not isinstance(cfg, dict):
        raise UserError(f"{name}: config.json must be a JSON object, got {type(cfg).__name__}")
    arch_from_config(cfg)  # raises UserError naming the field
    return ModelDescription(name, source, cfg, location)


def from_upload(data: bytes, name: str = "uploaded config.json", max_mb: float = 1.0, *,
                actor: access.Actor | None = None) -> ModelDescription:
    """Parse an uploaded config.json (size-limited; JSON only, never executed or unpickled);
    ``actor`` must be allowed ``upload`` (None: the process's actor, see core.access)."""
    access.require(actor, "upload")
    if len(data) > max_mb * 1024**2:
        raise UserError(f"{name} is {len(data) / 1024**2:.1f} MB; config files over "
                        f"{max_mb:g} MB are refused")
    try:
        cfg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{name} is not valid JSON: {exc}") from None
    return validated(cfg, name, "upload")


def from_file(path: str | Path, max_mb: float = 1.0) -> ModelDescription:
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"config file {str(path)!r} does not exist")
    return from_upload(path.read_bytes(), path.name, max_mb)


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def from_hub(hub_id: str) -> ModelDescription:
    """Fetch only ``config.json`` of ``hub_id`` (needs internet; trust_remote_code never)."""
    if not HUB_ID.match(hub_id):
        raise UserError(f"{hub_id!r} is not a hub id of the form owner/name")
    if _offline():
        raise UserError(f"{hub_id!r} is not in the catalog and the hub is offline "
                        "(HF_HUB_OFFLINE=1): upload its config.json or pick a catalog model")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        path = hf_hub_download(hub_id, "config.json")
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise UserError(f"could not fetch config.json of {hub_id!r}: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    desc = from_upload(Path(path).read_bytes(), f"{hub_id}/config.json")
    return ModelDescription(hub_id, "hub", desc.config, None)


def from_local(spec: str, models_dir: Path) -> ModelDescription:
    """A model the app can load: ``builtin:...`` or a local folder with config.json."""
    if spec in BUILTIN_ARCH:
        from core.model_sources import BUILTINS, SMOLLM2_FOLDER, package_folder

        name = spec.removeprefix("builtin:")
        converted = models_dir / SMOLLM2_FOLDER
        if name == "all-minilm-l6-v2":
            b = BUILTINS[name]
            location = str(package_folder(b.module, b.package) / "model")
        else:  # SmolLM2 is converted on first load; until then we know its catalog config
            package_folder(BUILTINS[name].module, BUILTINS[name].package)
            location = spec
        cfg_path = Path(location) / "config.json"
        if not cfg_path.exists() and (converted / "config.json").exists():
            cfg_path = converted / "config.json"
        cfg = (json.loads(cfg_path.read_text()) if cfg_path.exists()
               else catalog_config(BUILTIN_ARCH[spec]))
        return validated(cfg, spec, "builtin", location)
    folder = Path(spec).expanduser()
    if not (folder / "config.json").is_file():
        raise UserError(f"{spec!r} is not a model folder with a config.json")
    try:
        cfg = json.loads((folder / "config.json").read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{spec}/config.json is not valid JSON: {exc}") from None
    return validated(cfg, spec, "path", str(folder))


def _is_existing_path(spec: str) -> bool:
    """``Path(spec).exists()`` that says False for names the OS refuses (too long, NUL byte)."""
    try:
        return Path(spec).expanduser().exists()
    except (OSError, ValueError):
        return False


def from_loaded_model(model: Any, name: str) -> ModelDescription:
    """A model object already in memory (its ``config``), e.g. the app's generator."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise UserError(f"{name}: the loaded object has no transformers config")
    return validated(config.to_dict(), name, "loaded")


def describe(name_or_id: str, models_dir: Path | None = None) -> ModelDescription:
    """Resolve a CLI ``--model``: catalog name/id, builtin spec, local folder, then hub."""
    name_or_id = name_or_id.strip()
    if not name_or_id:
        raise UserError("--model must name a catalog model, a builtin:..., a folder or a hub id")
    hub_id = find_catalog_id(name_or_id)
    if hub_id:
        return validated(catalog_config(hub_id), hub_id, "catalog")
    if name_or_id.startswith("builtin:") or _is_existing_path(name_or_id):
        if name_or_id.startswith("builtin:") and name_or_id not in BUILTIN_ARCH:
            raise UserError(f"unknown builtin {name_or_id!r}; known: {', '.join(BUILTIN_ARCH)}")
        return from_local(name_or_id, models_dir or Path("."))
    return from_hub(name_or_id)


def app_models(settings) -> list[dict[str, Any]]:
    """The app's configured models (generator, embedder, classifier), loaded ones flagged."""
    from core.loaders import is_loaded

    rows: dict[str, dict[str, Any]] = {}
    for role, spec in (("generator", settings.generator_model),
                       ("embedder", settings.embedding_model),
                       ("classifier", settings.classifier_model)):
        row = rows.setdefault(spec, {"spec": spec, "roles": [], "loaded": False})
        row["roles"].append(role)
        if role in ("generator", "embedder") and is_loaded(role, settings):
            row["loaded"] = True
    return list(rows.values())


def describe_app_model(spec: str, settings) -> ModelDescription:
    """Description of one of the app's models: from disk, the loaded object, or the hub."""
    if spec.startswith("builtin:") or Path(spec).expanduser().exists():
        return from_local(spec, settings.models_dir)
    from core.loaders import is_loaded, load_generator

    if spec == settings.generator_model and is_loaded("generator", settings):
        desc = from_loaded_model(load_generator(settings).model, spec)
        return ModelDescription(spec, "loaded", desc.config, spec)
    return from_hub(spec)
