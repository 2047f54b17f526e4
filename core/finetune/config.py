"""Knowledge fine-tuning settings: the one LoRA spec plus the training fields, validated.

The LoRA part (rank, alpha, dropout, target modules; empty targets = peft's default for the
architecture) is :class:`core.training.lora.LoraSpec`; this class adds epochs, learning rate,
batching and the data mode. The defaults suit the offline SmolLM2-135M on two CPU cores: rank
8 on the attention query and value projections (460,800 trainable parameters, 0.34 % of the
model), a learning rate high enough to move a small adapter in one or two epochs. This module
validates and describes; it trains nothing (see :mod:`core.finetune.train`).

Example:
    >>> LoraSettings(rank=8, alpha=16).scaling
    2.0
    >>> LoraSettings().modules_for("t5")
    ('q', 'v')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.errors import UserError
from core.training.lora import ALL_LINEAR, LoraSpec
from core.training.precision import PRECISIONS

DATA_MODES = ("knowledge", "chunks", "paraphrases", "qa")
RECIPES = ("classic", "full")
ORDERS = ("shuffled", "questions-first")
DATA_MODE_LABELS = {"knowledge": "Knowledge recipe (documents + wordings + derived QA)",
                    "chunks": "Chunks", "paraphrases": "Chunks + paraphrases", "qa": "QA pairs"}
#: What each data mode trains on (Markdown; shown beside the choice on the Fine-tune page).
DATA_MODE_HELP = {
    "knowledge": "The default. Each chunk, several rewordings of it (sentences reordered and "
                 "restated), and questions derived from its sentences: every number, name and "
                 "code becomes a fill-in-the-blank question asked the way the fine-tuned mode "
                 "asks (half of them also with the chunk as context), plus the QA file's "
                 "train split for these documents. A few derived questions are held out to "
                 "stop training when new wordings stop improving. Literature: Ovadia et al. "
                 "2024, Allen-Zhu & Li 2023, Jiang et al. 2024.",
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


@dataclass(frozen=True)
class LoraSettings(LoraSpec):
    """Everything a LoRA run needs besides the model and the data (the LoRA part inherited)."""

    epochs: int = field(default=0, metadata={
        "help": "Passes over the training examples; 0 = as many as --minutes allows."})
    minutes: float = field(default=10.0, metadata={
        "help": "Time budget for training when epochs is 0: epochs = budget x measured "
                "tokens/s / tokens per epoch; stops early when held-out wordings stop "
                "improving."})
    precision: str = field(default="auto", metadata={
        "help": "auto (bf16 autocast where the CPU/GPU runs bf16 natively), fp32 or bf16."})
    packing: bool = field(default=True, metadata={
        "help": "Pack several examples per max-length row (each attends only to itself)."})
    target_modules: tuple[str, ...] = field(default=(ALL_LINEAR,), metadata={
        "help": "Module names to adapt; all-linear (the default here: attention and MLP, "
                "measured to learn facts faster than attention alone) = every linear layer "
                "but the output head; empty = peft's default for the architecture."})
    learning_rate: float = field(default=3e-3, metadata={"help": "AdamW peak learning rate."})
    batch_size: int = field(default=8, metadata={
        "help": "Examples (packed rows when packing) per optimiser step."})
    micro_batch_size: int = field(default=4, metadata={
        "help": "Examples per forward/backward pass; a step accumulates batch_size / "
                "micro_batch_size of them. Cancelling takes effect between micro-batches."})
    max_length: int = field(default=256, metadata={"help": "Tokens per example (truncated)."})
    data_mode: str = field(default="knowledge", metadata={
        "help": "knowledge (documents + rewordings + derived QA: the default), chunks "
                "(unsupervised LM on the KB), paraphrases (chunks + rewordings) or qa "
                "(supervised QA pairs from the train split)."})
    paraphrases_per_chunk: int = field(default=3, metadata={
        "help": "Rewordings per chunk in paraphrases mode."})
    recipe: str = field(default="classic", metadata={
        "help": "Knowledge recipe: classic (chunks, wordings, clozes, recall, train-split QA) "
                "or full (adds contrastive look-alike questions, entity-relation rewrites and "
                "question-shaped clozes; not yet shown better on a quiet machine)."})
    order: str = field(default="shuffled", metadata={
        "help": "Example order within each epoch: questions-first (every prompted example "
                "before the documents, each part shuffled; Jiang et al. 2024) or shuffled."})
    context_share: float = field(default=0.5, metadata={
        "help": "Share of derived questions also asked with their evidence sentence in the "
                "RAG prompt (so the adapter learns to read retrieved text), 0..1."})
    seed: int = field(default=0, metadata={"help": "Shuffling and initialisation seed."})

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = [
            (0 <= self.epochs <= 100, f"epochs must be 0..100 (0 = from --minutes), got "
                                      f"{self.epochs}"),
            (0.25 <= self.minutes <= 1440, f"minutes must be 0.25..1440, got {self.minutes}"),
            (self.precision in PRECISIONS,
             f"precision must be one of {'|'.join(PRECISIONS)}, got {self.precision!r}"),
            (0.0 < self.learning_rate <= 1.0,
             f"learning_rate must be in (0, 1], got {self.learning_rate}"),
            (1 <= self.batch_size <= 256, f"batch_size must be 1..256, got {self.batch_size}"),
            (1 <= self.micro_batch_size <= 256,
             f"micro_batch_size must be 1..256, got {self.micro_batch_size}"),
            (16 <= self.max_length <= 8192,
             f"max_length must be 16..8192, got {self.max_length}"),
            (self.data_mode in DATA_MODES,
             f"data_mode must be one of {'|'.join(DATA_MODES)}, got {self.data_mode!r}"),
            (self.recipe in RECIPES,
             f"recipe must be one of {'|'.join(RECIPES)}, got {self.recipe!r}"),
            (self.order in ORDERS,
             f"order must be one of {'|'.join(ORDERS)}, got {self.order!r}"),
            (0.0 <= self.context_share <= 1.0,
             f"context_share must be 0..1, got {self.context_share}"),
            (1 <= self.paraphrases_per_chunk <= 10,
             f"paraphrases_per_chunk must be 1..10, got {self.paraphrases_per_chunk}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)

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
