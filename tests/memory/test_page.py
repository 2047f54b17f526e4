"""Scenario tests of the GPU memory page through AppTest (our core functions patched)."""

import pytest
from streamlit.testing.v1 import AppTest

APP = "../../app.py"


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page("app_pages/memory.py")
    return at.run()


def _fits(at, gpu: str) -> bool:
    table = at.dataframe[2].value
    return bool(table.loc[table.gpu == gpu, "fits"].item())


def test_seven_b_story_on_the_page():
    """Mistral-7B: FP16 inference fits a 24 GB card, full fine-tuning does not, QLoRA does."""
    at = _page()
    assert not at.exception
    assert "summed" in " ".join(c.value for c in at.caption)
    assert _fits(at, "L4 24 GB")
    at.selectbox(key="mem_mode").set_value("full").run()
    assert not _fits(at, "L4 24 GB") and not _fits(at, "A100 80 GB")
    at.selectbox(key="mem_mode").set_value("qlora").run()
    at.number_input(key="mem_seq").set_value(512).run()
    assert not at.exception and not at.error
    assert _fits(at, "L4 24 GB")
    table = at.dataframe[0].value
    assert list(table.columns) == ["component", "bytes", "GB", "GiB"]
    assert table.component.iloc[-1] == "total"
    assert len(at.get("plotly_chart")) == 2


def test_offline_hub_id_shows_clear_error():
    at = _page()
    at.radio(key="mem_source").set_value("Hub id").run()
    at.text_input(key="mem_hub").input("someone/unknown-model").run()
    assert not at.exception
    assert "offline" in at.error[0].value


def test_bad_lora_target_is_an_error_not_a_crash():
    at = _page()
    at.selectbox(key="mem_mode").set_value("lora").run()
    at.text_input(key="mem_targets").input("attn").run()
    assert not at.exception
    assert "matches no linear layer" in at.error[0].value


@pytest.fixture
def fake_measure(monkeypatch):
    calls = []

    def fake(cfg, location, ec, device="cpu", models_dir=None, progress=None, timeout=900):
        calls.append((location, ec.dtype, ec.mode))
        if progress:
            progress(1.0, "done")
        return {"measured": {"notes": ["fake"], "tensor_bytes": {}},
                "estimate": {}, "comparison": [
                    {"what": "total", "estimated": 110 * 2**20, "measured": 100 * 2**20,
                     "error_pct": 10.0, "method": "process peak RSS"}]}

    monkeypatch.setattr("core.memory.measure.measure", fake)
    return calls


def test_measure_button_shows_estimate_vs_measured(fake_measure):
    at = _page()
    at.radio(key="mem_source").set_value("App's models").run()
    assert not at.exception
    at.button(key="mem_measure_btn").click().run()
    assert fake_measure and fake_measure[0][0] == "builtin:smollm2-135m-instruct"
    compare = at.dataframe[-1].value
    assert compare.error_pct.iloc[0] == 10.0
    at.number_input(key="mem_batch").set_value(2).run()  # a rerun keeps the result
    assert at.dataframe[-1].value.error_pct.iloc[0] == 10.0


def test_formulas_table_wraps_long_text_and_gpu_table_shows_usable_gib():
    """Formulas and sources run to ~150 and ~270 characters: they get wide columns and tall
    rows so they wrap instead of being cut; the GPU table gives the GiB a card really offers
    (a T4 sold as 16 GB: 15 GiB)."""
    import json

    at = _page()
    formulas = at.dataframe[1]
    assert list(formulas.value.columns) == ["component", "GiB", "formula", "source"]
    widths = {k: v.get("width") for k, v in json.loads(formulas.proto.columns).items()
              if k != "_index"}
    assert widths["formula"] >= 300 and widths["source"] >= 400, widths
    assert sum(widths.values()) <= 950, widths  # the main column beside the sidebar at 1400 px
    assert formulas.proto.row_height >= 80
    fits = at.dataframe[2]
    t4 = fits.value.set_index("gpu").loc["T4 16 GB"]
    assert t4["usable_gib"] == 15.0
    assert json.loads(fits.proto.columns)["usable_gib"]["label"] == "usable GiB"
