"""System status for the home page and `python -m core info`: device, versions, models.

Reports; changes nothing except, when ``load=True``, loading each configured model once to
prove it works (timed). The time of the last real load of each model in this process is kept
(a model already in memory loads in no time, which says nothing), so the home page can show
what loading actually cost on this machine. It does not render anything.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time

from core.devices import device_status, pick_device
from core.errors import UserError
from core.loaders import (
    load_classifier_base,
    load_embedder,
    load_generator,
)
from core.memo import has_local, load_seconds
from core.model_sources import resolve
from core.settings import Settings

VERSIONED = ("torch", "transformers", "sentence-transformers", "peft", "trl", "lancedb",
             "streamlit", "scikit-learn", "nltk")

ROLES = {
    "embedder": ("embedding_model", "NLPLAB_EMBEDDING_MODEL"),
    "generator": ("generator_model", "NLPLAB_GENERATOR_MODEL"),
    "classifier": ("classifier_model", "NLPLAB_CLASSIFIER_MODEL"),
    "emoji predictor": ("emoji_model", "NLPLAB_EMOJI_MODEL"),
}
# The classifier encoder is loaded fresh (new head) for every training run, never kept.
KEPT_IN_MEMORY = ("embedder", "generator", "emoji predictor")
# (role, spec) -> seconds of the last load measured here (a GGUF conversion included); a model
# another caller loaded first has its time from the loaders' memo (core.loaders.load_seconds).
_last_load_seconds: dict[tuple[str, str], float] = {}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _load(role: str, settings: Settings) -> None:
    if role == "emoji predictor":
        from core.emotions.emoji_signal import load_emoji_predictor  # no scipy at start-up

        load_emoji_predictor(settings.emoji_model)
    elif role == "embedder":
        load_embedder(settings)
    elif role == "generator":
        load_generator(settings)
    else:
        load_classifier_base(settings, ["negative", "positive"])


def _source(role: str, spec: str, settings: Settings, load: bool) -> dict[str, str]:
    """kind, location and source of a model; the SmolLM2 GGUF is converted only to load it."""
    if role == "emoji predictor":
        from core.emotions.emoji_signal import source_description

        location, description = source_description(spec)
        return {"kind": "file", "location": location, "source": description}
    if not load and spec.startswith("builtin:smollm2"):
        return {"kind": "package", "source": "SmolLM2 GGUF (converted on first load)"}
    source = resolve(spec, settings.models_dir)
    return {"kind": source.kind, "location": source.location, "source": source.description}


def model_status(role: str, settings: Settings, *, load: bool) -> dict[str, object]:
    """One model's row: spec, env var, source, and (optionally) whether it loads and how fast."""
    attr, env = ROLES[role]
    spec = getattr(settings, attr)
    row: dict[str, object] = {"role": role, "spec": spec, "env": env}
    was_loaded = role in KEPT_IN_MEMORY and has_local(role, spec)
    start = time.perf_counter()  # resolving may convert the GGUF once: part of the load
    try:
        row.update(_source(role, spec, settings, load))
        if load:
            _load(role, settings)
            row["load_seconds"] = round(time.perf_counter() - start, 3)
            if not was_loaded:
                _last_load_seconds[(role, spec)] = row["load_seconds"]
        row["loaded"] = role in KEPT_IN_MEMORY and has_local(role, spec)
        row["ok"] = True
    except UserError as exc:
        row.update(ok=False, loaded=False, error=str(exc))
    row["kept_in_memory"] = role in KEPT_IN_MEMORY
    row["last_load_seconds"] = _last_load_seconds.get((role, spec))
    if row["last_load_seconds"] is None and role in KEPT_IN_MEMORY:
        row["last_load_seconds"] = load_seconds(role, spec)
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


def model_rows(models: list[dict[str, object]]) -> list[dict[str, object]]:
    """The home page's models table, most useful columns first.

    Example: an embedder loaded in 3.14 s gives
    ``{"role": "embedder", "in memory": "yes", "last load (s)": 3.14, "model": ..., ...}``;
    the classifier, loaded fresh for each training run, reads ``"per training run"``.
    """
    return [{"role": m["role"],
             "in memory": ("yes" if m.get("loaded") else "no") if m.get("kept_in_memory")
             else "per training run",
             "last load (s)": m.get("last_load_seconds"),
             "model": m["spec"], "source": m.get("source", ""), "setting": m["env"]}
            for m in models]


def load_report(models: list[dict[str, object]]) -> tuple[bool, str]:
    """(all loaded?, one line saying what loaded and how long each took, or what failed)."""
    failed = [f"{m['role']}: {m['error']}" for m in models if not m.get("ok")]
    if failed:
        return False, "Could not load " + "; ".join(failed)
    times = ", ".join(f"{m['role']} {m['load_seconds']:.1f} s" for m in models)
    total = sum(float(m["load_seconds"]) for m in models)
    return True, f"Loaded all {len(models)} models in {total:.1f} s ({times})."
