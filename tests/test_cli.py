import json

import pytest

import core.cli
from core.cli import feature_cli_modules, main, stderr_progress


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_without_loading_reports_device_and_models(capsys):
    code, out, err = run_cli(capsys, "info", "--no-load")
    assert code == 0, err
    data = json.loads(out)
    assert data["device"]["device"] == "cpu"
    assert [m["role"] for m in data["models"]] == ["embedder", "generator", "classifier",
                                                   "emoji predictor"]
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


def test_feature_modules_are_discovered_and_each_registers_its_commands():
    """Every core/<package>/cli.py on disk is found, and the commands it registers reach the
    parser (a package whose CLI is not discovered would silently lose its commands)."""
    import argparse
    import importlib
    from pathlib import Path

    from core.cli import build_parser

    on_disk = sorted(f"core.{p.parent.name}.cli"
                     for p in (Path(core.cli.__file__).parent).glob("*/cli.py"))
    assert feature_cli_modules() == on_disk and "core.rag.cli" in on_disk
    choices = build_parser()._subparsers._group_actions[0].choices
    for name in on_disk:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        assert set(sub.choices) <= set(choices), name


def test_unknown_command_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code != 0


@pytest.mark.parametrize("noun", ["kb", "adapter", "eval"])
def test_every_noun_verb_runs_the_flat_commands_handler_with_its_arguments(noun):
    """`kb show X` and `kb-show X` parse to the same handler and arguments (aliases, no drift)."""
    from core.cli import NOUNS, build_parser

    parser = build_parser()
    for verb, flat in NOUNS[noun][1].items():
        flat_parser = parser._subparsers._group_actions[0].choices[flat]
        required = [a for a in flat_parser._actions if a.required or not a.option_strings]
        argv = []
        for action in required:
            if action.dest == "help":
                continue
            argv += ([action.option_strings[0]] if action.option_strings else []) + ["x"]
        new = vars(parser.parse_args([noun, verb, *argv]))
        old = vars(parser.parse_args([flat, *argv]))
        assert new.pop("verb") == verb and new.pop("command") == noun
        assert old.pop("command") == flat
        assert new == old


def test_nouns_replace_flat_names_in_help_but_flat_names_still_work(capsys, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("NLPLAB_DATA_DIR", str(tmp_path))
    from core.cli import build_parser

    listing = build_parser().format_help()
    assert " kb " in listing and "kb-show" not in listing and "adapters " not in listing
    for argv in (["kb", "list"], ["kbs"], ["adapter", "list"], ["adapters"], ["eval", "runs"],
                 ["eval-runs"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 0, err
        assert json.loads(out) == []
    code, _, err = run_cli(capsys, "kb", "show", "nope")
    assert code == 2 and "nope" in err


def test_dataclass_options_take_help_default_and_type_from_the_fields():
    import argparse
    from dataclasses import dataclass, field

    from core.cli import add_dataclass_options

    @dataclass
    class Toy:
        top_k: int = field(default=3, metadata={"help": "Chunks returned (100 %)."})
        ratio: float = field(default=0.5, metadata={"help": "A fraction."})
        mode: str = field(default="a", metadata={"help": "a | b"})
        fast: bool = field(default=False, metadata={"help": "Go fast."})

    parser = argparse.ArgumentParser()
    add_dataclass_options(parser, Toy, ["top_k", "ratio", "mode", "fast"],
                          names={"ratio": "--r"}, overrides={"mode": {"choices": ("a", "b")}})
    assert vars(parser.parse_args([])) == {"top_k": 3, "r": 0.5, "mode": "a", "fast": False}
    assert vars(parser.parse_args(["--top-k", "7", "--r", "1", "--mode", "b", "--fast"])) == {
        "top_k": 7, "r": 1.0, "mode": "b", "fast": True}
    text = parser.format_help()
    assert "Chunks returned (100 %)." in text and "Go fast." in text
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])


@pytest.mark.parametrize(("argv", "config", "fields"), [
    (["generate", "x"], "core.generation:GenerationConfig", {"max_new_tokens", "temperature"}),
    (["index", "--docs", "d", "--kb", "k"], "core.rag.config:ChunkingConfig",
     {"chunk_size", "chunk_overlap"}),
    (["evaluate", "--qa", "q", "--kb", "k"], "core.rag.config:RetrievalConfig",
     {"top_k", "search"}),
    (["memory", "--model", "m", "--dtype", "bf16", "--mode", "lora"],
     "core.memory.estimate:EstimateConfig", {"optimizer", "grad_checkpointing"}),
])
def test_cli_defaults_are_the_config_defaults(argv, config, fields):
    import importlib

    from core.cli import build_parser

    module, name = config.split(":")
    defaults = getattr(importlib.import_module(module), name)()
    args = vars(build_parser().parse_args(argv))
    assert {f: args[f] for f in fields} == {f: getattr(defaults, f) for f in fields}


def test_building_the_parser_imports_no_heavy_library():
    """Options come from config dataclasses, which must stay importable without torch, pandas
    or scikit-learn, so ``python -m core --help`` stays fast."""
    import subprocess
    import sys

    code = ("import sys; from core.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'pandas', 'sklearn', 'transformers') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_progress_shows_every_stage_and_throttles_repeats_of_one(capsys, monkeypatch):
    clock = iter([100.0, 100.0, 101.0, 102.0, 105.0, 118.0, 119.0, 190.0])
    monkeypatch.setattr(core.cli, "_monotonic", lambda: next(clock))  # start, then per report
    report = stderr_progress(every=15)
    report(0.0, "tweet 1,001/3,300")      # first: printed
    report(0.1, "tweet 1,501/3,300")      # a new stage 1 s later (a number's comma is no cut)
    report(0.2, "epoch 1/2, step 1/9")    # a new stage: printed
    report(0.3, "epoch 1/2, step 2/9")    # the same stage 3 s later: skipped
    report(0.5, "epoch 1/2, step 5/9")    # the same stage, 16 s after its print: printed
    report(1.0, "done")                   # the end: printed
    report(1.0, "done")                   # the same stage, but the end: printed
    out, err = capsys.readouterr()
    assert not out
    assert err.splitlines() == [
        "[  0%] 0:00 tweet 1,001/3,300", "[ 10%] 0:01 tweet 1,501/3,300",
        "[ 20%] 0:02 epoch 1/2, step 1/9", "[ 50%] 0:18 epoch 1/2, step 5/9",
        "[100%] 0:19 done", "[100%] 1:30 done"]
