"""``BatchTrainer``: transformers' ``Trainer`` over micro-batches and a loss we build ourselves.

Knowledge fine-tuning and the emotion encoder control their data order, padding and loss
(seeded shuffles, padding trimmed per micro-batch, token-share weights, class weights), so
they hand this trainer a function ``epoch_batches(epoch) -> list of micro-batch dicts`` and a
``loss(model, batch) -> tensor``; the Trainer brings the optimiser loop, gradient
accumulation, clipping, device placement and the callbacks (:mod:`.callbacks`). The loss must
already carry its share of the step (``loss_is_scaled_for_ga``): nothing else divides it.
TRL's KTO/DPO trainers (feedback learning) are Trainer subclasses used as they are.

Example:
    >>> trainer = BatchTrainer(model=model, args=training_args(tmp, epochs=1,
    ...     learning_rate=1e-3, accumulation=4, device="cpu"), epoch_batches=lambda e: parts,
    ...     batches_per_epoch=len(parts), loss=lambda m, b: m(**b).loss / 4)  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

from transformers import PrinterCallback, Trainer, TrainingArguments

from core.training.precision import AutocastMixin


def training_args(output_dir, *, epochs: int = 1, max_steps: int = -1, learning_rate: float,
                  accumulation: int = 1, batch_size: int = 1, device: str = "cpu",
                  seed: int = 0, weight_decay: float = 0.0, max_grad_norm: float = 1.0,
                  args_class=TrainingArguments, **extra) -> TrainingArguments:
    """Trainer arguments every trainer here shares: quiet, no checkpoints, a log per step.

    ``args_class`` is ``TrainingArguments`` or a TRL config (``KTOConfig``, ``DPOConfig``);
    ``extra`` carries that class's own fields (e.g. ``beta``).
    """
    return args_class(output_dir=str(output_dir), num_train_epochs=epochs, max_steps=max_steps,
                      per_device_train_batch_size=batch_size,
                      gradient_accumulation_steps=accumulation, learning_rate=learning_rate,
                      weight_decay=weight_decay, max_grad_norm=max_grad_norm, seed=seed,
                      logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                      use_cpu=str(device).startswith("cpu"), dataloader_pin_memory=False,
                      **extra)


def quiet(trainer: Trainer) -> Trainer:
    """Drop the callback that prints log dicts on stdout (the CLI's stdout is JSON)."""
    trainer.remove_callback(PrinterCallback)
    return trainer


class _Epochs:
    """A 'data loader' whose n-th iteration yields ``epoch_batches(n)``."""

    def __init__(self, epoch_batches: Callable[[int], list[dict]], per_epoch: int) -> None:
        self._epoch_batches, self._per_epoch, self._epoch = epoch_batches, per_epoch, 0

    def __len__(self) -> int:
        return self._per_epoch

    def __iter__(self):
        batches = self._epoch_batches(self._epoch)
        self._epoch += 1
        return iter(batches)


class BatchTrainer(AutocastMixin, Trainer):
    """A ``Trainer`` fed ready-made micro-batches, with our loss (already scaled per step);
    bf16 autocast when ``precision="bf16"`` (:mod:`.precision`)."""

    loss_is_scaled_for_ga = True

    def __init__(self, *, epoch_batches: Callable[[int], list[dict]], batches_per_epoch: int,
                 loss: Callable[[object, dict], object], precision: str = "fp32",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.precision = precision
        self._loader = _Epochs(epoch_batches, batches_per_epoch)
        self._loss = loss
        quiet(self)

    def get_train_dataloader(self):
        return self._loader

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return self._loss(model, inputs)
