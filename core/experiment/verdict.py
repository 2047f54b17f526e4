"""The experiment's verdict in words, written from its numbers by templates (no model).

Every sentence is filled from the result: the best mode on answer hit with its interval, the
paired verdicts that decide the question the product exists for (RAG vs fine-tuning, what each
adds to the other, whether a model beats the no-model baseline), known vs new questions, cost
(training minutes, serving memory at int8, p50 latency) and freshness. The headline follows
the paired verdict of rag vs finetuned on answer hit: a mode is said to win only when its
interval excludes 0; otherwise the headline says no difference was detected (the cost and
freshness lines say what else separates them). Left out: any number not in the result.

Example:
    >>> headline({"a": "rag", "b": "finetuned", "delta": 0.3, "ci95": [0.1, 0.5],
    ...           "verdict": "rag beats finetuned by 0.30 [0.10, 0.50]"}, 20)[:58]
    'On 20 questions from your documents, RAG beats fine-tuning'
"""

from __future__ import annotations

from collections.abc import Sequence

from core.evaluation.intervals import format_interval, verdict_words

METRIC = "answer_hit"
#: The pairs the verdict speaks about, in order, with what each pair answers.
KEY_PAIRS = (("rag", "finetuned", "RAG vs fine-tuning"),
             ("finetuned+rag", "rag", "what the adapter adds to RAG"),
             ("finetuned", "base", "what fine-tuning taught the model"),
             ("rag", "extractive", "the model reading vs the no-model sentence picker"))


def find(comparisons: Sequence[dict], a: str, b: str, metric: str = METRIC) -> dict | None:
    """The comparison of ``a`` and ``b`` on ``metric`` (either order: a swapped one is
    returned flipped: delta, interval and verdict words from ``a``'s side)."""
    for c in comparisons:
        if c["metric"] != metric:
            continue
        if (c["a"], c["b"]) == (a, b):
            return c
        if (c["a"], c["b"]) == (b, a):
            low, high = c["ci95"]
            return {**c, "a": a, "b": b, "delta": -c["delta"], "ci95": [-high, -low],
                    "a_mean": c.get("b_mean"), "b_mean": c.get("a_mean"),
                    "verdict": verdict_words(a, b, -c["delta"], -high, -low)}
    return None


def headline(rag_vs_ft: dict | None, n: int) -> str:
    """One sentence: who wins RAG vs fine-tuning on answer hit, or that no winner is detected."""
    if rag_vs_ft is None:
        return f"On {n} questions from your documents, RAG and fine-tuning were not both run."
    low, high = rag_vs_ft["ci95"]
    if low > 0:
        who = "RAG beats fine-tuning"
    elif high < 0:
        who = "fine-tuning beats RAG"
    else:
        who = "no difference between RAG and fine-tuning was detected"
    return f"On {n} questions from your documents, {who}: {rag_vs_ft['verdict']} (answer hit)."


def _best(modes: dict[str, dict]) -> str | None:
    scored = [(agg.get(METRIC), m) for m, agg in modes.items() if agg.get(METRIC) is not None]
    if not scored:
        return None
    value, mode = max(scored)
    ci = format_interval((modes[mode].get("ci95") or {}).get(METRIC))
    return f"Highest answer hit: {mode}, {value:.2f} {ci}".rstrip() + "."


def _known(modes: dict[str, dict]) -> str | None:
    base = modes.get("base") or {}
    new = base.get("new_only")
    if not new:
        return None
    n_all, n_new = base.get("n", 0), new.get("n", 0)
    parts = []
    for mode in ("rag", "finetuned", "finetuned+rag"):
        value = ((modes.get(mode) or {}).get("new_only") or {}).get(METRIC)
        if value is not None:
            parts.append(f"{mode} {value:.2f}")
    said = f"The base model alone already answered {n_all - n_new} of {n_all} questions"
    return said + (f"; on the other {n_new}: " + ", ".join(parts) + "." if parts and n_new
                   else ".")


def _cost(costs: dict) -> str | None:
    training = costs.get("training") or {}
    memory = costs.get("serving_memory_mib") or {}
    lat = costs.get("latency") or {}
    bits = []
    if training.get("minutes") is not None:
        bits.append(f"fine-tuning took {training['minutes']:.1f} min at "
                    f"{training.get('tokens_per_second') or 0:.0f} tokens/s")
    for mode in ("rag", "finetuned"):
        mib = (memory.get(mode) or {}).get("int8")
        p50 = (lat.get(mode) or {}).get("p50_seconds")
        if mib is not None and p50 is not None:
            bits.append(f"{mode} serves in about {mib:.0f} MiB at int8 with a p50 latency of "
                        f"{p50:.2f} s")
    return ("Cost: " + "; ".join(bits) + ".") if bits else None


def _freshness(fresh: dict) -> str | None:
    if not fresh or fresh.get("skipped"):
        return f"Freshness was not measured: {fresh.get('skipped')}." if fresh else None
    modes = fresh.get("modes", {})
    said = []
    for mode in ("rag", "finetuned", "finetuned+rag"):
        m = modes.get(mode)
        if m is None:
            continue
        what = ("the new value" if m["says_new"] else "the old value" if m["says_old"]
                else "neither value")
        said.append(f"{mode} gave {what}")
    retrain = fresh.get("retrain_seconds")
    tail = f"; retraining takes about {retrain / 60:.1f} min" if retrain else ""
    return (f"After changing {fresh['old']} to {fresh['new']} in {fresh['document']} and "
            f"re-indexing ({fresh['reindex_seconds']:.1f} s{tail}): " + ", ".join(said) + ".")


def write_verdict(modes: dict[str, dict], comparisons: Sequence[dict], costs: dict,
                  freshness: dict, n: int) -> dict:
    """{"headline", "lines", "pairs"}: the sentences above and the key paired verdicts."""
    pairs = []
    for a, b, meaning in KEY_PAIRS:
        found = find(comparisons, a, b)
        if found is not None:
            pairs.append({"a": a, "b": b, "question": meaning, "delta": found["delta"],
                          "ci95": found["ci95"], "verdict": found["verdict"]})
    lines = [_best(modes)]
    lines += [f"{p['question'][0].upper() + p['question'][1:]}: {p['verdict']}." for p in pairs]
    lines += [_known(modes), _cost(costs), _freshness(freshness)]
    return {"headline": headline(find(comparisons, "rag", "finetuned"), n),
            "lines": [line for line in lines if line], "pairs": pairs}
