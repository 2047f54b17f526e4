"""The Fine-tune page's settings: defaults, kept across reloads, the suggested adapter name,
and the background job they start.

The values of the last run started are saved in ``<data dir>/finetune/form.json``, so a
reload (or a new session) shows the settings of that run; values that never started a run
(a typo, a refused name) are not written. The adapter name follows the
knowledge base and data mode (``<kb>-<data mode>``) until the user types a name of their own.
Rendering is the page's; this module holds no Streamlit.

Example:
    >>> adapter_name_for("Harrowmere Docs", "qa")
    'harrowmere-docs-qa'
    >>> follow_name("default-chunks", "default-chunks", "default", "qa")
    'default-qa'
    >>> follow_name("my-own", "default-chunks", "default", "qa")
    'my-own'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.atomic import write_text_atomic
from core.finetune.config import LoraSettings

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
    """Everything the page asks for; field names are the page's widget keys without ``ft_``."""

    kb: str = "default"
    name: str = ""
    data_mode: str = _D.data_mode
    method: str = "templates"
    per_chunk: int = _D.paraphrases_per_chunk
    minutes: float = _D.minutes
    epochs: int = _D.epochs
    docs: list = field(default_factory=list)  #: documents to train on; empty = all
    lr: float = _D.learning_rate
    batch: int = _D.batch_size
    max_len: int = _D.max_length
    rank: int = _D.rank
    alpha: int = _D.alpha
    dropout: float = _D.dropout
    modules: str = ""
    overwrite: bool = False

    def lora(self) -> LoraSettings:
        """Validated LoRA settings (UserError naming the bad value)."""
        return LoraSettings(rank=int(self.rank), alpha=int(self.alpha),
                            dropout=float(self.dropout), epochs=int(self.epochs),
                            minutes=float(self.minutes),
                            learning_rate=float(self.lr), batch_size=int(self.batch),
                            max_length=int(self.max_len), data_mode=self.data_mode,
                            paraphrases_per_chunk=int(self.per_chunk),
                            target_modules=tuple(m.strip() for m in self.modules.split(",")
                                                 if m.strip()))

    def work(self, settings):
        """The job body for :meth:`core.jobs.JobRegistry.start`: train and save (or hold) the
        adapter, reporting every optimiser step and micro-batch."""
        from core import names
        from core.finetune.pipeline import run_finetune
        from core.training.callbacks import TrainingHooks

        lora, name = self.lora(), names.suggest_name(self.name)  # "My Adapter" -> "my-adapter"
        kb, method, overwrite = self.kb, self.method, self.overwrite
        documents = set(self.docs) or None

        def run(job):
            def micro(done: int, total: int) -> None:
                step, loss = job.steps[-1] if job.steps else (0, float("nan"))
                job.progress(done / total, f"step {step}/{job.total_steps or '?'} · "
                                           f"micro-batch {done}/{total} · loss {loss:.4f}")

            return run_finetune(settings, kb, name, lora, paraphrase_method=method,
                                overwrite=overwrite, documents=documents,
                                hooks=TrainingHooks.for_job(job, micro_batch=micro))

        return run


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


def load_form(settings) -> FinetuneForm:
    """The last saved values; defaults for missing, unknown or mistyped ones."""
    try:
        saved = json.loads(form_path(settings).read_text())
    except (OSError, ValueError):
        saved = {}
    form = FinetuneForm()
    for f in fields(FinetuneForm):
        value, default = saved.get(f.name) if isinstance(saved, dict) else None, getattr(form,
                                                                                         f.name)
        if isinstance(value, type(default)) or (isinstance(default, float)
                                                and type(value) is int):
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
    ``ft_kb="default"`` and ``ft_name="default-chunks"``.
    """
    saved = load_form(settings)
    for key, value in asdict(saved).items():
        state.setdefault(f"ft_{key}", value)
    if kbs and state["ft_kb"] not in kbs:
        state["ft_kb"] = "default" if "default" in kbs else kbs[0]
        state["ft_docs"] = []  # another base's documents
    state.setdefault("_ft_auto", adapter_name_for(saved.kb, saved.data_mode))
    state["ft_name"] = follow_name(state["ft_name"], state["_ft_auto"], state["ft_kb"] or "",
                                   state["ft_data_mode"])
    state["_ft_auto"] = adapter_name_for(state["ft_kb"] or "", state["ft_data_mode"])


def from_state(state: Mapping) -> FinetuneForm:
    """The form the ``ft_*`` keys of ``state`` describe."""
    return FinetuneForm(**{f.name: state[f"ft_{f.name}"] for f in fields(FinetuneForm)})
