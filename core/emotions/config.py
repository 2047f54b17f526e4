"""What an emotion-model training run is asked to do: :class:`TrainConfig`, validated.

Kept apart from :mod:`core.emotions.training` (which imports numpy, scikit-learn and pandas)
so the CLI can build its ``emotions train`` options from these fields without those imports.
It trains nothing.

Example:
    >>> TrainConfig(model="logreg", name="page-logreg").preprocess_config().lemmatize
    True
    >>> TrainConfig(model="logreg", name="a.b")
    Traceback (most recent call last):
    ...
    core.errors.UserError: model name 'a.b' is not allowed; ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.emotions.preprocess import TRANSFORMER_CONFIG, PreprocessConfig
from core.errors import UserError
from core.names import check_name

#: The classical heads (:data:`core.emotions.classical.CLASSICAL`), a logistic regression on
#: frozen sentence embeddings, the mean of those two kinds (:mod:`core.emotions.hybrid`), the
#: fine-tuned encoder, and the mean of it and the TF-IDF logistic regression.
MODELS = ("logreg", "random_forest", "linear_svc", "stacking", "sentence_logreg", "hybrid",
          "transformer", "transformer_hybrid")
#: Models that read lightly cleaned text (casing, stopwords, punctuation kept), not TF-IDF.
ENCODER_MODELS = ("sentence_logreg", "transformer")
#: Fine-tuned transformer copies averaged by default (each its own seed; docs/emotions.md
#: measures 1 against 2).
ENSEMBLE_SIZE = 2

#: Weight of the TF-IDF teacher's soft targets when fine-tuning the transformer (knowledge
#: distillation, core.emotions.distill; docs/emotions.md measures 0 against 0.5).
DISTILL = 0.5


#: Which regressions teach the transformer when distilling (core.emotions.distill): ``logreg``,
#: the TF-IDF (+ emoji) logistic regression; ``hybrid``, it and the logistic regression on
#: frozen sentence embeddings averaged (the ``hybrid`` model's pair; docs/emotions.md measures
#: both).
TEACHERS = ("logreg", "hybrid")
TEACHER = "logreg"


def check_distill(weight: float) -> None:
    """The one rule for the distillation weight: 0 (labels only) up to, not including, 1."""
    if not 0 <= weight < 1:
        raise UserError(f"distill must be in [0, 1), got {weight}")


def check_epochs(n: int) -> None:
    """The one rule for the transformer's most epochs: 1 to 50."""
    if not 1 <= n <= 50:
        raise UserError(f"epochs must be between 1 and 50, got {n}")


def check_ensemble_size(n: int) -> None:
    """The one rule for how many fine-tuned copies a transformer may average: 1 to 5."""
    if not 1 <= n <= 5:
        raise UserError(f"ensemble_size must be between 1 and 5, got {n}")


@dataclass(frozen=True)
class TrainConfig:
    model: str = field(metadata={"help": "the model to train: " + " | ".join(MODELS)})
    name: str = field(metadata={"help": "model name (1-64 of a-z, 0-9, _ and -)"})
    oversample: bool = field(default=False, metadata={
        "help": "random oversampling of minority classes (training split only)"})
    cv_folds: int = field(default=3, metadata={
        "help": "stratified cross-validation folds on the training split (classical models)"})
    test_size: float = field(default=0.2, metadata={"help": "held-out test fraction"})
    seed: int = field(default=0, metadata={"help": "split, fold and initialisation seed"})
    epochs: int = field(default=6, metadata={
        "help": "transformer: most epochs (early stopping on a validation split may stop it "
                "sooner)"})
    ensemble_size: int = field(default=ENSEMBLE_SIZE, metadata={
        "help": "transformer: fine-tuned copies averaged, each with its own seed (the first "
                "picks the epoch count by early stopping); 1 = one model"})
    distill: float = field(default=DISTILL, metadata={
        "help": "transformer: weight of the TF-IDF logistic regression's out-of-fold "
                "probabilities as soft targets (knowledge distillation); 0 = the labels alone"})
    teacher: str = field(default=TEACHER, metadata={
        "help": "transformer: the distillation teacher, " + " | ".join(TEACHERS) + " (logreg: "
                "the TF-IDF logistic regression; hybrid: it averaged with the logistic "
                "regression on frozen sentence embeddings)"})
    preprocess: PreprocessConfig | None = field(default=None, metadata={
        "help": "preprocessing; None = the default for the model kind"})
    min_df: int = field(default=1, metadata={"help": "TF-IDF: drop terms in fewer documents"})
    group_map: dict[str, str] | None = field(default=None, metadata={
        "help": "{label: group} applied before training, kept with the model"})
    emoji_features: bool = field(default=True, metadata={
        "help": "TF-IDF models (classical and the hybrid's TF-IDF member): append the 151 "
                "emoji probabilities of a frozen fastText emoji predictor "
                "(core.emotions.emoji_signal)"})
    refit: bool = field(default=True, metadata={
        "help": "after scoring the held-out split, refit the saved model on every row with "
                "the hyperparameters chosen on the training split"})

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise UserError(f"model must be one of {'|'.join(MODELS)}, got {self.model!r}")
        check_name(self.name, "model")
        if not 2 <= self.cv_folds <= 10:
            raise UserError(f"cv_folds must be between 2 and 10, got {self.cv_folds}")
        check_epochs(self.epochs)  # checked here so a bad option fails before any work
        check_ensemble_size(self.ensemble_size)
        check_distill(self.distill)
        if self.teacher not in TEACHERS:
            raise UserError(f"teacher must be one of {'|'.join(TEACHERS)}, got {self.teacher!r}")
        if not 0.05 <= self.test_size <= 0.5:
            raise UserError(f"test_size must be between 0.05 and 0.5, got {self.test_size}")

    def preprocess_config(self) -> PreprocessConfig:
        if self.preprocess is not None:
            return self.preprocess
        return TRANSFORMER_CONFIG if self.model in ENCODER_MODELS else PreprocessConfig()
