from pathlib import Path

import pytest

from core.errors import UserError
from core.settings import BUILTIN_GENERATOR, Settings, describe_settings, load_settings


def test_defaults_are_offline_builtins():
    s = load_settings({})
    assert s.generator_model == BUILTIN_GENERATOR
    assert s.device == "auto"
    assert s.models_dir == s.data_dir / "models"
    assert s.lancedb_location == str(s.data_dir / "lancedb")
    assert s.feedback_url == f"sqlite:///{s.data_dir / 'feedback.sqlite3'}"


def test_env_overrides_every_location():
    s = load_settings({"NLPLAB_DATA_DIR": "/tmp/x", "NLPLAB_DEVICE": "cuda",
                       "NLPLAB_GENERATOR_MODEL": "google/flan-t5-base",
                       "NLPLAB_LANCEDB_URI": "db://remote", "NLPLAB_MODEL_CACHE": "/tmp/m",
                       "NLPLAB_FEEDBACK_DB_URL": "postgresql://u:p@h/db",
                       "NLPLAB_MAX_UPLOAD_MB": "7"})
    assert s.data_dir == Path("/tmp/x")
    assert s.device == "cuda"
    assert s.generator_model == "google/flan-t5-base"
    assert s.lancedb_location == "db://remote"
    assert s.models_dir == Path("/tmp/m")
    assert s.feedback_url == "postgresql://u:p@h/db"
    assert s.max_upload_mb == 7


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"NLPLAB_DEVICE": "gpu"}, "NLPLAB_DEVICE must be one of auto|cpu|cuda|mps, got 'gpu'"),
        ({"NLPLAB_MAX_UPLOAD_MB": "lots"},
         "NLPLAB_MAX_UPLOAD_MB must be a whole number, got 'lots'"),
        ({"NLPLAB_MAX_UPLOAD_MB": "0"}, "NLPLAB_MAX_UPLOAD_MB must be between 1 and 10000, got 0"),
        ({"NLPLAB_GENERATOR_MODEL": "   "}, "NLPLAB_GENERATOR_MODEL must name a model"),
    ],
)
def test_bad_values_name_variable_and_value(env, fragment):
    with pytest.raises(UserError) as info:
        load_settings(env)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_describe_lists_every_field_with_env_name():
    rows = describe_settings()
    wanted = {"NLPLAB_DATA_DIR", "NLPLAB_DEVICE", "NLPLAB_FEEDBACK_DB_URL"}
    assert {r["env"] for r in rows} >= wanted
    assert all(r["help"] for r in rows)


def test_settings_is_immutable():
    s = Settings()
    with pytest.raises(AttributeError):
        s.device = "cpu"  # type: ignore[misc]
