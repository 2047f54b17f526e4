"""Batched generation (left-padded) gives the one-by-one answers; stop strings end answers."""

import pytest

from core.errors import UserError
from core.generation import GenerationConfig, StopAfterText, cut_at_stop

PROMPTS = ["the cat", "a quiet river in spring under the old stone bridge", "apples",
           "numbers one two three four five six seven", "where is the harbour master today"]


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_batched_greedy_equals_one_by_one(tiny_generator, batch_size):
    """Prompts of different lengths share a batch only through left padding; a wrong pad side
    or a missing attention mask changes the continuation of the shorter prompts."""
    cfg = GenerationConfig(max_new_tokens=7)
    single = [tiny_generator.generate(p, cfg) for p in PROMPTS]
    batched = tiny_generator.generate_batch(PROMPTS, cfg, batch_size=batch_size)
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.tokens for r in batched] == [r.tokens for r in single]
    assert [r.prompt_tokens for r in batched] == [r.prompt_tokens for r in single]
    assert all(r.batch_size <= batch_size and r.seconds > 0 for r in batched)


def test_batch_keeps_input_order_and_rejects_bad_size(tiny_generator):
    cfg = GenerationConfig(max_new_tokens=3)
    out = tiny_generator.generate_batch(PROMPTS[::-1], cfg, batch_size=2)
    assert [r.prompt_tokens for r in out] == [tiny_generator.generate(p, cfg).prompt_tokens
                                              for p in PROMPTS[::-1]]
    with pytest.raises(UserError, match="batch_size"):
        tiny_generator.generate_batch(PROMPTS, cfg, batch_size=0)


@pytest.mark.parametrize(("text", "stop", "expected"), [
    ("Ada Moreno.\nQuestion: who?", ("\n",), "Ada Moreno."),
    ("\n\n  Skellwick Haven\nmore", ("\n",), "Skellwick Haven"),  # leading newlines skipped
    ("7.3 km", ("\n",), "7.3 km"),
    ("Blue. Question: x", ("\n", "Question:"), "Blue."),
    ("no stop at all ", (), "no stop at all"),
])
def test_cut_at_stop(text, stop, expected):
    assert cut_at_stop(text, stop) == expected


def test_stop_criterion_is_per_row(tiny_tokenizer):
    """Row 0's new text holds a newline after words, row 1's only before any: only 0 stops."""
    import torch

    tok = tiny_tokenizer
    rows = [tok("x", add_special_tokens=False)["input_ids"] +
            tok("blue", add_special_tokens=False)["input_ids"],
            tok("x", add_special_tokens=False)["input_ids"] +
            tok("red", add_special_tokens=False)["input_ids"]]

    class NewlineTok:  # WordPiece drops newlines, so decode through a mapping
        def batch_decode(self, ids, skip_special_tokens=True):
            return ["blue\nmore", "\n\nred"]

    crit = StopAfterText(NewlineTok(), ("\n",), prompt_len=1)
    assert crit(torch.tensor(rows), None).tolist() == [True, False]


def test_stop_strings_shorten_generation(tiny_generator):
    """A stop string that the tiny model's output contains ends the answer before it."""
    cfg = GenerationConfig(max_new_tokens=12)
    full = tiny_generator.generate(PROMPTS[1], cfg).text
    word = full.split()[1]
    stopped = tiny_generator.generate(PROMPTS[1], GenerationConfig(max_new_tokens=12,
                                                                   stop=(word,)))
    assert stopped.text == full.split(word, 1)[0].strip()
    assert stopped.tokens < 12
    batched = tiny_generator.generate_batch([PROMPTS[1], PROMPTS[0]],
                                            GenerationConfig(max_new_tokens=12, stop=(word,)))
    assert batched[0].text == stopped.text


def test_samples_come_prompt_major_and_greedy_samples_agree(tiny_generator):
    """``samples`` answers per prompt, prompt i's at [i*s, (i+1)*s); greedy, every sample of a
    prompt is its one answer (the shared prompt cache continues exactly)."""
    cfg = GenerationConfig(max_new_tokens=5)
    one = tiny_generator.generate_batch(PROMPTS, cfg, batch_size=2)
    three = tiny_generator.generate_batch(PROMPTS, cfg, batch_size=2, samples=3)
    assert [r.text for r in three] == [r.text for r in one for _ in range(3)]
    with pytest.raises(UserError, match="samples"):
        tiny_generator.generate_batch(PROMPTS, cfg, samples=2, copy_from=[["x"]] * 5)


def test_before_batch_stops_new_batches_and_progress_hears_each(tiny_generator):
    """Five prompts, two a batch: three batches; stopping before the third leaves the last
    (longest, as batches go shortest first) prompt unanswered."""
    asked, heard = [], []
    out = tiny_generator.generate_batch(
        PROMPTS, GenerationConfig(max_new_tokens=2), batch_size=2,
        before_batch=lambda: asked.append(1) or len(asked) > 2, progress=heard.append)
    assert len(asked) == 3 and heard == [0.4, 0.8]
    longest = max(range(len(PROMPTS)), key=lambda i: tiny_generator.count_tokens(PROMPTS[i]))
    assert [i for i, r in enumerate(out) if r is None] == [longest]


def test_top_k_is_passed_only_when_sampling():
    assert GenerationConfig(temperature=0.8, top_k=50).generate_kwargs()["top_k"] == 50
    assert "top_k" not in GenerationConfig(temperature=0.8).generate_kwargs()
    assert GenerationConfig(top_k=50).generate_kwargs()["top_k"] is None  # greedy
    with pytest.raises(UserError, match="top_k"):
        GenerationConfig(top_k=-1)


def test_both_generators_have_the_protocol_s_methods():
    """Generator and RemoteGenerator offer every method of TextGenerator with its keywords."""
    import inspect

    from core.generation import Generator
    from core.generator_protocol import TextGenerator
    from core.remote_generation import RemoteGenerator

    for name in ("label", "count_tokens", "load_adapter", "generate", "generate_batch",
                 "stream"):
        want = inspect.signature(getattr(TextGenerator, name)).parameters
        for cls in (Generator, RemoteGenerator):
            got = inspect.signature(getattr(cls, name)).parameters
            assert set(want) <= set(got), (cls.__name__, name, set(want) - set(got))
    assert Generator.supports_copy and not RemoteGenerator.supports_copy
