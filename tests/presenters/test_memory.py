"""The GPU memory page's presenter (core.presenters.memory): its non-widget steps."""

from __future__ import annotations

import dataclasses

from core.memory.config_input import describe_app_model
from core.memory.estimate import EstimateConfig
from core.presenters import memory as presenter


def test_parse_targets_drops_blanks_and_spaces():
    assert presenter.parse_targets("q, v,, ") == ("q", "v")
    assert presenter.parse_targets("") == ()


def test_app_model_labels_name_each_model_with_its_roles(app_settings):
    labels = presenter.app_model_labels(app_settings)
    generator = [k for k, v in labels.items() if v == app_settings.generator_model]
    # ", loaded" follows the roles when an earlier test already loaded the generator
    assert len(generator) == 1 and generator[0].startswith(
        f"{app_settings.generator_model} (generator"), labels
    assert set(labels.values()) == {app_settings.generator_model, app_settings.embedding_model,
                                    app_settings.classifier_model}


def test_measurement_is_keyed_by_what_was_measured(app_settings, monkeypatch):
    seen = []

    def fake(cfg, location, ec, device="cpu", models_dir=None, progress=None, timeout=900):
        seen.append((location, device, models_dir))
        progress(1.0, "done")
        return {"measured": None, "reason": "fake"}

    monkeypatch.setattr("core.memory.measure.measure", fake)
    settings = dataclasses.replace(app_settings, device="cpu")
    desc = describe_app_model(settings.generator_model, settings)
    ec = EstimateConfig(dtype="fp32", mode="lora", batch=2, seq=64)
    steps = []
    out = presenter.measurement(desc, ec, settings, progress=lambda f, m: steps.append(m))
    assert out == {"key": (desc.name, "fp32", "lora", 2, 64), "measured": None,
                   "reason": "fake"}
    assert seen == [(desc.location, "cpu", settings.models_dir)] and steps == ["done"]
