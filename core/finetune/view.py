"""What the Fine-tune page says about a plan, a finished run and a saved adapter.

Plain Python (no Streamlit, no model), so the page stays a recipe and the wording is testable.
Training itself is :mod:`core.finetune.pipeline`; the estimate is :mod:`core.finetune.duration`.

Example:
    >>> said = run_messages({"cancelled": True, "steps": 3, "total_steps": 10, "partial": None})
    >>> said[0]
    ('warning', 'Cancelled after 3/10 steps.')
    >>> said[1][1]
    'No step had finished, so there is nothing to keep.'
"""

from __future__ import annotations

from core.finetune.duration import Plan
from core.jobs import format_seconds


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
    if form.data_mode == "paraphrases" and form.method == "generator":
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
