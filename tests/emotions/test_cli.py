"""`python -m core emotions ...` through core.cli.main: JSON contracts and clear errors."""

from __future__ import annotations

import json
import re

import pytest

from core.cli import main


def run(capsys, *argv) -> tuple[int, object, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


@pytest.fixture
def csv_file(tmp_path, small_data, app_settings):
    path = tmp_path / "tweets.csv"
    small_data.frame().rename(columns={"text": "tweet"}).to_csv(path, index=False)
    return path


def test_preprocess_contract(capsys, app_settings):
    code, out, _ = run(capsys, "emotions", "preprocess", "@bob LOVE it 😍 http://x.co/a")
    assert code == 0
    assert all(set(s) == {"name", "text", "tokens"} for s in out["steps"])
    assert out["steps"][-1]["tokens"] == ["love", "smile", "face", "heart", "eye"]


def test_train_evaluate_classify(capsys, csv_file, tmp_path):
    code, out, err = run(capsys, "emotions", "train", "--data", str(csv_file), "--text-col",
                         "tweet", "--model", "linear_svc", "--name", "cli-svc", "--oversample")
    assert code == 0, err
    assert set(out) == {"name", "labels", "cv", "seconds"}
    assert out["labels"] == ["anger", "joy", "sadness"] and out["cv"]["folds"] == 3
    # progress went to stderr, never into the JSON: the first report and the last always
    progress = err.splitlines()
    assert re.fullmatch(r"\[ *2%\] \d+:\d\d preprocessing \d+ tweets", progress[0]), progress
    assert re.fullmatch(r"\[100%\] \d+:\d\d done", progress[-1]), progress
    code, out, err = run(capsys, "emotions", "evaluate", "--name", "cli-svc", "--data",
                         str(csv_file), "--text-col", "tweet")
    assert code == 0, err
    assert set(out) == {"accuracy", "macro_f1", "weighted_f1", "per_class"}
    assert out["accuracy"] > 0.8 and out["per_class"]["anger"]["support"] == 15
    code, out, err = run(capsys, "emotions", "classify", "--name", "cli-svc",
                         "furious rage hate", "yay party smile")
    assert code == 0, err
    assert [o["label"] for o in out] == ["anger", "joy"]
    assert set(out[0]) == {"text", "label", "scores"}


def test_train_with_group_map(capsys, tmp_path, app_settings):
    rows = ["text,label"] + [f"great fun day {i},fun" for i in range(12)] + [
        f"so happy now {i},happiness" for i in range(12)] + [
        f"worried about exams {i},worry" for i in range(12)]
    path = tmp_path / "te.csv"
    path.write_text("\n".join(rows))
    code, out, err = run(capsys, "emotions", "train", "--data", str(path), "--model", "logreg",
                         "--name", "grouped", "--group-map",
                         "assets/emotions/text_emotion_groups.json")
    assert code == 0, err
    assert out["labels"] == ["fear", "joy"]
    code, out, _ = run(capsys, "emotions", "evaluate", "--name", "grouped", "--data", str(path))
    assert code == 0 and set(out["per_class"]) == {"fear", "joy"}


@pytest.mark.parametrize(("content", "args", "message"), [
    (b"", [], "is empty"),
    (b"text,label\n", [], "no rows"),
    (b"text,label\ncaf\xe9,joy\n", [], "UTF-8"),
    (b"text,mood\nhi,joy\n", [], "no label column 'label'"),
    (b"text,label\n" + b"hi,joy\n" * 30, [], "at least two emotions"),
    (b"text,label\nhi,joy\n", ["--name", "../up"], "not allowed"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, app_settings, content, args,
                                         message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    argv = ["emotions", "train", "--data", str(path), "--model", "logreg"]
    argv += args if args else ["--name", "bad"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize(("flags", "refit_rows"), [([], 60), (["--no-refit"], 0)])
def test_saved_model_is_refit_on_every_row_unless_asked_not_to(capsys, tmp_path, app_settings,
                                                              flags, refit_rows):
    """A plain ``text,label`` CSV trains with the defaults; the saved model learned from every
    row (``--no-refit``: from the 80% training split only)."""
    from core.emotions.models_store import load_model

    rows = ["furious rage hate {}", "yay party smile {}", "tears lonely cry {}"]
    path = tmp_path / "plain.csv"
    path.write_text("text,label\n" + "".join(
        f"{t.format(i)},{lab}\n" for i in range(20)
        for t, lab in zip(rows, ["anger", "joy", "sadness"], strict=True)))
    code, out, err = run(capsys, "emotions", "train", "--data", str(path), "--model", "logreg",
                         "--name", "plain", *flags)
    assert code == 0, err
    assert set(out) == {"name", "labels", "cv", "seconds"}
    train = load_model("plain", app_settings.data_dir).info["train"]
    assert train["refit_rows"] == refit_rows and train["rows"] == 48
