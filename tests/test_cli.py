import json

import pytest

from core.cli import feature_cli_modules, main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_without_loading_reports_device_and_models(capsys):
    code, out, err = run_cli(capsys, "info", "--no-load")
    assert code == 0, err
    data = json.loads(out)
    assert data["device"]["device"] == "cpu"
    assert [m["role"] for m in data["models"]] == ["embedder", "generator", "classifier"]
    assert all(m["ok"] for m in data["models"])


def test_bad_setting_is_one_line_on_stderr_with_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("NLPLAB_DEVICE", "tpu")
    code, out, err = run_cli(capsys, "info", "--no-load")
    assert code == 2 and out == ""
    assert err.strip() == "error: NLPLAB_DEVICE must be one of auto|cpu|cuda|mps, got 'tpu'"


def test_unknown_hub_model_offline_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setenv("NLPLAB_GENERATOR_MODEL", "nobody/no-such-model")
    code, _out, err = run_cli(capsys, "generate", "hi")
    assert code == 2
    assert "nobody/no-such-model" in err and len(err.strip().splitlines()) == 1


def test_feature_modules_are_discovered():
    for name in feature_cli_modules():
        assert name.startswith("core.") and name.endswith(".cli")


def test_unknown_command_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code != 0
