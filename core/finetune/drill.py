"""The feedback drill: simulated thumbs on the model's own answers, DPO/KTO, before vs after.

What it simulates: users who give 👍 when an answer contains the question's gold answer (or
an alias) and 👎 otherwise (:data:`RULE`, the ``answer_hit`` metric of
:mod:`core.evaluation.metrics`). The drill

1. answers held-out questions (the QA set's test split) greedily in the chosen answer mode
   (``rag`` by default: retrieve, then answer) and scores them by the rule: **before**;
2. samples ``samples`` answers per TRAINING question (temperature ``temperature``), rates each
   by the rule and stores them in the feedback store with ``source = "simulated"`` (kept out
   of real users' statistics and exports unless asked);
3. trains a NEW LoRA adapter on those ratings: DPO on (👍, 👎) pairs of answers to the same
   prompt (contrastive pairs of the model's own outputs; Rafailov et al. 2023), or KTO on
   the thumbs, through TRL with bf16 autocast where the CPU/GPU supports it
   (:mod:`core.training.precision`); training stops early to keep within ``minutes``;
4. answers the same held-out questions with the adapter: **after**.

``delta = after - before`` with a paired bootstrap 95 % interval over questions (Efron &
Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13 percentile interval; 10,000
resamples, seeded: :func:`core.evaluation.versions.paired_bootstrap`). Generation is batched
(left padding, prompts sorted by length); the samples of one prompt share one reading of it
(:func:`shared_prompt_cache`). The app's page passes its shared generator and the drill
trains a private copy, so the live app keeps serving; the CLI loads the model once and trains
that. ``minutes`` is a budget: sampling stops taking new questions, and training stops, in
time for the after run (``phase_seconds`` says where the time went). The adapter is saved in
the adapter registry with ``source = "drill"`` and the result.
Left out: the rule's choice of metric beyond ``answer_hit``, and real users (see
:mod:`core.finetune.feedback` for learning from their thumbs).

Example:
    >>> rate("It is 7.3 km from the town.", ["7.3 kilometres", "7.3 km"])
    'up'
    >>> rate("About ten miles.", ["7.3 kilometres", "7.3 km"])
    'down'
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core import access
from core.errors import UserError
from core.evaluation.metrics import answer_hit
from core.names import check_name
from core.settings import Settings
from core.training.lora import LoraSpec

#: What the simulated users reward, in words (pages and the CLI say it).
RULE = ("a simulated user gives 👍 when the answer contains the gold answer or one of its "
        "aliases (whole words, case and punctuation ignored), else 👎")
METRIC = "answer_hit"
DRILL_MODES = ("rag", "base")
METHODS = ("dpo", "kto")


@dataclass(frozen=True)
class DrillConfig:
    """One drill run; every field is validated in ``__post_init__``."""

    questions: int = field(default=54, metadata={"help": "Training questions to answer."})
    minutes: float = field(default=15.0, metadata={"help": "Time budget; training stops early "
                                                          "to leave room for the after run."})
    kb: str = field(default="default", metadata={"help": "Knowledge base (rag mode)."})
    qa: str | None = field(default=None, metadata={"help": "QA JSONL (default: the built-in "
                                                           "set): train split + test split."})
    mode: str = field(default="rag", metadata={"help": "Answer mode: rag | base."})
    heldout: int = field(default=0, metadata={"help": "Held-out (test) questions; 0 = all."})
    # 8 samples x 3 pairs: ~100 DPO pairs from the 54 training questions, 50 steps, ~10 min on
    # 2 cores; 4 x 2 gave 62 pairs and an interval that still held 0 (docs/feedback.md).
    samples: int = field(default=8, metadata={"help": "Sampled answers per training question."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=0.95, metadata={"help": "Sampling nucleus (top-k 50 too)."})
    max_new_tokens: int = field(default=24, metadata={"help": "Answer length cap (tokens)."})
    method: str = field(default="dpo", metadata={"help": "dpo (pairs) | kto (thumbs)."})
    pairs_per_question: int = field(default=3, metadata={"help": "DPO pairs per question."})
    epochs: int = field(default=2, metadata={"help": "Passes over the pairs."})
    learning_rate: float = field(default=5e-4, metadata={"help": "AdamW learning rate."})
    beta: float = field(default=0.1, metadata={"help": "DPO/KTO beta."})
    batch_size: int = field(default=4, metadata={"help": "Training batch."})
    generate_batch: int = field(default=16, metadata={"help": "Prompts per generation batch."})
    top_k: int = field(default=3, metadata={"help": "Retrieved chunks (rag mode)."})
    lora: LoraSpec = field(default_factory=lambda: LoraSpec(dropout=0.0), metadata={
        "help": "The adapter's LoRA (rank 8, alpha 16, peft's targets)."})
    precision: str = field(default="auto", metadata={
        "help": "auto | fp32 | bf16 (bf16: training under autocast, answers from a bf16 copy)."})
    adapter: str = field(default="", metadata={"help": "Adapter name; empty = drill-<time>."})
    seed: int = field(default=0, metadata={"help": "Seed (sampling, LoRA init, bootstrap)."})

    def __post_init__(self) -> None:
        if self.adapter:
            check_name(self.adapter, "adapter")
        if self.mode not in DRILL_MODES:
            raise UserError(f"mode must be one of {'|'.join(DRILL_MODES)}, got {self.mode!r}")
        if self.method not in METHODS:
            raise UserError(f"method must be one of {'|'.join(METHODS)}, got {self.method!r}")
        for name, low, high in (("questions", 1, 100_000), ("heldout", 0, 100_000),
                                ("samples", 2, 32), ("max_new_tokens", 1, 512),
                                ("pairs_per_question", 1, 64), ("epochs", 1, 100),
                                ("batch_size", 2, 256), ("generate_batch", 1, 512),
                                ("top_k", 1, 20)):
            if not low <= getattr(self, name) <= high:
                raise UserError(f"{name} must be {low}..{high}, got {getattr(self, name)}")
        if not 0 < self.minutes <= 24 * 60:
            raise UserError(f"minutes must be in (0, 1440], got {self.minutes}")
        if not 0 < self.temperature <= 5:
            raise UserError(f"temperature must be in (0, 5], got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 < self.learning_rate < 1:
            raise UserError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 < self.beta <= 10:
            raise UserError(f"beta must be in (0, 10], got {self.beta}")


def rate(answer: str, golds: Sequence[str]) -> str:
    """The simulated user's thumb for ``answer`` (:data:`RULE`)."""
    return "up" if answer_hit(answer, golds).value == 1.0 else "down"


def dpo_pairs(samples: Sequence[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """(chosen, rejected) from one prompt's rated answers: distinct 👍 texts against distinct
    👎 texts, interleaved so ``limit`` pairs use as many different answers as possible.

    Example: [("A", "up"), ("B", "down"), ("C", "down"), ("A", "up")], limit 2 ->
    [("A", "B"), ("A", "C")].
    """
    ups = list(dict.fromkeys(t for t, r in samples if r == "up" and t.strip()))
    downs = list(dict.fromkeys(t for t, r in samples if r == "down" and t.strip()))
    pairs = [(ups[i % len(ups)], downs[i % len(downs)])
             for i in range(max(len(ups), len(downs)))] if ups and downs else []
    return [p for p in dict.fromkeys(pairs) if p[0] != p[1]][:limit]


def chat_text(tokenizer, prompt: str, chat: bool) -> str:
    """The exact text the model sees (chat template + generation prompt, like the app)."""
    if chat and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, tokenize=False)
    return prompt


def generate_batch(model, tokenizer, texts: Sequence[str], *, max_new_tokens: int,
                   batch_size: int = 16, samples: int = 1, temperature: float = 0.0,
                   top_p: float = 0.95, top_k: int = 50, progress=None,
                   cancelled=lambda: False, deadline: float | None = None,
                   ) -> list[list[str] | None]:
    """``samples`` answers per text (greedy when ``temperature`` is 0, else top-k/top-p
    sampling: without a cut-off a 135M model's samples fall far below its greedy answers),
    batched: texts sorted by length, left-padded. Returns answers in input order.

    With ``samples`` > 1 each prompt is read once (:func:`shared_prompt_cache`) and its KV cache
    copied to the samples, instead of ``num_return_sequences`` reading it ``samples`` times.
    Once ``time.perf_counter()`` passes ``deadline`` no new batch starts; the texts left
    unanswered get None. Every answer ends at its first line break, as every answer mode's
    does (:data:`core.answering.ANSWER_STOP`), so the drill scores and trains on the answers
    a user would be shown.
    """
    import torch

    from core.answering import ANSWER_STOP
    from core.generation import cut_at_stop

    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    per = max(1, batch_size // samples)
    out: list[list[str] | None] = [None for _ in texts]
    kwargs = ({"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": top_k}
              if temperature > 0 else {"do_sample": False, "temperature": None, "top_p": None,
                                       "top_k": None})
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # restored below, always
    try:
        for start in range(0, len(order), per):
            if cancelled():
                raise UserError("the drill was cancelled; nothing was trained")
            if deadline is not None and time.perf_counter() > deadline:
                break
            idx = order[start:start + per]
            enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=False)
            enc = {k: enc[k].to(model.device) for k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                extra = shared_prompt_cache(model, enc, samples) if samples > 1 else {}
                ids = model.generate(**enc, max_new_tokens=max_new_tokens,
                                     pad_token_id=tokenizer.pad_token_id, **extra, **kwargs)
            texts_out = tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:],
                                               skip_special_tokens=True)
            for k, i in enumerate(idx):
                out[i] = [cut_at_stop(t, ANSWER_STOP)
                          for t in texts_out[k * samples:(k + 1) * samples]]
            if progress is not None:
                progress(min(1.0, (start + len(idx)) / len(order)))
    finally:
        tokenizer.padding_side = side
    return out


def shared_prompt_cache(model, enc: dict, samples: int) -> dict:
    """Read each prompt of ``enc`` once, all but its last token, and give every one of its
    ``samples`` rows a copy of that KV cache; ``enc`` is expanded in place to the rows.

    ``generate(**enc, past_key_values=cache)`` then reads only the last prompt token per row
    (Transformers continues from a cache: "Re-use cache to continue generation"); positions
    follow ``generate``'s own rule for left padding (mask cumsum - 1, padding at 0), so
    greedy answers equal ``num_return_sequences`` ones (tested).
    """
    import torch
    from transformers import DynamicCache

    if enc["input_ids"].shape[1] < 2:  # nothing to share
        return {"num_return_sequences": samples}
    mask = enc["attention_mask"]
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache = DynamicCache(config=model.config)
    model(input_ids=enc["input_ids"][:, :-1], attention_mask=mask[:, :-1],
          position_ids=positions[:, :-1], past_key_values=cache, use_cache=True,
          logits_to_keep=1)
    cache.batch_repeat_interleave(samples)
    for key in ("input_ids", "attention_mask"):
        enc[key] = torch.repeat_interleave(enc[key], samples, dim=0)
    return {"past_key_values": cache}


@dataclass
class DrillResult:
    metric: str
    before: float
    after: float
    delta: float
    delta_ci95: list[float]
    seconds: float
    adapter: str
    details: dict

    def to_cli(self) -> dict:
        return {"metric": self.metric, "before": round(self.before, 4),
                "after": round(self.after, 4), "delta": round(self.delta, 4),
                "delta_ci95": [round(x, 4) for x in self.delta_ci95],
                "seconds": round(self.seconds, 1), "adapter": self.adapter, **self.details}


def _items(config: DrillConfig):
    from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split, train_items

    items = load_qa_file(config.qa or DEFAULT_QA_FILE)
    train = train_items(select_split(items, "train"))[:config.questions]
    test = select_split(items, "test")
    test = test[:config.heldout] if config.heldout else test
    if len(train) < 2 or len(test) < 2:
        raise UserError(f"the drill needs at least 2 training and 2 test-split questions; "
                        f"{config.qa or DEFAULT_QA_FILE} gives {len(train)} and {len(test)}")
    return train, test


def _prompts(items, mode: str, ctx, tokenizer, say=None) -> list[tuple[str, list[str]]]:
    """(model text, retrieved chunk ids) per question, built by the answer mode itself."""
    from core.answering import prepare

    out = []
    for i, item in enumerate(items):
        if say is not None and i % 10 == 0:
            say(i, len(items))
        job = prepare(item.question, mode, ctx)
        out.append((chat_text(tokenizer, job.prompt.prompt, job.prompt.chat),
                    [str(h.id) for h in job.sources]))
    return out


def inference_model(model, precision: str):
    """The model the drill answers with: under ``bf16`` a bf16 copy of the weights (answers
    ~1.7x faster on a CPU with native bf16; training keeps fp32 master weights), else the
    model itself. Before and after are answered the same way, so the comparison stays paired.
    """
    if precision != "bf16":
        return model
    import copy

    import torch

    return copy.deepcopy(model).to(torch.bfloat16).eval()


def _private_generator(settings: Settings, registry):
    """A Generator of the drill's own: the generator setting's base weights, loaded once
    (:func:`core.training.copy.training_copy`: no adapter layers), trained in place."""
    from core.generation import Generator
    from core.training.copy import training_copy

    model, tokenizer = training_copy(settings.generator_model, settings)
    return Generator(model, tokenizer, model_id=settings.generator_model,
                     device=model.device.type,
                     is_seq2seq=bool(model.config.is_encoder_decoder), adapters=registry)


class _Deadline:
    """A TrainerCallback that stops training once ``time.perf_counter() > at``."""

    def __new__(cls, at: float):
        from transformers import TrainerCallback

        class Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if time.perf_counter() > at:
                    control.should_training_stop = True

        return Stop()


def run_drill(settings: Settings, config: DrillConfig, *, generator=None, store=None,
              feedback=None, hooks=None, rule=None,
              actor: access.Actor | None = None) -> DrillResult:
    """Run the drill (module docstring); ``actor`` must be allowed ``train``.

    ``store`` is the knowledge store (opened when None and the mode retrieves), ``feedback``
    the feedback store (opened when None); ``hooks`` (:class:`TrainingHooks`) get progress
    and may cancel. ``rule(answer, item) -> "up" | "down"`` replaces :data:`RULE` (tests).
    """
    access.require(actor, "train")
    from core.adapters import AdapterRegistry
    from core.answering import make_context
    from core.feedback.store import open_store as open_feedback
    from core.finetune.feedback import preference_trainer, prepare_model, trainable_tokenizer
    from core.training.callbacks import HooksCallback, TrainingHooks
    from core.training.precision import resolve_precision

    start = time.perf_counter()
    hooks = hooks or TrainingHooks()
    rule = rule or (lambda answer, item: rate(answer, item.golds))
    run_id = uuid.uuid4().hex
    name = config.adapter or f"drill-{time.strftime('%Y%m%d-%H%M%S')}"
    registry = AdapterRegistry.of(settings)
    if registry.exists(name):
        raise UserError(f"adapter {name!r} already exists; choose a new name")
    train, test = _items(config)
    hooks.say(0.0, "loading the model and the knowledge base")
    if config.mode == "rag" and config.kb == "default":  # a fresh data directory has none yet
        from core.answering import open_store as open_kb
        from core.rag.defaults import ensure_default_kb

        store = store if store is not None else open_kb(settings)
        ensure_default_kb(store)
    own = generator is None and not settings.generator_url
    if own:  # nobody else uses this model: load it once, build prompts with it, train it
        generator = _private_generator(settings, registry)
    ctx = make_context(settings, config.kb, modes=[config.mode], top_k=config.top_k,
                       max_new_tokens=config.max_new_tokens, generator=generator, store=store)
    generator = ctx.generator
    if own:
        model, tokenizer = generator.model, trainable_tokenizer(generator.tokenizer)
    else:  # the app's shared model (or a model server): train a private copy
        model, tokenizer = prepare_model(generator, None)
    device = str(model.device)
    precision = resolve_precision(config.precision, device.split(":")[0])
    load_seconds = time.perf_counter() - start

    def say(what):
        return lambda i, n: hooks.say(0.01, f"building {what} prompts: {i}/{n}")

    t_prompts = time.perf_counter()
    test_prompts = _prompts(test, config.mode, ctx, tokenizer, say("held-out"))
    train_prompts = _prompts(train, config.mode, ctx, tokenizer, say("training"))
    prompt_seconds = time.perf_counter() - t_prompts
    budget_end = start + config.minutes * 60
    gen = {"max_new_tokens": config.max_new_tokens, "batch_size": config.generate_batch,
           "cancelled": lambda: hooks.cancelled}

    def heldout(lo: float, label: str, net) -> tuple[list[str], list[float], float]:
        t0 = time.perf_counter()
        answers = generate_batch(net, tokenizer, [p for p, _ in test_prompts],
                                 progress=lambda f: hooks.say(lo + 0.2 * f, f"{label}: "
                                                              f"{f:.0%} of {len(test)} "
                                                              "held-out questions"), **gen)
        flat = [a[0] for a in answers]
        hits = [1.0 if rule(a, item) == "up" else 0.0 for a, item in zip(flat, test,
                                                                           strict=True)]
        return flat, hits, time.perf_counter() - t0

    import torch

    torch.manual_seed(config.seed)
    infer = inference_model(model, precision)
    before_answers, before_hits, eval_seconds = heldout(0.02, "before", infer)
    hooks.say(0.25, f"sampling {config.samples} answers to {len(train)} training questions")
    t_sample = time.perf_counter()
    # Within --minutes: the after run (as long as the before run), saving, and at least a
    # fifth of the budget (one minute or more) for training come after sampling.
    after_reserve = 1.15 * eval_seconds + 10
    sampled = generate_batch(
        infer, tokenizer, [p for p, _ in train_prompts], samples=config.samples,
        temperature=config.temperature, top_p=config.top_p,
        progress=lambda f: hooks.say(0.25 + 0.2 * f, f"sampling: {f:.0%}"),
        deadline=budget_end - after_reserve - max(60.0, 0.2 * config.minutes * 60), **gen)
    sample_seconds = time.perf_counter() - t_sample
    del infer
    kept = [k for k, answers in enumerate(sampled) if answers is not None]
    skipped = len(train) - len(kept)
    if not kept:
        raise UserError(f"--minutes {config.minutes:g} ran out before any training question was "
                        f"answered (the before run took {eval_seconds:.0f} s): raise --minutes")
    if len(kept) < len(train):  # out of time: train on the questions answered so far
        train = [train[k] for k in kept]
        train_prompts = [train_prompts[k] for k in kept]
        sampled = [sampled[k] for k in kept]
    fb = feedback or open_feedback(settings)
    session = f"drill-{run_id[:12]}"
    rated: list[tuple[str, str, str]] = []  # (model text, answer, rating)
    ids: list[int] = []
    for item, (text, chunks), answers in zip(train, train_prompts, sampled, strict=True):
        for j, answer in enumerate(answers):
            rating = rule(answer, item)
            rated.append((text, answer, rating))
            ids.append(fb.record_output(
                session_id=session, page="drill", mode=config.mode, prompt=item.question,
                output=answer, model_id=generator.model_id, retrieved_ids=chunks,
                rating=rating, source="simulated",
                extra={"drill": run_id, "rule": METRIC, "gold": item.answer, "sample": j}))
    up = sum(r == "up" for _, _, r in rated)
    if config.method == "dpo":
        by_text: dict[str, list[tuple[str, str]]] = {}
        for text, answer, rating in rated:
            by_text.setdefault(text, []).append((answer, rating))
        rows = [{"prompt": text, "chosen": c, "rejected": r} for text, s in by_text.items()
                for c, r in dpo_pairs(s, config.pairs_per_question)]
        if not rows:
            raise UserError(f"no question got both a 👍 and a 👎 among its {config.samples} "
                            f"samples ({up} of {len(rated)} answers were 👍): nothing to "
                            "contrast; raise --samples or --temperature")
    else:
        rows = [{"prompt": text, "completion": a, "label": r == "up"} for text, a, r in rated]
        if not 0 < up < len(rated):
            raise UserError(f"KTO needs both 👍 and 👎; got {up} 👍 of {len(rated)}")
    counts = {"ratings": len(rated), "up": up, "down": len(rated) - up, "pairs":
              len(rows) if config.method == "dpo" else 0}
    hooks.say(0.45, f"training {config.method.upper()} on {len(rows)} examples "
                    f"({up} 👍, {len(rated) - up} 👎)")
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()
    max_steps = max(1, math.ceil(len(rows) * config.epochs / config.batch_size))
    # Leave room for the after run (as long as the before run) and saving.
    stop_at = budget_end - after_reserve
    callback = HooksCallback(TrainingHooks(
        progress=None, cancel=hooks.cancel,
        step=lambda s, t, loss: hooks.say(0.45 + 0.35 * s / max(t, 1),
                                          f"training step {s}/{t}: loss {loss:.4f}")))
    root = registry.root
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    try:
        trainer = preference_trainer(
            config.method, model, tokenizer, Dataset.from_list(rows), output_dir=work,
            max_steps=max_steps, batch_size=config.batch_size,
            learning_rate=config.learning_rate, beta=config.beta, seed=config.seed,
            device=device, max_length=1024,
            peft_config=config.lora.peft_config(model, task_type="CAUSAL_LM"),
            callbacks=[callback, _Deadline(stop_at)], precision=precision, counts=counts,
            chat=False)
        t0 = time.perf_counter()
        train_loss = float(trainer.train().training_loss)
        train_seconds = time.perf_counter() - t0
        if hooks.cancelled:
            raise UserError(f"the drill was cancelled after {trainer.state.global_step} "
                            "training steps; no adapter was saved")
        peft_model = trainer.model
    finally:
        shutil.rmtree(work, ignore_errors=True)
    steps = trainer.state.global_step
    peft_model.eval()
    model = peft_model
    peft_model.merge_adapter()  # the same function, without the LoRA detour per layer
    try:
        infer = inference_model(peft_model.get_base_model(), precision)
        after_answers, after_hits, after_seconds = heldout(0.8, "after", infer)
        del infer
    finally:
        peft_model.unmerge_adapter()
    from core.evaluation.versions import paired_bootstrap, verdict  # imports torch: not at parse

    before_m, after_m = float(np.mean(before_hits)), float(np.mean(after_hits))
    low, high = paired_bootstrap(before_hits, after_hits, seed=config.seed)
    for label, adapter, answers, hits in (("before", None, before_answers, before_hits),
                                          ("after", name, after_answers, after_hits)):
        for item, (_, chunks), answer, hit in zip(test, test_prompts, answers, hits,
                                                  strict=True):
            fb.record_output(
                session_id=session, page="drill", mode=config.mode, prompt=item.question,
                output=answer, model_id=generator.model_id, adapter_id=adapter,
                retrieved_ids=chunks, rating="up" if hit else "down", source="simulated",
                extra={"drill": run_id, "rule": METRIC, "gold": item.answer, "side": label})
    seconds = time.perf_counter() - start  # the adapter's save (about a second) comes after
    details = {
        "mode": config.mode, "method": config.method, "rule": RULE,
        "train_questions": len(train), "heldout_questions": len(test),
        "ratings": counts, "examples": len(rows), "steps": steps, "max_steps": max_steps,
        "stopped_early": steps < max_steps, "train_loss": round(train_loss, 6),
        "train_seconds": round(train_seconds, 1), "precision": precision,
        "answer_dtype": "bfloat16" if precision == "bf16" else str(model.dtype).split(".")[-1],
        "train_questions_skipped_for_time": skipped,
        "phase_seconds": {"load": round(load_seconds, 1), "prompts": round(prompt_seconds, 1),
                          "before": round(eval_seconds, 1), "sample": round(sample_seconds, 1),
                          "train": round(train_seconds, 1), "after": round(after_seconds, 1)},
        "within_minutes": seconds <= config.minutes * 60,
        "simulated_output_ids": [ids[0], ids[-1]] if ids else [],
    }
    result = DrillResult(METRIC, before_m, after_m, after_m - before_m, [low, high], seconds,
                         name, details)
    import peft
    import transformers
    import trl

    metadata = {
        "adapter": name, "id": run_id, "kind": "feedback", "source": "drill",
        "method": config.method, "base_model": getattr(generator, "model_id", None),
        "parent_adapter": None, "knowledge_base": config.kb if config.mode == "rag" else "",
        "settings": {**asdict(config), "lora": asdict(config.lora)},
        "losses": [loss for _, loss in callback.losses], "train_loss": train_loss,
        "seconds": round(seconds, 3), "drill": result.to_cli(),
        "before_after": {**verdict(before_hits, after_hits, mode=config.mode,
                                   seed=config.seed), "before_label": "base model"},
        "versions": {"trl": trl.__version__, "peft": peft.__version__,
                     "transformers": transformers.__version__},
    }
    registry.save(peft_model, name, metadata)
    hooks.say(1.0, f"done: {METRIC} {before_m:.3f} -> {after_m:.3f}")
    return result
