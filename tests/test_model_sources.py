from pathlib import Path

import pytest

from core.errors import ModelNotFoundError
from core.model_sources import convert_smollm2, resolve


def test_builtin_embedder_resolves_to_package_folder(tmp_path):
    source = resolve("builtin:all-minilm-l6-v2", tmp_path)
    assert source.kind == "package"
    assert (Path(source.location) / "modules.json").exists()


def test_unknown_builtin_lists_known_ones(tmp_path):
    with pytest.raises(ModelNotFoundError, match="builtin:smollm2-135m-instruct"):
        resolve("builtin:gpt-5", tmp_path)


def test_hub_id_is_passed_through(tmp_path):
    source = resolve("google/flan-t5-base", tmp_path)
    assert (source.kind, source.location) == ("hub", "google/flan-t5-base")


@pytest.mark.parametrize("spec", ["./nowhere/model", "/no/such/dir", "a/b/c"])
def test_missing_paths_are_named(tmp_path, spec):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve(spec, tmp_path)


def test_folder_without_config_is_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        resolve(str(tmp_path / "empty"), tmp_path)


def test_failed_conversion_leaves_no_cache(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    target = tmp_path / "models" / "smollm2"
    with pytest.raises(Exception):  # noqa: B017 - any failure; what matters is the state after
        convert_smollm2(bad, target)
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # no temp folder left behind


def test_missing_gguf_is_named(tmp_path):
    with pytest.raises(ModelNotFoundError, match="GGUF file missing"):
        convert_smollm2(tmp_path / "absent.gguf", tmp_path / "out")


def test_the_emoji_predictor_builtin_is_not_a_transformers_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"emoji predictor.*not a transformers model"):
        resolve("builtin:nade-emoji", tmp_path)
