"""AppTest smoke test: every page starts from app.py and renders without an exception."""

import json

import pytest
from streamlit.testing.v1 import AppTest

APP = "../app.py"
pytestmark = pytest.mark.usefixtures("tiny_models_env")  # fast tier: no real model loads
PAGES = [f"app_pages/{name}.py" for name in ("home", "compare", "knowledge", "finetune",
                                             "evaluate", "experiment", "emotions", "feedback",
                                             "memory")]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page):
    """Every page opens without an exception (on the tiny model set: ``tiny_models_env``)."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"


def test_home_shows_device_and_four_models():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.metric[0].value == "CPU"
    table = at.dataframe[0].value
    assert list(table["role"]) == ["embedder", "generator", "classifier", "emoji predictor"]


@pytest.fixture
def tiny_generator_setting(tiny_generator, tmp_path, monkeypatch):
    """NLPLAB_GENERATOR_MODEL points at a tiny Llama folder, so loading it takes a moment."""
    from core import st_cache

    folder = tmp_path / "tiny-llama"
    tiny_generator.model.save_pretrained(folder)
    tiny_generator.tokenizer.save_pretrained(folder)
    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", str(folder))
    st_cache.settings.clear()  # the cached Settings were read before the variable was set
    yield folder
    st_cache.settings.clear()


def test_load_all_models_says_done_and_updates_every_row(tiny_generator_setting):
    """After "Load all models now": a done message with each model's time, the three kept
    models read "yes", the classifier (loaded fresh per training run) says so, and every row
    shows its measured load time."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value.startswith("Loaded all 4 models in "), at.success[0].value
    for role in ("embedder", "generator", "classifier", "emoji predictor"):
        assert f"{role} " in at.success[0].value
    table = at.dataframe[0].value.set_index("role")
    assert list(table["in memory"]) == ["yes", "yes", "per training run", "yes"]
    assert table["last load (s)"].notna().all(), table
    assert table.loc["generator", "model"] == str(tiny_generator_setting)


def test_home_models_table_fits():
    """Useful columns first and every column given a width, so nothing is cut off."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    table = at.dataframe[0]
    assert list(table.value.columns)[:3] == ["role", "in memory", "last load (s)"]
    widths = {name: cfg.get("width") for name, cfg in
              json.loads(table.proto.columns).items() if name != "_index"}
    assert set(widths) == set(table.value.columns) and all(widths.values()), widths
    assert sum(widths.values()) <= 950, widths  # the main column beside the sidebar at 1400 px
    assert table.proto.row_height >= 64  # room for a long source to wrap onto a second line


def test_load_time_of_a_model_loaded_elsewhere_is_still_shown(tiny_generator_setting):
    """The embedder loaded by another caller first (a question, a test): its row still shows the
    time that load took, not an empty cell."""
    from core import st_cache, status
    from core.loaders import load_embedder
    from core.memo import load_seconds
    from core.status import model_status

    settings = st_cache.settings()
    load_embedder(settings)
    status._last_load_seconds.clear()  # as in a process where only the loaders loaded it
    row = model_status("embedder", settings, load=True)
    assert row["last_load_seconds"] is not None
    assert row["last_load_seconds"] == pytest.approx(
        load_seconds("embedder", settings.embedding_model))
