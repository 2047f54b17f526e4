"""Settings of the model server and object storage: parsing, validation, secrets kept out."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.settings import load_settings


def test_server_and_storage_settings_parse():
    s = load_settings({"NLPLAB_GENERATOR_URL": "http://gpu:8000/v1",
                       "NLPLAB_GENERATOR_API_KEY": "sk-secret",
                       "NLPLAB_GENERATOR_TIMEOUT": "2.5", "NLPLAB_GENERATOR_MAX_RETRIES": "0",
                       "NLPLAB_LANCEDB_URI": "s3://bucket/kb",
                       "NLPLAB_LANCEDB_ENDPOINT": "http://minio:9000",
                       "NLPLAB_LANCEDB_KEY_ID": "id", "NLPLAB_LANCEDB_SECRET": "s3-secret",
                       "NLPLAB_LANCEDB_ALLOW_HTTP": "true"})
    assert (s.generator_url, s.generator_timeout, s.generator_max_retries) == (
        "http://gpu:8000/v1", 2.5, 0)
    assert s.lancedb_storage_options == {
        "aws_endpoint": "http://minio:9000", "aws_access_key_id": "id",
        "aws_secret_access_key": "s3-secret", "allow_http": "true"}
    assert "sk-secret" not in repr(s) and "s3-secret" not in repr(s)


def test_defaults_keep_everything_in_process():
    s = load_settings({})
    assert s.generator_url == "" and s.lancedb_storage_options == {}
    assert s.generator_timeout == 120.0 and s.generator_max_retries == 1


@pytest.mark.parametrize(("env", "message"), [
    ({"NLPLAB_GENERATOR_URL": "gpu:8000"},
     "NLPLAB_GENERATOR_URL must start with http:// or https://, got 'gpu:8000'"),
    ({"NLPLAB_GENERATOR_TIMEOUT": "soon"}, "NLPLAB_GENERATOR_TIMEOUT must be a number, got 'soon'"),
    ({"NLPLAB_GENERATOR_TIMEOUT": "0"}, "NLPLAB_GENERATOR_TIMEOUT must be in (0, 3600] seconds, "
                                        "got 0.0"),
    ({"NLPLAB_GENERATOR_MAX_RETRIES": "99"}, "NLPLAB_GENERATOR_MAX_RETRIES must be 0..10, got 99"),
    ({"NLPLAB_LANCEDB_ALLOW_HTTP": "maybe"},
     "NLPLAB_LANCEDB_ALLOW_HTTP must be true or false, got 'maybe'"),
])
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(UserError) as info:
        load_settings(env)
    assert str(info.value) == message
