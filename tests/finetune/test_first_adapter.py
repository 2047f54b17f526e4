"""The first-start adapter: trained in the background only when needed, once, and said on the
pages a newcomer opens first."""

from __future__ import annotations

import threading
from dataclasses import replace

from core import jobs
from core.finetune import first_adapter, training_job
from core.presenters import compare
from core.presenters.finetune import adapter_name_for
from core.settings import Settings
from tests import job_bodies


def _settings(tmp_path, **changes) -> Settings:
    return replace(Settings(data_dir=tmp_path / "data", device="cpu"), **changes)


def _save_adapter(settings: Settings, name: str) -> None:
    from core.adapters import CONFIG_FILE, AdapterRegistry

    folder = AdapterRegistry.of(settings).path(name)
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text("{}")


def test_the_name_is_the_one_the_fine_tune_page_suggests():
    assert adapter_name_for("default", "knowledge") == first_adapter.NAME


def test_it_is_needed_only_when_on_local_and_missing(tmp_path):
    settings = _settings(tmp_path)
    assert first_adapter.reason_not_needed(settings) is None
    assert first_adapter.reason_not_needed(replace(settings, first_adapter=0)) == \
        "NLPLAB_FIRST_ADAPTER=0"
    assert "model server" in first_adapter.reason_not_needed(
        replace(settings, generator_url="http://gpu:8000/v1"))
    _save_adapter(settings, first_adapter.NAME)
    assert "exists" in first_adapter.reason_not_needed(settings)


def _fake_finetune(monkeypatch, release: threading.Event) -> dict:
    """The finetune kind's body replaced by one that records its parameters and waits."""
    seen: dict = {}

    def work(job, **params):
        seen.update(params)
        release.wait(10)
        return {"adapter": params["name"]}

    registry = job_bodies.registry({"finetune": jobs.KINDS["finetune"]})
    monkeypatch.setattr(job_bodies, "run", lambda job, **p: work(job, **p))
    return {"registry": registry, "seen": seen}


def test_start_trains_the_default_base_once_with_its_budget(tmp_path, monkeypatch):
    release = threading.Event()
    fake = _fake_finetune(monkeypatch, release)
    settings = _settings(tmp_path, first_adapter_minutes=2.5)
    job = first_adapter.start(settings, fake["registry"])
    try:
        assert job is not None and first_adapter.current(fake["registry"]) is job
        assert first_adapter.start(settings, fake["registry"]) is None  # one is running
    finally:
        release.set()
        job.wait(10)
    seen = fake["seen"]
    assert (seen["kb"], seen["name"], seen["build_default_kb"]) == (
        "default", first_adapter.NAME, True)
    assert seen["lora"].minutes == 2.5
    assert first_adapter.current(fake["registry"]) is job  # finished, still the one shown


def test_nothing_starts_when_it_is_not_needed(tmp_path, monkeypatch):
    fake = _fake_finetune(monkeypatch, threading.Event())
    assert first_adapter.start(_settings(tmp_path, first_adapter=0), fake["registry"]) is None
    assert fake["registry"].get("finetune") is None


def test_the_job_builds_the_default_base_before_training(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr("core.answering.open_store", lambda settings: "store")
    monkeypatch.setattr("core.rag.defaults.ensure_default_kb",
                        lambda store, progress=None: calls.append(f"build {store}"))
    monkeypatch.setattr(training_job.pipeline, "run_finetune",
                        lambda settings, kb, name, lora, **kw: calls.append(f"train {kb}"))
    job = jobs.Job("finetune", lambda j: None)
    params = first_adapter.job_params(_settings(tmp_path))
    training_job.finetune_job(job, **params)
    assert calls == ["build store", "train default"]


def test_default_adapter_index_prefers_the_first_start_one():
    assert compare.default_adapter_index([], "default-knowledge") is None
    assert compare.default_adapter_index(["a", "default-knowledge"], "default-knowledge") == 1
    assert compare.default_adapter_index(["a", "b"], "default-knowledge") == 0
