"""The one LoRA spec (rank, alpha, dropout, target modules) every LoRA trainer uses.

Knowledge fine-tuning (:class:`core.finetune.config.LoraSettings` extends it with its training
fields) and feedback learning (:class:`core.finetune.preference.LearnConfig` holds one) build
their peft ``LoraConfig`` here. Empty target modules mean peft's own default for the
architecture (``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``, what
``LoraConfig(target_modules=None)`` picks): nothing is re-typed here. Left out: training
hyper-parameters (epochs, learning rate, batch), which stay with each feature's config.

Example:
    >>> LoraSpec(rank=8, alpha=16).scaling
    2.0
    >>> default_targets("llama"), default_targets("bert"), default_targets("no-such-arch")
    (('q_proj', 'v_proj'), ('query', 'value'), ())
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError

ALL_LINEAR = "all-linear"  #: peft's shorthand: every linear layer except the output head


def default_targets(model_type: str) -> tuple[str, ...]:
    """peft's default LoRA target modules for ``config.model_type``; () when it has none."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft

    return tuple(peft.get(model_type) or ())


def generator_architecture(settings) -> str | None:
    """``model_type`` of the configured generator, read from its config.json without loading
    (or converting) weights; None when that file is not on disk yet."""
    from core.model_sources import SMOLLM2_FOLDER

    spec = settings.generator_model.strip()
    if spec.startswith("builtin:"):  # the one built-in generator, converted on first load
        folder = Path(settings.models_dir) / SMOLLM2_FOLDER
    else:
        folder = Path(spec).expanduser()
    try:
        return json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class LoraSpec:
    """What LoRA adds to a model (Hu et al. 2021): ``W + (alpha / r) · B A`` on each target."""

    rank: int = field(default=8, metadata={"help": "LoRA rank r (size of the low-rank update)."})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha; the update is scaled by "
                                                     "alpha / r."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: tuple[str, ...] = field(
        default=(), metadata={"help": "Module names to adapt; empty = peft's default for the "
                                      "architecture; all-linear = every linear layer but the "
                                      "output head (peft's shorthand)."})

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.rank <= 256, f"rank must be 1..256, got {self.rank}"),
            (1 <= self.alpha <= 1024, f"alpha must be 1..1024, got {self.alpha}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        modules = tuple(self.target_modules or ())
        if ALL_LINEAR in modules and len(modules) > 1:
            raise UserError(f"{ALL_LINEAR} stands alone: it already names every linear layer")
        for name in modules:
            if name == ALL_LINEAR:
                continue
            if not name or not name.replace("_", "").replace(".", "").isalnum():
                raise UserError(f"target module names are identifiers like q_proj, got {name!r}")
        object.__setattr__(self, "target_modules", modules)

    @property
    def scaling(self) -> float:
        """The factor LoRA multiplies its update by: alpha / r (Hu et al. 2021, eq. 3)."""
        return self.alpha / self.rank

    @property
    def spec(self) -> LoraSpec:
        """Just the LoRA part (a subclass's training fields dropped)."""
        return LoraSpec(self.rank, self.alpha, self.dropout, self.target_modules)

    def modules_for(self, model_type: str) -> tuple[str, ...]:
        """The configured target modules, else peft's default for ``model_type``."""
        return self.target_modules or default_targets(model_type)

    def peft_config(self, model, *, task_type: str):
        """A peft ``LoraConfig`` for ``model``; UserError naming any module it lacks.

        ``task_type`` is peft's: ``"CAUSAL_LM"``, ``"SEQ_2_SEQ_LM"``, ``"SEQ_CLS"``.
        """
        from peft import LoraConfig

        model_type = getattr(model.config, "model_type", "")
        modules = self.modules_for(model_type)
        if not modules:
            raise UserError(f"peft has no default LoRA target modules for {model_type!r}: "
                            "name them (e.g. q_proj,v_proj)")
        if modules == (ALL_LINEAR,):
            return LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout,
                              target_modules=ALL_LINEAR, bias="none", task_type=task_type)
        names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        missing = [m for m in modules if m.rsplit(".", 1)[-1] not in names]
        if missing:
            raise UserError(f"target modules {missing} not found in {model_type or 'the model'}"
                            "; leave them empty for the default of this architecture")
        return LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(modules), bias="none", task_type=task_type)
