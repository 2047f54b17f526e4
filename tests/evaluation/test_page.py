"""The Evaluate page through AppTest: settings kept across pages, the adapter/base check,
the shared job panel with an ETA, and answer_hit in the results."""

from __future__ import annotations

import json
import threading

from tests.finetune.test_pages import open_page, pages_env, wait_job

__all__ = ["pages_env"]


def widget(at, kind: str, label: str):
    return next(w for w in getattr(at, kind) if w.label == label)


def test_settings_are_restored_after_switching_pages(pages_env):
    at = open_page("app_pages/evaluate.py")
    widget(at, "number_input", "Questions").set_value(2)
    widget(at, "multiselect", "Modes").set_value(["rag"])
    widget(at, "slider", "Top-k chunks").set_value(5)
    widget(at, "selectbox", "Search").set_value("fts").run()
    at.switch_page("app_pages/home.py")
    at.run()
    at.switch_page("app_pages/evaluate.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert widget(at, "number_input", "Questions").value == 2
    assert widget(at, "multiselect", "Modes").value == ["rag"]
    assert widget(at, "slider", "Top-k chunks").value == 5
    assert widget(at, "selectbox", "Search").value == "fts"


def test_question_count_survives_the_upload_choice_without_a_file(pages_env):
    """Choosing "Upload a JSONL file" shows no questions until a file arrives; that empty
    moment must not shrink the kept count to 1 (it would then stick for the uploaded file)."""
    at = open_page("app_pages/evaluate.py")
    assert widget(at, "number_input", "Questions").value == 10
    at.radio[0].set_value("Upload a JSONL file").run()
    assert not at.exception, [e.value for e in at.exception]
    assert widget(at, "number_input", "Questions").disabled
    assert next(b for b in at.button if b.label == "Run evaluation").disabled
    at.radio[0].set_value("Default QA set").run()
    assert widget(at, "number_input", "Questions").value == 10


def _adapter(settings, name: str, kb: str) -> None:
    folder = settings.data_dir / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8}))
    (folder / "metadata.json").write_text(json.dumps({"knowledge_base": kb}))


def test_warns_when_the_adapter_was_trained_on_another_base(pages_env, app_settings):
    _adapter(app_settings, "other-ad", "mini")
    _adapter(app_settings, "default-ad", "default")
    at = open_page("app_pages/evaluate.py")
    adapter = widget(at, "selectbox", "Adapter (fine-tuned modes)")
    adapter.set_value("other-ad").run()
    warnings = [w.value.replace("\\", "") for w in at.warning]  # markdown escapes off
    assert any("other-ad" in w and "mini" in w and "not default" in w for w in warnings)
    widget(at, "selectbox", "Adapter (fine-tuned modes)").set_value("default-ad").run()
    assert not any("trained on" in w.value for w in at.warning)


def test_job_panel_shows_an_eta_and_results_show_answer_hit(pages_env, monkeypatch):
    import core.evaluation.runner as runner

    release = threading.Event()
    real = runner.evaluate

    def paused(items, modes, ctx, embedder, *, progress=None, cancel=None, meta=None,
               batch_size=8):
        def report(fraction, message):
            progress(fraction, message)
            if fraction >= 0.6:  # ETA: measured from the first question to the second
                release.wait(30)
        # one question per batch: three progress reports, so the panel can show an ETA
        return real(items, modes, ctx, embedder, progress=report, cancel=cancel, meta=meta,
                    batch_size=1)

    monkeypatch.setattr(runner, "evaluate", paused)
    at = open_page("app_pages/evaluate.py")
    widget(at, "number_input", "Questions").set_value(3)
    widget(at, "multiselect", "Modes").set_value(["base"])
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    import core.jobs as jobs

    job = jobs.REGISTRY.get("evaluate")
    for _ in range(600):
        if job.snapshot()["fraction"] >= 0.6:
            break
        threading.Event().wait(0.1)
    at.run()
    texts = [p.proto.text for p in at.get("progress")]
    assert any("elapsed" in t and "left" in t for t in texts), texts
    release.set()
    wait_job("evaluate")
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert list(at.dataframe[0].value["metric"])[:3] == ["exact_match", "answer_hit", "f1"]
    assert "answer_hit" in at.dataframe[1].value.columns  # the modes, with intervals
    assert "answer_hit 95% CI" in at.dataframe[1].value.columns
    assert list(at.dataframe[2].value.columns)[-1] == "verdict"  # one mode: no pair to judge
    assert "answer_hit" in at.dataframe[3].value.columns  # the per-question rows
