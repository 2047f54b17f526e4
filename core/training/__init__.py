"""The one training stack: a LoRA spec, a trainable copy, one callback shape, one trainer.

- :mod:`.lora`: :class:`~.lora.LoraSpec` (rank, alpha, dropout, targets; empty targets =
  peft's default for the architecture), used by knowledge fine-tuning and feedback learning.
- :mod:`.copy`: :func:`~.copy.training_copy`, the one way to get a trainable model that never
  carries the app's loaded adapters.
- :mod:`.callbacks`: :class:`~.callbacks.TrainingHooks` (progress, step loss, micro-batch,
  cancel; ``TrainingHooks.for_job(job)``), :class:`~.callbacks.HooksCallback` and the
  wall-clock :class:`~.callbacks.TimeBudget`.
- :mod:`.trainer`: :class:`~.trainer.BatchTrainer` (our micro-batches and summed loss; the
  Trainer's optimiser, schedule, loss scaling, evaluation and best-checkpoint restore; under a
  data-parallel launcher each rank runs its share of every step) and the shared
  ``training_args``.

Left out: the features' data and hyper-parameters (:mod:`core.finetune`,
:mod:`core.emotions.transformer`) and the adapter registry.

Why transformers' ``Trainer`` throughout, not one plain loop: feedback learning needs TRL's
KTO and DPO trainers (Trainer subclasses; re-implementing their losses and reference-model
handling in a loop of our own would be the riskiest code in the app), so one plain loop for
all would mean writing KTO/DPO ourselves, while the Trainer covers the other two trainers
with a ``get_train_dataloader``/``compute_loss`` override (:class:`~.trainer.BatchTrainer`).
Judged on the three criteria:

- **Cancellation.** transformers 5.23's inner loop checks ``control.should_training_stop``
  after every micro-batch (``on_substep_end``, and ``on_step_end`` after the last one) and
  breaks before the next, so a cancel lands between gradient-accumulation sub-batches, as the
  plain loop did; the unfinished step is never applied (tests/finetune, tests/training).
- **Throughput** (tokens with loss per second, 4 micro-batches of 1 per step; measured on
  the team's shared 2-core CPU under a load of 4 to 7, so noisy): tiny Llama (32 wide, 10
  steps) plain loop 99 and 79 tok/s, Trainer 95 and 75; an earlier, quieter run of 50 steps
  1,412 vs 1,578 and of 5 steps 1,448 vs 1,133. Real SmolLM2-135M, 2 steps of 30-token
  windows, 2 threads: plain 3.2 and 3.3 tok/s, Trainer 3.0 and 2.2. The per-micro-batch
  cost is the same forward/backward; the Trainer adds about 0.1-2 s of set-up per run
  (accelerate state, argument checks), which is noise next to a real run.
- **Test speed.** The same set-up cost per training call (0.1-2 s on the tiny models):
  tests/finetune/test_train_adapters.py took 81 s on the loaded machine (not timed against
  the plain loop side by side); each tiny-model training test stays a few seconds.
"""
