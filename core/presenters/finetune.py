"""What the Fine-tune page asks and says: its settings (defaults, kept across reloads, the
suggested adapter name, the job parameters they give), the plan's wording, a finished run's
summary and the adapter files.

The values of the last run started are saved in ``<data dir>/finetune/form.json``, so a
reload (or a new session) shows the settings of that run; values that never started a run
(a typo, a refused name) are not written. The adapter name follows the
knowledge base and data mode (``<kb>-<data mode>``) until the user types a name of their own.
Rendering is the page's; this module holds no Streamlit. Training is
:mod:`core.finetune.pipeline`, the estimate :mod:`core.finetune.duration`.

Example:
    >>> adapter_name_for("Harrowmere Docs", "qa")
    'harrowmere-docs-qa'
    >>> follow_name("default-chunks", "default-chunks", "default", "qa")
    'default-qa'
    >>> follow_name("my-own", "default-chunks", "default", "qa")
    'my-own'
    >>> said = run_messages({"cancelled": True, "steps": 3, "total_steps": 10, "partial": None})
    >>> said[0]
    ('warning', 'Cancelled after 3/10 steps.')
    >>> said[1][1]
    'No step had finished, so there is nothing to keep.'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.atomic import write_text_atomic
from core.finetune.config import LoraSettings
from core.finetune.duration import Plan
from core.finetune.throughput import load_throughput
from core.jobs import format_seconds

_D = LoraSettings()


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an adapter (shown as the user types), or None when it can."""
    from core import names
    from core.errors import UserError

    try:
        names.suggest_name(name)
    except UserError as exc:
        return str(exc)
    return None


@dataclass
class FinetuneForm:
    """Everything the page asks for; field names are the page's widget keys without ``ft_``
    and, where a field is a LoRA setting, :class:`LoraSettings`' own names."""

    kb: str = "default"
    name: str = ""
    data_mode: str = _D.data_mode
    paraphrase_method: str = "templates"
    paraphrases_per_chunk: int = _D.paraphrases_per_chunk
    minutes: float = _D.minutes
    epochs: int = _D.epochs
    documents: list = field(default_factory=list)  #: documents to train on; empty = all
    learning_rate: float = _D.learning_rate
    batch_size: int = _D.batch_size
    max_length: int = _D.max_length
    rank: int = _D.rank
    alpha: int = _D.alpha
    dropout: float = _D.dropout
    target_modules: str = ""  #: comma-separated; empty = the recipe's default
    overwrite: bool = False

    def lora(self) -> LoraSettings:
        """Validated LoRA settings (UserError naming the bad value)."""
        return LoraSettings(rank=int(self.rank), alpha=int(self.alpha),
                            dropout=float(self.dropout), epochs=int(self.epochs),
                            minutes=float(self.minutes),
                            learning_rate=float(self.learning_rate),
                            batch_size=int(self.batch_size), max_length=int(self.max_length),
                            data_mode=self.data_mode,
                            paraphrases_per_chunk=int(self.paraphrases_per_chunk),
                            target_modules=tuple(m.strip() for m in self.target_modules.split(",")
                                                 if m.strip()))

    def job_params(self, settings) -> dict:
        """The ``finetune`` job's parameters (:func:`core.finetune.training_job.finetune_job`);
        UserError for a bad name or setting. Example: name "My Adapter" -> "my-adapter"."""
        from core import names

        return {"settings": settings, "kb": self.kb, "name": names.suggest_name(self.name),
                "lora": self.lora(), "paraphrase_method": self.paraphrase_method,
                "overwrite": self.overwrite, "documents": set(self.documents) or None}


def adapter_name_for(kb: str, data_mode: str) -> str:
    """``<kb>-<data mode>`` as a valid adapter name (a-z, 0-9, _ and -, at most 64)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", f"{kb}-{data_mode}".lower()).strip("-_")
    return slug[:64].rstrip("-_") or data_mode


def follow_name(name: str, previous_suggestion: str, kb: str, data_mode: str) -> str:
    """The new suggestion while ``name`` is empty or still the previous suggestion, else
    ``name`` (the user typed their own)."""
    if name.strip() in ("", previous_suggestion):
        return adapter_name_for(kb, data_mode)
    return name


def form_path(settings) -> Path:
    return settings.data_dir / "finetune" / "form.json"


#: Names the saved page settings used before the form took LoraSettings' names: still read.
RENAMED = {"method": "paraphrase_method", "per_chunk": "paraphrases_per_chunk",
           "docs": "documents", "lr": "learning_rate", "batch": "batch_size",
           "max_len": "max_length", "modules": "target_modules"}


def load_form(settings) -> FinetuneForm:
    """The last saved values; defaults for missing, unknown or mistyped ones."""
    try:
        saved = json.loads(form_path(settings).read_text())
    except (OSError, ValueError):
        saved = {}
    form = FinetuneForm()
    if not isinstance(saved, dict):
        saved = {}
    saved = {RENAMED.get(k, k): v for k, v in saved.items()}
    for f in fields(FinetuneForm):
        value = saved.get(f.name)
        default = getattr(form, f.name)
        int_for_float = isinstance(default, float) and type(value) is int
        if isinstance(value, type(default)) or int_for_float:
            setattr(form, f.name, type(default)(value))
    return form


def save_form(settings, form: FinetuneForm) -> None:
    """Write the values when they differ from the saved ones."""
    data = asdict(form)
    path = form_path(settings)
    if path.exists() and asdict(load_form(settings)) == data:
        return
    write_text_atomic(path, json.dumps(data, indent=1))


def seed_state(state: MutableMapping, settings, kbs: list[str]) -> None:
    """Fill the page's ``ft_*`` widget keys in ``state`` (``st.session_state`` or a dict).

    Missing keys get the last saved values; a knowledge base that no longer exists falls back
    to "default" (or the first); the adapter name follows kb and data mode (see
    :func:`follow_name`). Example: a fresh state with kbs ["default"] and nothing saved gets
    ``ft_kb="default"`` and ``ft_name="default-knowledge"`` (the default data mode).
    """
    saved = load_form(settings)
    for key, value in asdict(saved).items():
        state.setdefault(f"ft_{key}", value)
    if kbs and state["ft_kb"] not in kbs:
        state["ft_kb"] = "default" if "default" in kbs else kbs[0]
        state["ft_documents"] = []  # another base's documents
    state.setdefault("_ft_auto", adapter_name_for(saved.kb, saved.data_mode))
    state["ft_name"] = follow_name(state["ft_name"], state["_ft_auto"], state["ft_kb"] or "",
                                   state["ft_data_mode"])
    state["_ft_auto"] = adapter_name_for(state["ft_kb"] or "", state["ft_data_mode"])


def from_state(state: Mapping) -> FinetuneForm:
    """The form the ``ft_*`` keys of ``state`` describe."""
    return FinetuneForm(**{f.name: state[f"ft_{f.name}"] for f in fields(FinetuneForm)})


def plan_key(settings, kb_version: int, form: FinetuneForm, lora: LoraSettings) -> tuple:
    """Everything the page's estimate depends on, as a cache key (plain strings and numbers):
    where the data lives, the generator (its tokenizer), the knowledge base and its version
    (a rebuild changes it), the documents, the LoRA settings and the recorded training speed.

    Building and tokenising the training set takes seconds, so the page computes the plan once
    per key, not on every widget change. Example: the same settings with another batch size
    give another key; ticking "Replace an adapter" (not part of the plan) gives the same one.
    """
    return (str(settings.data_dir), str(settings.lancedb_location), settings.generator_model,
            form.kb, int(kb_version), tuple(sorted(form.documents)), repr(lora),
            repr(load_throughput(settings)))


def time_estimate(plan: Plan) -> str | None:
    """The estimated training time with how it was derived (Markdown); None without a rate."""
    rate = plan.throughput
    if rate is None or plan.seconds is None:
        return None
    if plan.budget_minutes is not None:
        return (f"**Training time: at most about {plan.budget_minutes:g} min** (the budget; "
                f"{plan.epochs:g} epochs at the {rate.row_tokens_per_second:,.0f} tokens/s "
                f"measured by the {rate.source} on this machine, fewer if the held-out "
                "questions stop improving; loading the model adds a little).")
    return (f"**Estimated training time: about {format_seconds(plan.seconds)}** "
            f"({plan.train_tokens:,} tokens ÷ {rate.tokens_per_second:,.1f} training "
            f"tokens/s measured by the {rate.source} on this machine at max length "
            f"{rate.max_length}; loading the model adds a little).")


def plan_note(form) -> str | None:
    """A caveat on the plan for these settings (a FinetuneForm), None when there is none."""
    if form.data_mode == "paraphrases" and form.paraphrase_method == "generator":
        return ("Generator rewordings are counted like templates; making them adds minutes "
                "before training starts.")
    return None


def run_messages(result: dict) -> list[tuple[str, str]]:
    """[(Streamlit call, Markdown)] for a finished run's summary from ``run_finetune``."""
    if not result["cancelled"]:
        stopped = f" Stopped early: {result['stopped']}." if result.get("stopped") else ""
        return [("success", f"Saved adapter **{result['adapter']}**: final loss "
                            f"{result['train_loss']:.3f}, {result['steps']} steps "
                            f"({result.get('epochs', '?')} epochs) in "
                            f"{result['train_seconds']:.0f} s "
                            f"({result['tokens_per_second']:.0f} training tokens/s)."
                            + stopped)]
    said = [("warning", f"Cancelled after {result['steps']}/{result['total_steps']} steps.")]
    if result.get("partial") is None:
        said.append(("caption", "No step had finished, so there is nothing to keep."))
    return said


def can_keep(result: dict) -> bool:
    """Whether a cancelled run holds a trained model the user may keep (marked partial)."""
    partial = result.get("partial")
    return bool(result["cancelled"]) and partial is not None and partial.model is not None


def files_caption(files: dict[str, int]) -> str:
    """Example: {"adapter_model.safetensors": 2_500_000} -> 'Files: adapter_model.safetensors
    (2.50 MB)'."""
    return "Files: " + ", ".join(f"{k} ({v / 1e6:.2f} MB)" for k, v in files.items())
