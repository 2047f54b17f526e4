import threading

import pytest

from core.errors import UserError
from core.generation import GenerationConfig


def test_greedy_generation_is_deterministic_and_bounded(tiny_generator):
    cfg = GenerationConfig(max_new_tokens=6)
    a = tiny_generator.generate("the cat sat on the mat", cfg)
    b = tiny_generator.generate("the cat sat on the mat", cfg)
    assert a.text == b.text
    assert 1 <= a.tokens <= 6
    assert a.prompt_tokens == len(tiny_generator.tokenizer("the cat sat on the mat")["input_ids"])
    assert a.tokens_per_second > 0


def test_stream_yields_the_same_text_as_generate(tiny_generator):
    cfg = GenerationConfig(max_new_tokens=8)
    whole = tiny_generator.generate("a quiet river in spring", cfg)
    answer = tiny_generator.stream("a quiet river in spring", cfg)
    pieces = list(answer)
    assert "".join(pieces).strip() == whole.text
    assert answer.result is not None and answer.result.text == whole.text


def test_concurrent_callers_each_get_their_own_answer(tiny_generator):
    prompts = [f"question number {i} about apples" for i in range(6)]
    cfg = GenerationConfig(max_new_tokens=5)
    expected = {p: tiny_generator.generate(p, cfg).text for p in prompts}
    got: dict[str, str] = {}
    errors: list[Exception] = []

    def ask(p: str) -> None:
        try:
            got[p] = "".join(tiny_generator.stream(p, cfg)).strip() if "1" in p else (
                tiny_generator.generate(p, cfg).text)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert got == expected


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_empty_prompt_is_refused(tiny_generator, prompt):
    with pytest.raises(UserError, match="empty"):
        tiny_generator.generate(prompt)


def test_prompt_longer_than_context_is_refused(tiny_generator):
    with pytest.raises(UserError, match="accepts 256"):
        tiny_generator.generate("word " * 400)


def test_huge_prompt_is_refused_before_tokenising(tiny_generator):
    with pytest.raises(UserError, match="limit"):
        tiny_generator.generate("x" * 300_000)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 0}, {"repetition_penalty": 9}],
)
def test_generation_config_validation_names_the_value(kwargs):
    with pytest.raises(UserError, match=str(next(iter(kwargs.values())))):
        GenerationConfig(**kwargs)


def test_sampling_kwargs_only_when_temperature_positive():
    assert GenerationConfig().generate_kwargs()["do_sample"] is False
    kw = GenerationConfig(temperature=0.7, top_p=0.9).generate_kwargs()
    assert (kw["do_sample"], kw["temperature"], kw["top_p"]) == (True, 0.7, 0.9)
