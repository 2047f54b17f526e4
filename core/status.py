"""System status for the home page and `python -m core info`: device, versions, models.

Reports; changes nothing except, when ``load=True``, loading each configured model once to
prove it works (timed). It does not render anything.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time

from core.devices import device_status, pick_device
from core.errors import UserError
from core.loaders import is_loaded, load_classifier_base, load_embedder, load_generator
from core.model_sources import resolve
from core.settings import Settings

VERSIONED = ("torch", "transformers", "sentence-transformers", "peft", "trl", "lancedb",
             "streamlit", "scikit-learn", "nltk")

ROLES = {
    "embedder": ("embedding_model", "NLPLAB_EMBEDDING_MODEL"),
    "generator": ("generator_model", "NLPLAB_GENERATOR_MODEL"),
    "classifier": ("classifier_model", "NLPLAB_CLASSIFIER_MODEL"),
}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _load(role: str, settings: Settings) -> None:
    if role == "embedder":
        load_embedder(settings)
    elif role == "generator":
        load_generator(settings)
    else:
        load_classifier_base(settings, ["negative", "positive"])


def model_status(role: str, settings: Settings, *, load: bool) -> dict[str, object]:
    """One model's row: spec, env var, source, and (optionally) whether it loads and how fast."""
    attr, env = ROLES[role]
    spec = getattr(settings, attr)
    row: dict[str, object] = {"role": role, "spec": spec, "env": env}
    start = time.perf_counter()  # resolving may convert the GGUF once: part of the load
    try:
        source = resolve(spec, settings.models_dir) if load or not spec.startswith(
            "builtin:smollm2") else None
        if source is not None:
            row.update(kind=source.kind, location=source.location, source=source.description)
        else:
            row.update(kind="package", source="SmolLM2 GGUF (converted on first load)")
        if load:
            _load(role, settings)
            row["load_seconds"] = round(time.perf_counter() - start, 3)
        row["loaded"] = role != "classifier" and is_loaded(role, settings)
        row["ok"] = True
    except UserError as exc:
        row.update(ok=False, loaded=False, error=str(exc))
    return row


def system_status(settings: Settings, *, load: bool = False) -> dict[str, object]:
    """Everything `info` prints."""
    return {
        "device": device_status(pick_device(settings.device)),
        "versions": versions(),
        "data_dir": str(settings.data_dir),
        "lancedb": settings.lancedb_location,
        "feedback_db": settings.feedback_url.split("@")[-1],  # never print a password
        "models": [model_status(role, settings, load=load) for role in ROLES],
    }
