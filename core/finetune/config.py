"""LoRA training settings, validated, with target modules chosen per model architecture.

The defaults suit the offline SmolLM2-135M on two CPU cores: rank 8 on the attention query and
value projections (460,800 trainable parameters, 0.34 % of the model), a learning rate high
enough to move a small adapter in one or two epochs. This module validates and describes; it
trains nothing (see :mod:`core.finetune.train`).

Example:
    >>> LoraSettings(rank=8, alpha=16).scaling
    2.0
    >>> default_target_modules("t5")
    ('q', 'v')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.errors import UserError

DATA_MODES = ("chunks", "paraphrases", "qa")
DATA_MODE_LABELS = {"chunks": "Chunks", "paraphrases": "Chunks + paraphrases", "qa": "QA pairs"}
#: What each data mode trains on (Markdown; shown beside the choice on the Fine-tune page).
DATA_MODE_HELP = {
    "chunks": "Unsupervised next-token training on the knowledge base's chunks (the very texts "
              "RAG retrieves), as in Ovadia et al. (2024).",
    "paraphrases": "Each chunk plus N rewordings. Offline there is no paraphrase model, so "
                   "rewordings are made either by **templates** (deterministic: sentences "
                   "reordered, restated as 'According to <doc>, …', or listed as key facts; "
                   "the words inside each sentence are unchanged) or by **the generator "
                   "itself**, prompted to reword each chunk keeping names, numbers and dates "
                   "(slow on CPU; rewordings that lose a number are discarded and replaced by "
                   "a template).",
    "qa": "Supervised question → answer pairs from the QA set's **train split only** (test "
          "questions are never trained on), formatted with the chat template; the loss "
          "covers only the answer tokens.",
}

#: Attention projections LoRA attaches to, by ``config.model_type`` (Hu et al. 2021 adapt the
#: query and value projections; these are those layers' names in each transformers family).
TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "llama": ("q_proj", "v_proj"),
    "mistral": ("q_proj", "v_proj"),
    "mixtral": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
    "qwen3": ("q_proj", "v_proj"),
    "gemma": ("q_proj", "v_proj"),
    "gemma2": ("q_proj", "v_proj"),
    "gemma3_text": ("q_proj", "v_proj"),
    "phi3": ("qkv_proj",),
    "gpt2": ("c_attn",),
    "gpt_neox": ("query_key_value",),
    "t5": ("q", "v"),
    "mt5": ("q", "v"),
    "bart": ("q_proj", "v_proj"),
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
}


def default_target_modules(model_type: str) -> tuple[str, ...]:
    """LoRA target modules for an architecture; ``q_proj``/``v_proj`` when it is unknown.

    Example: ``default_target_modules("gpt2") -> ('c_attn',)``.
    """
    return TARGET_MODULES.get(model_type, ("q_proj", "v_proj"))


@dataclass(frozen=True)
class LoraSettings:
    """Everything a LoRA run needs besides the model and the data."""

    rank: int = field(default=8, metadata={"help": "LoRA rank r (size of the low-rank update)."})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha; the update is scaled by "
                                                     "alpha / r."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: tuple[str, ...] = field(
        default=(), metadata={"help": "Module names to adapt; empty = per-architecture default."})
    epochs: int = field(default=2, metadata={"help": "Passes over the training examples."})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW peak learning rate."})
    batch_size: int = field(default=4, metadata={"help": "Examples per optimiser step."})
    micro_batch_size: int = field(default=1, metadata={
        "help": "Examples per forward/backward pass; a step accumulates batch_size / "
                "micro_batch_size of them. Cancelling takes effect between micro-batches."})
    max_length: int = field(default=256, metadata={"help": "Tokens per example (truncated)."})
    data_mode: str = field(default="chunks", metadata={
        "help": "chunks (unsupervised LM on the KB), paraphrases (chunks + rewordings) or qa "
                "(supervised QA pairs from the train split)."})
    paraphrases_per_chunk: int = field(default=3, metadata={
        "help": "Rewordings per chunk in paraphrases mode."})
    seed: int = field(default=0, metadata={"help": "Shuffling and initialisation seed."})

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.rank <= 256, f"rank must be 1..256, got {self.rank}"),
            (1 <= self.alpha <= 1024, f"alpha must be 1..1024, got {self.alpha}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (1 <= self.epochs <= 100, f"epochs must be 1..100, got {self.epochs}"),
            (0.0 < self.learning_rate <= 1.0,
             f"learning_rate must be in (0, 1], got {self.learning_rate}"),
            (1 <= self.batch_size <= 256, f"batch_size must be 1..256, got {self.batch_size}"),
            (1 <= self.micro_batch_size <= 256,
             f"micro_batch_size must be 1..256, got {self.micro_batch_size}"),
            (16 <= self.max_length <= 8192,
             f"max_length must be 16..8192, got {self.max_length}"),
            (self.data_mode in DATA_MODES,
             f"data_mode must be one of {'|'.join(DATA_MODES)}, got {self.data_mode!r}"),
            (1 <= self.paraphrases_per_chunk <= 10,
             f"paraphrases_per_chunk must be 1..10, got {self.paraphrases_per_chunk}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        modules = tuple(self.target_modules)
        for name in modules:
            if not name or not name.replace("_", "").replace(".", "").isalnum():
                raise UserError(f"target module names are identifiers like q_proj, got {name!r}")
        object.__setattr__(self, "target_modules", modules)

    @property
    def scaling(self) -> float:
        """The factor LoRA multiplies its update by: alpha / r (Hu et al. 2021, eq. 3)."""
        return self.alpha / self.rank

    def modules_for(self, model_type: str) -> tuple[str, ...]:
        """The configured target modules, or the architecture's default when none are set."""
        return self.target_modules or default_target_modules(model_type)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LoraSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "target_modules" in known:
            known["target_modules"] = tuple(known["target_modules"] or ())  # type: ignore[arg-type]
        return cls(**known)  # type: ignore[arg-type]
