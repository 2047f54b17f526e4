"""The preference loop ("feedback drill"): simulated thumbs on the model's own answers,
DPO/KTO, before vs after.

What it simulates: users who give 👍 when an answer contains the question's gold answer (or
an alias) and 👎 otherwise (:data:`RULE`, the ``answer_hit`` metric of
:mod:`core.evaluation.metrics`). The drill

1. answers held-out questions (the QA set's test split; ``split="dev"`` to choose settings)
   greedily in the chosen answer mode (``rag`` by default: retrieve, then answer) and scores
   them by the rule: **before**;
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
resamples, seeded: :func:`core.evaluation.versions.paired_bootstrap`). Generation is the
generator's own batched generation (:meth:`core.generation.Generator.generate_batch`: left
padding, prompts sorted by length, the samples of one prompt sharing one reading of it). Each
phase is one function: :func:`_load`, :func:`_sample` (before run and sampling), :func:`_pair`,
:func:`_train`, :func:`_evaluate` (after run) and :func:`_report`. The app's page passes
its shared generator and the drill trains a private copy, so the live app keeps serving; the
CLI loads the model once and trains that. ``minutes`` is a budget: sampling stops taking new
questions, and training stops, in time for the after run (``phase_seconds`` says where the
time went). The adapter is saved in the adapter registry with ``source = "drill"`` and the
result.
Left out: the rule's choice of metric beyond ``answer_hit``, and real users (see
:mod:`core.finetune.preference` for learning from their thumbs).

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
from core.adapters import AdapterRegistry
from core.answering import ANSWER_STOP, answer_generation, make_context, prepare
from core.answering import open_store as open_kb
from core.errors import UserError
from core.evaluation.metrics import answer_hit
from core.feedback.store import open_store as open_feedback
from core.generation import Generator
from core.generator_protocol import GenerationConfig, chat_text, cut_at_stop
from core.names import check_name
from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split, train_items
from core.rag.defaults import ensure_default_kb
from core.settings import Settings
from core.training.lora import LoraSpec
from core.training.precision import resolve_precision

#: What the simulated users reward, in words (pages and the CLI say it).
RULE = ("a simulated user gives 👍 when the answer contains the gold answer or one of its "
        "aliases (whole words, case and punctuation ignored), else 👎")
METRIC = "answer_hit"
DRILL_MODES = ("rag", "base")
METHODS = ("dpo", "kto")
HELDOUT_SPLITS = ("test", "dev")  # choose the drill's settings on dev, report test
#: Samples are drawn from the 50 likeliest tokens (and the top-p nucleus).
SAMPLING_TOP_K = 50


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
    heldout: int = field(default=0, metadata={"help": "Held-out questions; 0 = all."})
    split: str = field(default="test", metadata={
        "help": "Held-out split: test (report) | dev (choose settings on it)."})
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
        if self.split not in HELDOUT_SPLITS:
            raise UserError(f"split must be one of {'|'.join(HELDOUT_SPLITS)}, "
                            f"got {self.split!r}")
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


def answer_prompts(model, tokenizer, prompts: Sequence[str], config: GenerationConfig, *,
                   chat: bool = True, samples: int = 1, batch_size: int = 16,
                   progress=None, cancelled=lambda: False, deadline: float | None = None,
                   ) -> list[list[str] | None]:
    """``samples`` answers per prompt from ``model``, through the generator's one batched
    generation (:meth:`core.generation.Generator.generate_batch`: sorted by length, left-padded,
    ``batch_size // samples`` prompts a batch, each prompt read once for its samples).

    Sample with a ``config`` temperature and a top-k cut-off (without one a 135M model's samples
    fall far below its greedy answers). No batch starts that would end past ``deadline`` (a
    ``time.perf_counter()`` value; a batch is taken to last as long as the one before); the
    prompts left unanswered get None. Every answer ends at its first line
    break, as every answer mode's does (:data:`core.answering.ANSWER_STOP`), so the loop scores
    and trains on the answers a user would be shown. Example: ``answer_prompts(m, tok, ["Hi"],
    GenerationConfig(max_new_tokens=8))`` -> ``[['Hello!']]``.
    """
    model.eval()
    generator = Generator(model, tokenizer, model_id="preference loop",
                          device=model.device.type, is_seq2seq=False)

    last = {"start": time.perf_counter(), "took": 0.0}

    def before_batch() -> bool:  # no batch starts that would end past the deadline
        if cancelled():
            raise UserError("the drill was cancelled; nothing was trained")
        now = time.perf_counter()
        last["took"], last["start"] = now - last["start"], now
        return deadline is not None and now + last["took"] > deadline

    results = generator.generate_batch(prompts, config, chat=chat, samples=samples,
                                       batch_size=max(1, batch_size // samples),
                                       before_batch=before_batch, progress=progress)
    out: list[list[str] | None] = []
    for i in range(len(prompts)):
        got = results[i * samples:(i + 1) * samples]
        out.append(None if got[0] is None else [cut_at_stop(r.text, ANSWER_STOP) for r in got])
    return out


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
    items = load_qa_file(config.qa or DEFAULT_QA_FILE)
    train = train_items(select_split(items, "train"))[:config.questions]
    test = select_split(items, config.split)
    test = test[:config.heldout] if config.heldout else test
    if len(train) < 2 or len(test) < 2:
        raise UserError(f"the drill needs at least 2 training and 2 {config.split}-split "
                        "questions; "
                        f"{config.qa or DEFAULT_QA_FILE} gives {len(train)} and {len(test)}")
    return train, test


@dataclass(frozen=True)
class LoopPrompt:
    """One question's prompt as its answer mode built it, and the chunks it retrieved."""

    prompt: str
    chat: bool
    chunks: list[str]

    def text(self, tokenizer) -> str:
        """The exact text the model reads (chat template + generation prompt, as the app)."""
        return chat_text(tokenizer, self.prompt, self.chat)


def _prompts(items, mode: str, ctx, say=None) -> list[LoopPrompt]:
    """Each question's prompt and retrieved chunk ids, built by the answer mode itself."""
    out = []
    for i, item in enumerate(items):
        if say is not None and i % 10 == 0:
            say(i, len(items))
        job = prepare(item.question, mode, ctx)
        out.append(LoopPrompt(job.prompt.prompt, job.prompt.chat,
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
    from core.training.copy import training_copy  # imports torch

    model, tokenizer = training_copy(settings.generator_model, settings)
    return Generator(model, tokenizer, model_id=settings.generator_model,
                     device=model.device.type,
                     is_seq2seq=bool(model.config.is_encoder_decoder), adapters=registry)


@dataclass
class _Run:
    """What the phases of one run share: its settings, model, questions and prompts."""

    settings: Settings
    config: DrillConfig
    hooks: object
    rule: object
    registry: AdapterRegistry
    name: str
    start: float
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    generator: object = None  # the answering generator (model id, records)
    model: object = None  # the model trained (private: the app's stays as it is)
    tokenizer: object = None
    precision: str = "fp32"
    train: list = field(default_factory=list)
    test: list = field(default_factory=list)
    train_prompts: list[LoopPrompt] = field(default_factory=list)
    test_prompts: list[LoopPrompt] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall time
    steps: int = 0  # training steps taken, of max_steps
    max_steps: int = 0
    feedback: object = None
    skipped: int = 0  # training questions left unanswered for time

    @property
    def budget_end(self) -> float:
        return self.start + self.config.minutes * 60

    @property
    def session(self) -> str:
        return f"drill-{self.run_id[:12]}"

    def answer(self, net, prompts: list[LoopPrompt], config: GenerationConfig, **kwargs):
        """:func:`answer_prompts` with this run's batch size and cancel flag."""
        return answer_prompts(net, self.tokenizer, [p.prompt for p in prompts], config,
                              chat=prompts[0].chat, batch_size=self.config.generate_batch,
                              cancelled=lambda: self.hooks.cancelled, **kwargs)

    def record(self, item, prompt: LoopPrompt, answer: str, rating: str, extra: dict,
               adapter: str | None = None) -> int:
        """Store one simulated rating (kept out of real users' lists: ``source``)."""
        return self.feedback.record_output(
            session_id=self.session, page="drill", mode=self.config.mode, prompt=item.question,
            output=answer, model_id=self.generator.model_id, adapter_id=adapter,
            retrieved_ids=prompt.chunks, rating=rating, source="simulated",
            extra={"drill": self.run_id, "rule": METRIC, "gold": item.answer, **extra})


def run_drill(settings: Settings, config: DrillConfig, *, generator=None, store=None,
              feedback=None, hooks=None, rule=None,
              actor: access.Actor | None = None) -> DrillResult:
    """Run the drill (module docstring); ``actor`` must be allowed ``train``.

    ``store`` is the knowledge store (opened when None and the mode retrieves), ``feedback``
    the feedback store (opened when None); ``hooks`` (:class:`TrainingHooks`) get progress
    and may cancel. ``rule(answer, item) -> "up" | "down"`` replaces :data:`RULE` (tests).
    """
    access.require(actor, "train")
    from core.training.callbacks import TrainingHooks  # imports transformers

    run = _load(settings, config, generator, store, hooks or TrainingHooks(),
                rule or (lambda answer, item: rate(answer, item.golds)))
    before_answers, before_hits, sampled = _sample(run)
    run.feedback = feedback or open_feedback(settings)
    rows, counts, ids = _pair(run, sampled)
    peft_model, losses, train_loss = _train(run, rows, counts)
    after_answers, after_hits = _evaluate(run, peft_model)
    return _report(run, peft_model, (before_answers, before_hits), (after_answers, after_hits),
                   counts, len(rows), ids, losses, train_loss)


def _load(settings: Settings, config: DrillConfig, generator, store, hooks, rule) -> _Run:
    """Load (or borrow) the model and the knowledge base; build every question's prompt."""
    from core.finetune.preference import prepare_model, trainable_tokenizer  # imports pandas

    registry = AdapterRegistry.of(settings)
    run = _Run(settings, config, hooks, rule, registry,
               config.adapter or f"drill-{time.strftime('%Y%m%d-%H%M%S')}", time.perf_counter())
    if registry.exists(run.name):
        raise UserError(f"adapter {run.name!r} already exists; choose a new name")
    run.train, run.test = _items(config)
    hooks.say(0.0, "loading the model and the knowledge base")
    if config.mode == "rag" and config.kb == "default":  # a fresh data directory has none yet
        store = store if store is not None else open_kb(settings)
        ensure_default_kb(store)
    own = generator is None and not settings.generator_url
    if own:  # nobody else uses this model: load it once, build prompts with it, train it
        generator = _private_generator(settings, registry)
    ctx = make_context(settings, config.kb, modes=[config.mode], top_k=config.top_k,
                       max_new_tokens=config.max_new_tokens, generator=generator, store=store)
    run.generator = ctx.generator
    if own:
        run.model, run.tokenizer = run.generator.model, trainable_tokenizer(
            run.generator.tokenizer)
    else:  # the app's shared model (or a model server): train a private copy
        run.model, run.tokenizer = prepare_model(run.generator, None)
    run.precision = resolve_precision(config.precision, str(run.model.device).split(":")[0])
    run.seconds["load"] = time.perf_counter() - run.start

    def say(what):
        return lambda i, n: hooks.say(0.01, f"building {what} prompts: {i}/{n}")

    t0 = time.perf_counter()
    run.test_prompts = _prompts(run.test, config.mode, ctx, say("held-out"))
    run.train_prompts = _prompts(run.train, config.mode, ctx, say("training"))
    run.seconds["prompts"] = time.perf_counter() - t0
    return run


def _heldout(run: _Run, net, lo: float, label: str) -> tuple[list[str], list[float]]:
    """Greedy answers to the held-out questions and the rule's hits; times ``label``."""
    t0 = time.perf_counter()
    n = len(run.test)
    answers = run.answer(net, run.test_prompts, answer_generation(run.config.max_new_tokens),
                         progress=lambda f: run.hooks.say(
                             lo + 0.2 * f, f"{label}: {f:.0%} of {n} held-out questions"))
    flat = [a[0] for a in answers]
    hits = [1.0 if run.rule(a, item) == "up" else 0.0
            for a, item in zip(flat, run.test, strict=True)]
    run.seconds[label] = time.perf_counter() - t0
    return flat, hits


def _after_reserve(run: _Run) -> float:
    """Seconds kept for the after run (as long as the before run) and saving."""
    return 1.15 * run.seconds["before"] + 10


def _sample(run: _Run) -> tuple[list[str], list[float], list[list[str]]]:
    """The before run, then ``samples`` sampled answers per training question in the time
    left; the questions not reached are dropped from the run (``run.skipped``)."""
    import torch

    config = run.config
    torch.manual_seed(config.seed)
    infer = inference_model(run.model, run.precision)
    before_answers, before_hits = _heldout(run, infer, 0.02, "before")
    run.hooks.say(0.25, f"sampling {config.samples} answers to {len(run.train)} training "
                        "questions")
    t0 = time.perf_counter()
    # Within --minutes: the after run, saving, and at least a fifth of the budget (one
    # minute or more) for training come after sampling. No stop string while sampling: the
    # answers are cut at the line break afterwards (the samples drawn stay as they were).
    sampling = GenerationConfig(max_new_tokens=config.max_new_tokens,
                                temperature=config.temperature, top_p=config.top_p,
                                top_k=SAMPLING_TOP_K)
    sampled = run.answer(
        infer, run.train_prompts, sampling, samples=config.samples,
        progress=lambda f: run.hooks.say(0.25 + 0.2 * f, f"sampling: {f:.0%}"),
        deadline=run.budget_end - _after_reserve(run) - max(60.0, 0.2 * config.minutes * 60))
    run.seconds["sample"] = time.perf_counter() - t0
    del infer
    kept = [k for k, answers in enumerate(sampled) if answers is not None]
    run.skipped = len(run.train) - len(kept)
    if not kept:
        raise UserError(f"--minutes {config.minutes:g} ran out before any training question was "
                        f"answered (the before run took {run.seconds['before']:.0f} s): raise "
                        "--minutes")
    if len(kept) < len(run.train):  # out of time: train on the questions answered so far
        run.train = [run.train[k] for k in kept]
        run.train_prompts = [run.train_prompts[k] for k in kept]
        sampled = [sampled[k] for k in kept]
    return before_answers, before_hits, sampled


def _pair(run: _Run, sampled: list[list[str]]) -> tuple[list[dict], dict, list[int]]:
    """Rate every sample by the rule, store the ratings, and build the training rows: DPO
    (chosen, rejected) pairs per prompt, or KTO thumbs. Returns (rows, counts, record ids)."""
    config = run.config
    rated: list[tuple[str, str, str]] = []  # (model text, answer, rating)
    ids: list[int] = []
    for item, prompt, answers in zip(run.train, run.train_prompts, sampled, strict=True):
        text = prompt.text(run.tokenizer)
        for j, answer in enumerate(answers):
            rating = run.rule(answer, item)
            rated.append((text, answer, rating))
            ids.append(run.record(item, prompt, answer, rating, {"sample": j}))
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
    return rows, counts, ids


def _train(run: _Run, rows: list[dict], counts: dict):
    """Train a new LoRA adapter on ``rows`` (DPO or KTO) within the time left.
    Returns (the trained PeftModel, the logged losses, the training loss)."""
    from datasets import Dataset, disable_progress_bars

    from core.finetune.preference import preference_trainer
    from core.training.callbacks import HooksCallback, TimeBudget, TrainingHooks

    config, hooks = run.config, run.hooks
    hooks.say(0.45, f"training {config.method.upper()} on {len(rows)} examples "
                    f"({counts['up']} 👍, {counts['down']} 👎)")
    disable_progress_bars()
    run.max_steps = max(1, math.ceil(len(rows) * config.epochs / config.batch_size))
    callback = HooksCallback(TrainingHooks(
        progress=None, cancel=hooks.cancel,
        step=lambda s, t, loss: hooks.say(0.45 + 0.35 * s / max(t, 1),
                                          f"training step {s}/{t}: loss {loss:.4f}")))
    root = run.registry.root
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{run.name}-", dir=root))
    try:
        t0 = time.perf_counter()  # DPO's reference log-probabilities are computed here too
        trainer = preference_trainer(
            config.method, run.model, run.tokenizer, Dataset.from_list(rows),
            output_dir=work, max_steps=run.max_steps,
            batch_size=config.batch_size, learning_rate=config.learning_rate, beta=config.beta,
            seed=config.seed, device=str(run.model.device), max_length=1024,
            peft_config=config.lora.peft_config(run.model, task_type="CAUSAL_LM"),
            # stop in time for the after run (as long as the before run) and saving
            callbacks=[callback, TimeBudget(until=run.budget_end - _after_reserve(run),
                                            ahead=True)],
            precision=run.precision, counts=counts, chat=False)
        train_loss = float(trainer.train().training_loss)
        run.seconds["train"] = time.perf_counter() - t0
        if hooks.cancelled:
            raise UserError(f"the drill was cancelled after {trainer.state.global_step} "
                            "training steps; no adapter was saved")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run.steps = trainer.state.global_step
    trainer.model.eval()
    return trainer.model, [loss for _, loss in callback.losses], train_loss


def _evaluate(run: _Run, peft_model) -> tuple[list[str], list[float]]:
    """The after run (adapter merged for speed, then unmerged) and every held-out rating."""
    peft_model.merge_adapter()  # the same function, without the LoRA detour per layer
    try:
        infer = inference_model(peft_model.get_base_model(), run.precision)
        after_answers, after_hits = _heldout(run, infer, 0.8, "after")
        del infer
    finally:
        peft_model.unmerge_adapter()
    return after_answers, after_hits


def _report(run: _Run, peft_model, before, after, counts: dict, examples: int,
            ids: list[int], losses: list[float], train_loss: float) -> DrillResult:
    """Store the before/after ratings, measure the change, save the adapter with its result."""
    from core.evaluation.versions import paired_bootstrap, verdict  # imports torch

    config = run.config
    (before_answers, before_hits), (after_answers, after_hits) = before, after
    before_m, after_m = float(np.mean(before_hits)), float(np.mean(after_hits))
    low, high = paired_bootstrap(before_hits, after_hits, seed=config.seed)
    for label, adapter, answers, hits in (("before", None, before_answers, before_hits),
                                          ("after", run.name, after_answers, after_hits)):
        for item, prompt, answer, hit in zip(run.test, run.test_prompts, answers, hits,
                                             strict=True):
            run.record(item, prompt, answer, "up" if hit else "down", {"side": label},
                       adapter=adapter)
    seconds = time.perf_counter() - run.start  # the adapter's save (about a second) comes after
    steps, max_steps = run.steps, run.max_steps
    phases = ("load", "prompts", "before", "sample", "train", "after")
    details = {
        "mode": config.mode, "method": config.method, "rule": RULE,
        "train_questions": len(run.train), "heldout_questions": len(run.test),
        "heldout_split": config.split,
        "ratings": counts, "examples": examples, "steps": steps, "max_steps": max_steps,
        "stopped_early": steps < max_steps, "train_loss": round(train_loss, 6),
        "train_seconds": round(run.seconds["train"], 1), "precision": run.precision,
        "answer_dtype": ("bfloat16" if run.precision == "bf16"
                         else str(peft_model.dtype).split(".")[-1]),
        "train_questions_skipped_for_time": run.skipped,
        "phase_seconds": {k: round(run.seconds[k], 1) for k in phases},
        "within_minutes": seconds <= config.minutes * 60,
        "simulated_output_ids": [ids[0], ids[-1]] if ids else [],
    }
    result = DrillResult(METRIC, before_m, after_m, after_m - before_m, [low, high], seconds,
                         run.name, details)
    import peft
    import transformers
    import trl

    metadata = {
        "adapter": run.name, "id": run.run_id, "kind": "feedback", "source": "drill",
        "method": config.method, "base_model": getattr(run.generator, "model_id", None),
        "parent_adapter": None, "knowledge_base": config.kb if config.mode == "rag" else "",
        "settings": {**asdict(config), "lora": asdict(config.lora)},
        "losses": losses, "train_loss": train_loss,
        "seconds": round(seconds, 3), "drill": result.to_cli(),
        "before_after": {**verdict(before_hits, after_hits, mode=config.mode,
                                   seed=config.seed), "before_label": "base model"},
        "versions": {"trl": trl.__version__, "peft": peft.__version__,
                     "transformers": transformers.__version__},
    }
    run.registry.save(peft_model, run.name, metadata)
    run.hooks.say(1.0, f"done: {METRIC} {before_m:.3f} -> {after_m:.3f}")
    return result
