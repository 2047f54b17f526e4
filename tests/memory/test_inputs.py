"""Model descriptions from every route, and clear errors for bad input."""

import json

import pytest

from core.cli import main
from core.errors import UserError
from core.memory import config_input as ci
from core.memory.catalog import catalog_config, catalog_ids, find_catalog_id
from core.memory.estimate import EstimateConfig, estimate
from core.memory.gpus import GPUS, fits_on, gpu_by_name, largest_fitting

GOOD = catalog_config("SmolLM2-135M")


def _upload(cfg) -> bytes:
    return json.dumps(cfg).encode()


@pytest.mark.parametrize("cfg,message", [
    ({**GOOD, "hidden_size": 0}, "'hidden_size' must be between 1"),
    ({**GOOD, "num_hidden_layers": -3}, "'num_hidden_layers' must be between 1"),
    ({**GOOD, "vocab_size": "big"}, "'vocab_size' must be a whole number"),
    ({**GOOD, "intermediate_size": 1.5}, "'intermediate_size' must be a whole number"),
    ({k: v for k, v in GOOD.items() if k != "num_attention_heads"},
     "'num_attention_heads' is missing"),
    ({**GOOD, "num_key_value_heads": 4}, "multiple of 'num_key_value_heads'"),
    ({"model_type": "mamba", "hidden_size": 8}, "unknown architecture model_type 'mamba'"),
    ({"hidden_size": 8, "num_layers": 2}, "neither 'model_type' nor a known 'architectures'"),
    ([1, 2, 3], "JSON object"),
    ({"model_type": "gpt2", "n_embd": 30, "n_layer": 1, "n_head": 4, "vocab_size": 10},
     "'n_embd' \\(30\\) must be divisible"),
])
def test_bad_configs_name_the_field(cfg, message):
    with pytest.raises(UserError, match=message):
        ci.from_upload(_upload(cfg))


@pytest.mark.parametrize("data,message", [
    (b"{not json", "not valid JSON"), (b"\xff\xfe", "not valid JSON"),
    (b" " * (2 * 1024**2), "refused"),
])
def test_bad_upload_bytes(data, message):
    with pytest.raises(UserError, match=message):
        ci.from_upload(data, max_mb=1)


def test_partial_config_inferred_from_architectures():
    cfg = {k: v for k, v in GOOD.items() if k != "model_type"}
    assert ci.from_upload(_upload(cfg)).config["architectures"] == ["LlamaForCausalLM"]


def test_catalog_lookup_forms():
    assert len(catalog_ids()) >= 17
    for name in ("meta-llama/Llama-3.1-8B", "llama-3.1-8b", "meta-llama--Llama-3.1-8B"):
        assert find_catalog_id(name) == "meta-llama/Llama-3.1-8B"
    assert ci.describe("gpt2").source == "catalog"


def test_unknown_model_offline_is_clear(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="hub is offline"):
        ci.describe("someone/unknown-model")
    with pytest.raises(UserError, match="not a hub id"):
        ci.describe("not a model id")


def test_builtin_minilm_from_disk(app_settings):
    desc = ci.describe("builtin:all-minilm-l6-v2", app_settings.models_dir)
    assert desc.source == "builtin" and desc.location
    assert desc.config["hidden_size"] == 384


def test_app_models_lists_configured(app_settings):
    specs = [r["spec"] for r in ci.app_models(app_settings)]
    assert specs == [app_settings.generator_model, app_settings.embedding_model]


def test_fits_on_and_largest_batch_boundary():
    cfg = catalog_config("Llama-3.1-8B")
    ec = EstimateConfig(dtype="bf16", seq=4096)
    gpu = gpu_by_name("L4")
    best = largest_fitting(cfg, ec, gpu, "batch")
    assert best >= 1
    assert estimate(cfg, EstimateConfig(dtype="bf16", seq=4096, batch=best)).total <= gpu.bytes
    assert estimate(cfg, EstimateConfig(dtype="bf16", seq=4096, batch=best + 1)).total > (
        gpu.bytes)
    assert largest_fitting(cfg, EstimateConfig(dtype="fp32"), gpu, "seq") == 0  # 32 GB weights
    rows = fits_on(estimate(cfg, ec).total)
    assert [r["gpu"] for r in rows] == [g.name for g in GPUS]
    assert not rows[0]["fits"] and rows[-1]["fits"]  # T4 16 GB no, H200 yes
    with pytest.raises(UserError, match="unknown GPU"):
        gpu_by_name("V100")


def test_cli_contract(capsys):
    code = main(["memory", "--model", "gpt2", "--dtype", "fp16", "--mode", "lora",
                 "--batch", "2", "--seq", "128", "--lora-r", "4", "--lora-targets", "q"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out["params"]) == {"total", "trainable"}
    assert set(out["bytes"]) == {"weights", "gradients", "optimizer", "activations",
                                 "kv_cache", "overhead", "total"}
    assert out["params"] == {"total": 124_439_808, "trainable": 12 * 4 * (768 + 2304)}
    assert out["formulas"] and all("source" in f for f in out["formulas"])


def test_cli_config_file_and_errors(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(catalog_config("bert-base-uncased")))
    assert main(["memory", "--config", str(path), "--dtype", "fp32", "--mode", "full"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["total"] == 109_482_240
    path.write_text(json.dumps({**GOOD, "hidden_size": -1}))
    assert main(["memory", "--config", str(path), "--dtype", "fp32", "--mode", "full"]) == 2
    assert "hidden_size" in capsys.readouterr().err
    assert main(["memory", "--model", "gpt2", "--dtype", "int4", "--mode", "full"]) == 2
    assert "qlora" in capsys.readouterr().err
    assert main(["memory", "--model", "gpt2", "--dtype", "fp16", "--mode", "inference",
                 "--measure"]) == 2
    assert "--measure needs a model the app can load" in capsys.readouterr().err


def test_hub_id_fetches_only_config_json(monkeypatch, tmp_path):
    """Online, a hub id downloads config.json and nothing else (download patched here)."""
    import huggingface_hub

    asked = []
    path = tmp_path / "config.json"
    path.write_text(json.dumps(catalog_config("gpt2")))

    def fake_download(repo_id, filename, **kwargs):
        asked.append((repo_id, filename))
        return str(path)

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    desc = ci.describe("someone/gpt2-copy")
    assert asked == [("someone/gpt2-copy", "config.json")]
    assert desc.source == "hub" and desc.location is None


def test_cli_measure_adds_measured(monkeypatch, capsys):
    """--measure on one of the app's models adds "measured" (measurement patched: fast)."""
    seen = {}

    def fake(cfg, location, ec, device="cpu", models_dir=None, progress=None, timeout=900):
        seen.update(location=location, mode=ec.mode, device=device)
        return {"measured": {"peak_rss_delta": 1}, "estimate": {"bytes": {"total": 2}},
                "comparison": [{"what": "total", "error_pct": 100.0}]}

    monkeypatch.setattr("core.memory.measure.measure", fake)
    assert main(["memory", "--model", "builtin:all-minilm-l6-v2", "--dtype", "fp32",
                 "--mode", "lora", "--measure"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["measured"] == {"peak_rss_delta": 1} and out["comparison"]
    assert seen["mode"] == "lora" and seen["device"] == "cpu"
    assert seen["location"].endswith("model")
