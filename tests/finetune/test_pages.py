"""Scenario tests of the Fine-tune, Evaluate and Compare pages through AppTest.

Our own core functions are patched (the training pipeline) or fed tiny models (the generator,
a hash embedder), so the pages run their real flows in seconds: background jobs, live
progress, results kept across reruns, adapters listed, inspected and deleted.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.rag.conftest import DOCS, HashEmbedder

APP = "../../app.py"


@pytest.fixture
def pages_env(monkeypatch, app_settings, fresh_generator):
    import core.jobs as jobs
    import core.st_cache as st_cache
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    embedder = HashEmbedder()
    store = KnowledgeStore(app_settings, embedder, embedder_id=app_settings.embedding_model)
    store.add_documents("default", [Document(n, t, n.rsplit(".", 1)[1])
                                    for n, t in DOCS.items()])
    generator = fresh_generator()
    monkeypatch.setattr(st_cache, "get_rag_store", lambda: store)
    monkeypatch.setattr(st_cache, "get_generator", lambda: generator)
    monkeypatch.setattr(st_cache, "get_generator_tokenizer",
                        lambda: (generator.tokenizer, generator.is_seq2seq))
    monkeypatch.setattr(st_cache, "get_embedder", lambda: embedder)
    monkeypatch.setattr(st_cache, "settings", lambda: app_settings)
    monkeypatch.setattr(jobs, "REGISTRY", jobs.JobRegistry())  # no job left from another test
    yield store


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page)
    return at.run()


def wait_job(kind: str) -> None:
    import core.jobs as jobs

    job = jobs.REGISTRY.get(kind)
    assert job is not None, f"no {kind} job started"
    assert job.wait(120), f"{kind} job did not finish"


def fake_adapter(settings, name: str, losses: list[float]) -> None:
    folder = settings.data_dir / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8}))
    (folder / "adapter_model.safetensors").write_bytes(b"0" * 10)
    (folder / "metadata.json").write_text(json.dumps({"losses": losses, "train_loss": 1.0,
                                                      "knowledge_base": "default"}))


def test_finetune_page_trains_in_background_and_manages_adapters(pages_env, app_settings,
                                                                 monkeypatch):
    import core.finetune.pipeline as pipeline

    calls = []

    def run_finetune(settings, kb, name, lora, *, hooks, **kwargs):
        calls.append((kb, name, lora, kwargs.get("documents")))
        for step in range(1, 6):
            hooks.step(step, 5, 3.0 - 0.5 * step)
        fake_adapter(settings, name, [2.5, 2.0, 1.5, 1.0, 0.5])
        return {"adapter": name, "train_loss": 0.5, "steps": 5, "total_steps": 5,
                "train_seconds": 2.0, "tokens_per_second": 100.0, "cancelled": False}

    monkeypatch.setattr(pipeline, "run_finetune", run_finetune)
    at = open_page("app_pages/finetune.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("fill-in-the-blank" in c.value for c in at.caption)  # the default recipe
    at.text_input[0].set_value("My Adapter")
    at.radio[0].set_value("qa").run()
    assert any("train split only" in c.value for c in at.caption)  # the chosen mode's help
    at.number_input(key="ft_epochs").set_value(1)
    first_doc = at.multiselect(key="ft_documents").options[0]
    at.multiselect(key="ft_documents").select(first_doc)
    next(b for b in at.button if b.label == "Start training").click().run()
    wait_job("finetune")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    kb, name, lora, documents = calls[0]
    assert (kb, name, lora.data_mode, lora.epochs) == ("default", "my-adapter", "qa", 1)
    assert documents == {first_doc}  # only the chosen document is trained on
    assert any("Saved adapter **my-adapter**" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) >= 1  # the loss curve
    assert at.dataframe[0].value["name"].tolist() == ["my-adapter"]
    at.checkbox(key="confirm-my-adapter").check().run()
    at.button(key="delete-my-adapter").click().run()
    assert not (app_settings.data_dir / "adapters" / "my-adapter").exists()


def test_finetune_page_refuses_bad_name(pages_env):
    at = open_page("app_pages/finetune.py")
    at.text_input[0].set_value("../escape")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert any("adapter name" in e.value for e in at.error)


def test_finetune_page_explains_a_base_built_with_another_embedder(pages_env, app_settings):
    """A base embedded with another model (the embedding setting changed since) is refused
    with the store's message and training is disabled; the page itself keeps working."""
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    KnowledgeStore(app_settings, HashEmbedder(), embedder_id="other-embedder").add_documents(
        "aaa-old", [Document("a.md", "An old note about orchids.", "md")])
    at = open_page("app_pages/finetune.py")
    at.selectbox(key="ft_kb").set_value("aaa-old").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("embedded with other-embedder" in e.value for e in at.error), at.error
    assert next(b for b in at.button if b.label == "Start training").disabled
    at.selectbox(key="ft_kb").set_value("default").run()
    assert not at.exception and not at.error
    assert not next(b for b in at.button if b.label == "Start training").disabled


def test_evaluate_page_runs_saves_and_filters(pages_env, app_settings):
    at = open_page("app_pages/evaluate.py")
    assert not at.exception, [e.value for e in at.exception]
    at.number_input[0].set_value(1)
    at.multiselect[0].set_value(["base", "rag"])
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    wait_job("evaluate")
    at.run()
    at.run()  # the fragment moved the result into session state and reran
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state["eval_run"]
    assert run["n"] == 1 and set(run["aggregates"]) == {"base", "rag"}
    assert at.dataframe[1].value["mode"].tolist() == ["base", "rag"]
    verdicts = at.dataframe[2].value  # base vs rag on answer_hit, the first compared metric
    assert verdicts[["a", "b", "metric"]].values.tolist() == [["base", "rag", "answer_hit"]]
    assert at.dataframe[3].value["mode"].tolist() == ["base", "rag"]  # new to the model
    assert any("does not retrieve" in c.value for c in at.caption)  # base hit_rate: why
    assert any(c.value.replace("\\", "").startswith("rag: ") and "evidence sentence" in c.value
               for c in at.caption)  # how the answers were made
    filt = next(s for s in at.selectbox if s.label == "Show")
    filt.set_value("RAG beats base").run()
    assert not at.exception
    from core.evaluation.runner import list_runs

    assert list_runs(app_settings)[0]["id"] == run["id"]


def test_compare_page_fine_tuned_columns_use_the_adapter(pages_env, app_settings,
                                                         fresh_llama, tiny_tokenizer):
    from core.adapters import AdapterRegistry
    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora

    trained = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", DOCS["bakery.md"])],
                         LoraSettings(epochs=1))
    AdapterRegistry.of(app_settings).save(trained.model, "bakery", {})
    at = open_page("app_pages/compare.py")
    at.text_area(key="question").set_value("When was the oven built?")
    next(b for b in at.button if b.label == "Ask").click().run()
    assert not at.exception, [e.value for e in at.exception]
    results = at.session_state["compare_run"]["results"]
    assert set(results) == {"base", "rag", "finetuned", "finetuned+rag"}
    assert results["finetuned"]["model"].endswith("+ bakery")
    assert results["finetuned+rag"]["sources"] and not results["finetuned"]["sources"]


def start_training(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Start training").click().run()
    wait_job("finetune")
    at.run()


def test_finetune_adapter_name_follows_the_knowledge_base_until_typed(pages_env):
    from core.rag.ingest import Document

    pages_env.add_documents("second", [Document("bakery.md", DOCS["bakery.md"], "md")])
    at = open_page("app_pages/finetune.py")
    assert at.text_input(key="ft_name").value == "default-knowledge"
    at.radio(key="ft_data_mode").set_value("qa").run()
    assert at.text_input(key="ft_name").value == "default-qa"
    at.selectbox(key="ft_kb").set_value("second").run()
    assert at.text_input(key="ft_name").value == "second-qa"
    at.text_input(key="ft_name").set_value("my-own").run()
    at.selectbox(key="ft_kb").set_value("default").run()
    assert at.text_input(key="ft_name").value == "my-own"  # typed names are left alone
    assert not at.exception, [e.value for e in at.exception]


def test_finetune_enter_in_a_field_does_not_start_training(pages_env):
    import core.jobs as jobs

    at = open_page("app_pages/finetune.py")
    fields = [*at.text_input, *at.number_input]
    assert fields and all(not w.form_id for w in fields)  # in no form, so Enter submits nothing
    at.text_input(key="ft_name").set_value("typed-then-enter").run()  # what Enter does: commit
    at.number_input(key="ft_epochs").set_value(1)
    first_doc = at.multiselect(key="ft_documents").options[0]
    at.multiselect(key="ft_documents").select(first_doc).run()
    assert jobs.REGISTRY.get("finetune") is None
    assert not at.exception, [e.value for e in at.exception]


def test_finetune_settings_are_restored_in_a_new_session(pages_env):
    at = open_page("app_pages/finetune.py")
    at.radio(key="ft_data_mode").set_value("paraphrases").run()
    at.number_input(key="ft_max_length").set_value(64).run()
    at.number_input(key="ft_learning_rate").set_value(0.0005).run()
    at.number_input(key="ft_epochs").set_value(1).run()
    at.text_input(key="ft_name").set_value("kept-name").run()
    assert open_page("app_pages/finetune.py").text_input(key="ft_name").value != "kept-name", \
        "values that started no run are not written"
    next(b for b in at.button if b.label == "Start training").click().run()
    wait_job("finetune")
    reloaded = open_page("app_pages/finetune.py")  # a fresh session, as after a browser reload
    assert reloaded.radio(key="ft_data_mode").value == "paraphrases"
    assert reloaded.number_input(key="ft_max_length").value == 64
    assert reloaded.number_input(key="ft_learning_rate").value == 0.0005
    assert reloaded.number_input(key="ft_epochs").value == 1
    assert reloaded.text_input(key="ft_name").value == "kept-name"


def test_finetune_plan_is_built_once_per_knowledge_base_and_recipe(pages_env, monkeypatch):
    """Reruns that leave the plan's inputs alone (a checkbox outside the recipe, the name)
    reuse the counted plan; a recipe change (batch size) builds it once more."""
    import core.finetune.duration as duration

    calls = []
    real = duration.build_examples

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(duration, "build_examples", counting)
    at = open_page("app_pages/finetune.py")
    assert not at.exception, [e.value for e in at.exception]
    assert len(calls) == 1
    at.checkbox(key="ft_overwrite").check().run()
    at.text_input(key="ft_name").set_value("another-name").run()
    assert len(calls) == 1  # neither is part of the plan: no rebuild, no tokenising
    at.number_input(key="ft_batch_size").set_value(2).run()
    assert len(calls) == 2
    assert any("batch size 2" in m.value for m in at.markdown)


def test_finetune_estimate_is_shown_before_start(pages_env, app_settings, monkeypatch,
                                                 tiny_tokenizer):
    from app_pages._job_panel import format_seconds
    from core.finetune import duration, throughput
    from core.finetune.config import LoraSettings

    at = open_page("app_pages/finetune.py")
    plan = duration.plan_run(app_settings, "default", LoraSettings(), tiny_tokenizer,
                             is_seq2seq=False)
    assert plan.epochs is None  # a time budget and no measured speed yet: epochs unknown
    assert any("Time budget 10 min" in m.value and "windows" in m.value and
               f"**{plan.rows} rows**" in m.value for m in at.markdown)
    assert any("No training speed measured" in c.value for c in at.caption)
    monkeypatch.setattr(duration, "measure_throughput", lambda settings, kb, lora, actor=None:
                        throughput.record_throughput(settings, 20.0, "probe", lora, 400.0))
    next(b for b in at.button if b.label.startswith("Measure speed")).click().run()
    steps = throughput.budget_steps(600, 400.0, plan.row_tokens_per_epoch / plan.steps_per_epoch,
                                  plan.steps_per_epoch)
    epochs = round(steps / plan.steps_per_epoch, 1)
    assert any(f"**{epochs:g} epochs**" in m.value for m in at.markdown)
    text = next(m.value for m in at.markdown if "Training time: at most" in m.value)
    assert "10 min" in text and "probe" in text and f"{epochs:g} epochs" in text
    at.number_input(key="ft_epochs").set_value(2).run()  # fixed epochs: time from the rate
    plan = duration.plan_run(app_settings, "default", LoraSettings(epochs=2), tiny_tokenizer,
                             is_seq2seq=False)
    text = next(m.value for m in at.markdown if "Estimated training time" in m.value)
    assert format_seconds(plan.train_tokens / 20.0) in text and "probe" in text
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("choice", ["ft-keep", "ft-discard"])
def test_finetune_cancelled_run_offers_to_keep_or_discard(pages_env, app_settings, monkeypatch,
                                                          fresh_llama, tiny_tokenizer, choice):
    import core.finetune.pipeline as pipeline
    from core.adapters import AdapterRegistry
    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora

    trained = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", DOCS["bakery.md"])],
                         LoraSettings(epochs=1))

    def run_finetune(settings, kb, name, lora, *, hooks, **kwargs):
        hooks.step(1, 4, 2.0)
        return {"adapter": name, "steps": 1, "total_steps": 4, "cancelled": True,
                "saved": False, "partial": pipeline.PartialRun(trained.model, name, {"steps": 1})}

    monkeypatch.setattr(pipeline, "run_finetune", run_finetune)
    at = open_page("app_pages/finetune.py")
    start_training(at)
    assert any("Cancelled after 1/4 steps" in w.value for w in at.warning)
    assert AdapterRegistry.of(app_settings).list() == []  # nothing kept until the user says so
    at.button(key=choice).click().run()
    assert not at.exception, [e.value for e in at.exception]
    kept = [r["name"] for r in AdapterRegistry.of(app_settings).list()]
    if choice == "ft-keep":
        assert kept == ["default-knowledge"]
        assert AdapterRegistry.of(app_settings).metadata("default-knowledge")["partial"] is True
        assert at.dataframe[0].value["partial"].tolist() == [True]
    else:
        assert kept == []
    assert not any("Cancelled after" in w.value for w in at.warning)
