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


# -- the standard AWS variables, where the NLPLAB_LANCEDB_* ones are unset -------------------
AWS = {"AWS_ENDPOINT_URL": "https://s3.eu-central-1.example.com",
       "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "aws-secret",
       "AWS_REGION": "eu-central-1"}


def test_standard_aws_variables_give_the_storage_options():
    s = load_settings({"NLPLAB_LANCEDB_URI": "s3://bucket/kb", **AWS})
    assert s.lancedb_storage_options == {
        "aws_endpoint": "https://s3.eu-central-1.example.com",
        "aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "aws-secret",
        "aws_region": "eu-central-1"}
    assert "aws-secret" not in repr(s)


@pytest.mark.parametrize(("env", "region"), [
    ({"AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),
    ({"AWS_DEFAULT_REGION": "us-west-2", "AWS_REGION": "eu-north-1"}, "eu-north-1"),
    ({"AWS_REGION": "eu-north-1", "NLPLAB_LANCEDB_REGION": "ap-south-1"}, "ap-south-1"),
    ({"AWS_REGION": "eu-north-1", "NLPLAB_LANCEDB_REGION": ""}, "eu-north-1"),
], ids=["default region", "AWS_REGION over default", "NLPLAB wins", "empty NLPLAB is unset"])
def test_region_comes_from_the_first_variable_set(env, region):
    assert load_settings(env).lancedb_region == region


def test_nlplab_variables_win_field_by_field():
    """Key id and endpoint set both ways: the NLPLAB_ ones are used; secret and region, set
    only the AWS way, still come from AWS. AWS_ENDPOINT_URL_S3 (S3's own) beats the global."""
    s = load_settings({**AWS, "NLPLAB_LANCEDB_KEY_ID": "nlplab-id",
                       "NLPLAB_LANCEDB_ENDPOINT": "http://minio:9000",
                       "AWS_ENDPOINT_URL_S3": "https://s3-only.example.com"})
    assert (s.lancedb_key_id, s.lancedb_endpoint) == ("nlplab-id", "http://minio:9000")
    assert (s.lancedb_secret, s.lancedb_region) == ("aws-secret", "eu-central-1")
    only_aws = load_settings({**AWS, "AWS_ENDPOINT_URL_S3": "https://s3-only.example.com"})
    assert only_aws.lancedb_endpoint == "https://s3-only.example.com"
