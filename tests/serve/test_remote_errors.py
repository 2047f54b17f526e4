"""Server down, slow, 4xx, 5xx: one clear message each, nothing hangs (a scripted stub server);
and the vLLM features `transformers serve` lacks (model list, LoRA names, echo logprobs)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from core.errors import UserError
from core.generation import GenerationConfig
from core.model_server import free_port
from core.remote_generation import LikelihoodUnavailable, ModelServerError, RemoteGenerator

CONFIG = GenerationConfig(max_new_tokens=4)


def chat_reply(text="Paris.", usage=True):
    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}]}
    if usage:
        body["usage"] = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    return body


def make(stub_or_url, app_settings, **kw) -> RemoteGenerator:
    url = stub_or_url if isinstance(stub_or_url, str) else stub_or_url.url
    kw = {"generator_served_model": "m", "generator_max_retries": 0, "generator_timeout": 5.0,
          "generator_connect_timeout": 1.0, **kw}
    settings = replace(app_settings, generator_url=url, **kw)
    return RemoteGenerator(settings)


def test_server_down_says_it_cannot_reach_it_quickly(app_settings):
    url = f"http://127.0.0.1:{free_port()}/v1"
    gen = make(url, app_settings)  # (importing the client is not part of the wait)
    start = time.perf_counter()
    with pytest.raises(ModelServerError) as info:
        gen.generate("hi", CONFIG)
    assert str(info.value) == (f"cannot reach the model server at {url} (the chat request): "
                               "is it running? (NLPLAB_GENERATOR_URL)")
    assert time.perf_counter() - start < 5


def test_slow_server_times_out_with_the_setting_named(stub_server, app_settings):
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply(), 3.0)
    gen = make(stub_server, app_settings, generator_timeout=0.5)
    start = time.perf_counter()
    with pytest.raises(ModelServerError) as info:
        gen.generate("hi", CONFIG)
    assert str(info.value) == (f"the model server at {stub_server.url} did not answer the chat "
                               "request within 0.5 s (NLPLAB_GENERATOR_TIMEOUT)")
    assert time.perf_counter() - start < 2.5  # no retries, no waiting for the slow answer


@pytest.mark.parametrize(("status", "body", "message"), [
    (400, {"error": {"message": "max_tokens is too large\nsecond line"}},
     "the model server at {url} rejected the chat request (HTTP 400): max_tokens is too large"),
    (404, {"detail": "model 'm' not found"},
     "the model server at {url} rejected the chat request (HTTP 404): model 'm' not found"),
    (401, {"error": {"message": "bad key"}},
     "the model server at {url} refused the API key (HTTP 401): check NLPLAB_GENERATOR_API_KEY"),
    (500, {"error": "CUDA out of memory"},
     "the model server at {url} failed the chat request (HTTP 500): CUDA out of memory"),
    (503, {"error": {"message": "overloaded"}},
     "the model server at {url} failed the chat request (HTTP 503): overloaded"),
])
def test_http_errors_give_one_line_naming_the_status(stub_server, app_settings, status, body,
                                                      message):
    stub_server.routes["/v1/chat/completions"] = (status, body, 0)
    with pytest.raises(ModelServerError) as info:
        make(stub_server, app_settings).generate("hi", CONFIG)
    assert str(info.value) == message.format(url=stub_server.url)


def test_5xx_is_retried_up_to_the_setting(stub_server, app_settings):
    stub_server.routes["/v1/chat/completions"] = (500, {"error": "boom"}, 0)
    with pytest.raises(ModelServerError):
        make(stub_server, app_settings, generator_max_retries=2).generate("hi", CONFIG)
    assert len(stub_server.requests) == 3


def test_stream_cut_mid_way_is_one_clear_error(stub_server, app_settings):
    chunk = ('data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"m",'
             '"choices":[{"index":0,"delta":{"content":"Par"}}]}\n\n')
    stub_server.routes["/v1/chat/completions"] = (200, chunk.encode() + b"data: {\"id\"", 0)
    stream = make(stub_server, app_settings).stream("hi", CONFIG)
    with pytest.raises(ModelServerError, match="stream"):
        list(stream)


def test_answer_columns_and_counts_without_usage(stub_server, app_settings, monkeypatch):
    """A server without `usage`: tokens are counted with the local tokenizer."""
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply("one two three", False), 0)
    gen = make(stub_server, app_settings)

    class WordTokenizer:  # one token per word; no chat template
        chat_template = None

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": text.split()}

    gen._tokenizer = WordTokenizer()
    got = gen.generate("how many words here", CONFIG)
    assert (got.text, got.tokens, got.prompt_tokens) == ("one two three", 3, 4)
    path, body = stub_server.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "m"
    assert body["messages"] == [{"role": "user", "content": "how many words here"}]
    assert body["max_tokens"] == 4 and body["temperature"] == 0.0


def test_served_model_defaults_to_the_only_listed_one(stub_server, app_settings):
    stub_server.routes["/v1/models"] = (200, {"object": "list", "data": [
        {"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "created": 0, "owned_by": "vllm",
         "max_model_len": 32768},
        {"id": "orbis", "object": "model", "created": 0, "owned_by": "vllm",
         "parent": "Qwen/Qwen2.5-7B-Instruct"}]}, 0)
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply(), 0)
    gen = make(stub_server, app_settings, generator_served_model="")
    assert gen.served_model == "Qwen/Qwen2.5-7B-Instruct"
    assert gen.context_window == 32768
    result = gen.generate("Who founded Orbis?", CONFIG, adapter="orbis")  # server-side LoRA
    assert result.text == "Paris." and (result.tokens, result.prompt_tokens) == (3, 11)
    assert stub_server.requests[-1][1]["model"] == "orbis"
    assert gen.label("orbis") == "Qwen/Qwen2.5-7B-Instruct @ server + orbis"


def test_several_models_and_no_setting_is_an_error_listing_them(stub_server, app_settings):
    stub_server.routes["/v1/models"] = (200, {"object": "list", "data": [
        {"id": "a", "object": "model", "created": 0, "owned_by": "x"},
        {"id": "b", "object": "model", "created": 0, "owned_by": "x"}]}, 0)
    with pytest.raises(ModelServerError, match=r"lists 2 models \(a, b\): set "
                                               "NLPLAB_GENERATOR_SERVED_MODEL"):
        make(stub_server, app_settings, generator_served_model="").generate("hi", CONFIG)


def echo_reply(tokens: list[str], logprobs: list[float | None]):
    offsets, at = [], 0
    for t in tokens:
        offsets.append(at)
        at += len(t)
    return {"id": "x", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": "".join(tokens), "finish_reason": "length",
                         "logprobs": {"tokens": tokens, "token_logprobs": logprobs,
                                      "text_offset": offsets, "top_logprobs": None}}]}


def test_multiple_choice_scores_only_the_choice_tokens(stub_server, app_settings):
    """Prompt "Q?" (no chat template) + " Paris" / " Rome": echoed tokens "Q", "?", " Par",
    "is", then one generated token ".". Only the tokens ending after the prompt count:
    Paris: -1.0 + -0.5 = -1.5 over 2 tokens (mean -0.75); Rome: -2.0 over 1 token (mean -2.0).
    Both rules pick Paris; the generated token's -9 is never counted."""
    replies = {"Q? Paris": echo_reply(["Q", "?", " Par", "is", "."], [None, -3.0, -1.0, -0.5,
                                                                       -9.0]),
               "Q? Rome": echo_reply(["Q", "?", " Rome", "."], [None, -3.0, -2.0, -9.0])}
    stub_server.routes["/v1/completions"] = lambda body: (200, replies[body["prompt"]], 0)
    gen = make(stub_server, app_settings)

    class NoTemplate:
        chat_template = None

    gen._tokenizer = NoTemplate()
    scores = gen.score_choices("Q?", ["Paris", "Rome"])
    assert scores.logprob_sums == (-1.5, -2.0) and scores.token_counts == (2, 1)
    assert scores.best_mean == scores.best_sum == 0
    body = stub_server.requests[-1][1]
    assert body["echo"] is True and body["logprobs"] == 0 and body["max_tokens"] == 1


def test_scoring_without_logprobs_is_unavailable(stub_server, app_settings):
    stub_server.routes["/v1/completions"] = (200, {
        "id": "x", "object": "text_completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "text": "x", "finish_reason": "length", "logprobs": None}]}, 0)
    gen = make(stub_server, app_settings)

    class NoTemplate:
        chat_template = None

    gen._tokenizer = NoTemplate()
    with pytest.raises(LikelihoodUnavailable, match="no prompt log-probabilities"):
        gen.score_choices("Q?", ["Paris", "Rome"])


def test_training_copy_of_a_server_generator_loads_the_local_copy(app_settings, monkeypatch):
    """Feedback learning passes the live generator; with a server it trains the local copy
    named by NLPLAB_GENERATOR_MODEL (no weights come from the server)."""
    from core.training import copy as training

    calls = []

    def fake_load(spec, settings):
        calls.append((spec, settings.generator_url))
        raise ModelServerError("stop here")

    monkeypatch.setattr("core.loaders.load_causal_or_seq2seq", fake_load)
    gen = make("http://127.0.0.1:9/v1", app_settings, generator_model="/models/smol")
    with pytest.raises(ModelServerError, match="stop here"):
        training.training_copy(gen)
    assert calls == [("/models/smol", "http://127.0.0.1:9/v1")]


# -- the model list is a convenience: a failing or foreign list falls back to the local copy --
LOCAL_COPY = "/srv/models/SmolLM2-135M-Instruct"  # `transformers serve` answers to this path
HUB_CACHE_MISSING = (500, {"detail": "[Errno 2] No such file or directory: '/root/.cache/"
                                     "huggingface/hub'"}, 0)


def list_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "core.remote_generation" and r.levelname == "WARNING"]


def test_failing_model_list_asks_for_the_local_copy_with_one_warning(stub_server, app_settings,
                                                                     caplog):
    """`transformers serve FOLDER` without a hub cache folder answers /v1/models with 500; the
    answer still comes, asked of the model by the local copy's name, with one warning line."""
    stub_server.routes["/v1/models"] = HUB_CACHE_MISSING
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply(), 0)
    gen = make(stub_server, app_settings, generator_served_model="",
               generator_model=LOCAL_COPY)
    with caplog.at_level("WARNING", logger="core.remote_generation"):
        first = gen.generate("Who founded Orbis?", CONFIG)
        second = gen.generate("And when?", CONFIG)
    assert (first.text, second.text) == ("Paris.", "Paris.")
    assert [body["model"] for path, body in stub_server.requests
            if path == "/v1/chat/completions"] == [LOCAL_COPY, LOCAL_COPY]
    assert [path for path, _ in stub_server.requests].count("/v1/models") == 1
    url = stub_server.url
    assert list_warnings(caplog) == [
        f"the model server at {url} failed the model list (HTTP 500): [Errno 2] No such file or "
        f"directory: '/root/.cache/huggingface/hub'; asking for {LOCAL_COPY!r} "
        "(NLPLAB_GENERATOR_MODEL); set NLPLAB_GENERATOR_SERVED_MODEL to the model's name on "
        "the server to skip the list"]
    assert gen.warning == list_warnings(caplog)[0]
    assert gen.label() == f"{LOCAL_COPY} @ server"


@pytest.mark.parametrize("listed", [[], ["HuggingFaceTB/SmolLM2-360M", "Qwen/Qwen2.5-0.5B"]],
                         ids=["empty hub cache", "other cached models"])
def test_model_list_without_the_local_copy_asks_for_it_with_a_warning(stub_server, app_settings,
                                                                      caplog, listed):
    stub_server.routes["/v1/models"] = (200, {"object": "list", "data": [
        {"id": i, "object": "model", "created": 0, "owned_by": "x"} for i in listed]}, 0)
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply(), 0)
    gen = make(stub_server, app_settings, generator_served_model="",
               generator_model=LOCAL_COPY)
    with caplog.at_level("WARNING", logger="core.remote_generation"):
        assert gen.generate("hi", CONFIG).text == "Paris."
    assert stub_server.requests[-1][1]["model"] == LOCAL_COPY
    (warning,) = list_warnings(caplog)
    assert warning.startswith(f"the model server at {stub_server.url} lists {len(listed)} "
                              f"models ({', '.join(listed) or 'none'}), not {LOCAL_COPY!r}; "
                              "asking for it (NLPLAB_GENERATOR_MODEL)")


def test_listed_local_copy_is_picked_among_several_without_a_warning(stub_server, app_settings,
                                                                    caplog):
    stub_server.routes["/v1/models"] = (200, {"object": "list", "data": [
        {"id": i, "object": "model", "created": 0, "owned_by": "x"}
        for i in ("Qwen/Qwen2.5-0.5B", LOCAL_COPY)]}, 0)
    gen = make(stub_server, app_settings, generator_served_model="",
               generator_model=LOCAL_COPY)
    with caplog.at_level("WARNING", logger="core.remote_generation"):
        assert gen.served_model == LOCAL_COPY
    assert list_warnings(caplog) == [] and gen.warning is None


def test_failing_model_list_with_a_builtin_local_copy_says_what_to_set(stub_server,
                                                                       app_settings):
    """A ``builtin:`` local copy is no name a server answers to: the error stays, and says
    which setting names the model."""
    stub_server.routes["/v1/models"] = HUB_CACHE_MISSING
    gen = make(stub_server, app_settings, generator_served_model="",
               generator_model="builtin:smollm2-135m-instruct")
    with pytest.raises(ModelServerError) as err:
        gen.generate("hi", CONFIG)
    assert str(err.value) == (
        f"the model server at {stub_server.url} failed the model list (HTTP 500): [Errno 2] No "
        "such file or directory: '/root/.cache/huggingface/hub'; set "
        "NLPLAB_GENERATOR_SERVED_MODEL to the model's name on the server")
    assert "/v1/chat/completions" not in [path for path, _ in stub_server.requests]


def test_refused_key_on_the_model_list_is_not_papered_over(stub_server, app_settings):
    stub_server.routes["/v1/models"] = (401, {"error": {"message": "bad key"}}, 0)
    gen = make(stub_server, app_settings, generator_served_model="",
               generator_model=LOCAL_COPY)
    with pytest.raises(ModelServerError, match=r"refused the API key \(HTTP 401\)"):
        gen.generate("hi", CONFIG)


def test_ask_prints_the_answer_and_the_warning_on_stderr(stub_server, tiny_model_folder,
                                                         tmp_path):
    """`python -m core ask` against a server whose model list fails: exit 0, the answer on
    stdout, the warning as one stderr line."""
    import json
    import os
    import subprocess
    import sys

    from core.settings import REPO_ROOT

    stub_server.routes["/v1/models"] = HUB_CACHE_MISSING
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply("Mirela Vantosh."), 0)
    env = {**os.environ, "NLPLAB_DATA_DIR": str(tmp_path / "appdata"),
           "NLPLAB_GENERATOR_URL": stub_server.url, "NLPLAB_GENERATOR_SERVED_MODEL": "",
           "NLPLAB_GENERATOR_MODEL": str(tiny_model_folder), "NLPLAB_GENERATOR_MAX_RETRIES": "0",
           "NLPLAB_WARM_UP": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "core", "ask", "Who founded Zorblax?",
                           "--mode", "base"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "Mirela Vantosh."
    lines = [line for line in done.stderr.splitlines() if "model list" in line]
    assert len(lines) == 1 and "failed the model list (HTTP 500)" in lines[0], done.stderr
    assert f"asking for {str(tiny_model_folder)!r}" in lines[0]
    assert stub_server.requests[-1][1]["model"] == str(tiny_model_folder)


def test_batch_sends_each_sample_as_a_request_and_stops_between_groups(stub_server,
                                                                      app_settings):
    """Three prompts, two samples each, one prompt a group: a stop asked before the third
    group leaves that prompt's two samples None; sampling sends top_k as an extension."""
    stub_server.routes["/v1/chat/completions"] = (200, chat_reply("Paris."), 0)
    gen = make(stub_server, app_settings)
    asked, heard = [], []
    sampling = GenerationConfig(max_new_tokens=4, temperature=0.8, top_p=0.9, top_k=50)
    out = gen.generate_batch(["a?", "b?", "c?"], sampling, batch_size=1, samples=2,
                             before_batch=lambda: asked.append(1) or len(asked) > 2,
                             progress=heard.append)
    assert [r.text if r else None for r in out] == ["Paris."] * 4 + [None, None]
    assert heard == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    bodies = [b for p, b in stub_server.requests if p == "/v1/chat/completions"]
    assert len(bodies) == 4 and all(b["top_k"] == 50 and b["top_p"] == 0.9 for b in bodies)
    with pytest.raises(UserError, match="copy reader needs a local model"):
        gen.generate_batch(["a?"], CONFIG, copy_from=[["x"]])
