"""The experiment as one self-contained HTML page: verdict, charts, tables, settings, provenance.

:func:`report_html` turns a saved experiment result (the dict ``experiment`` prints) into a
page that opens offline: plotly.js is embedded once (``include_plotlyjs=True`` on the first
chart, ``False`` on the others), no stylesheet or script is fetched. Every text that comes from
the user's documents or settings (questions, answers, document names, values) is escaped with
:func:`html.escape`; chart labels go through plotly's JSON. Charts: answer hit per mode with
its 95 % interval, p50 / p95 latency per mode, serving memory per setup at fp16 / int8 / int4,
and the fine-tuning loss when the run trained. Left out: computing anything (numbers come
from the result).

Example:
    >>> "<script>" in cell("<script>alert(1)</script>")
    False
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from core.evaluation.intervals import format_interval
from core.experiment.costs import SERVING_DTYPES

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid
#ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}h1{font-size:1.6em}
.verdict{background:#f5f8ff;border-left:4px solid #4a6fd8;padding:.5em 1em}.small{color:#666;
font-size:13px}"""


def cell(value: object) -> str:
    """A table cell's escaped text (floats to 3 places, None as an em dash)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) for v in value)):
        return format_interval(value)  # an interval
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return html.escape(str(value))


def table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p class='small'>none</p>"
    columns = list(columns or rows[0].keys())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figures(result: dict) -> list:
    import plotly.graph_objects as go  # a page-sized import: only when a report is written

    modes = result.get("modes") or {}
    names = list(modes)
    figures = []
    hits = [modes[m].get("answer_hit") for m in names]
    cis = [(modes[m].get("ci95") or {}).get("answer_hit") or [v, v] for m, v in zip(
        names, hits, strict=True)]
    fig = go.Figure(go.Bar(
        x=names, y=[h or 0 for h in hits],
        error_y={"type": "data", "symmetric": False,
                 "array": [(c[1] - (h or 0)) if c[1] is not None else 0
                           for c, h in zip(cis, hits, strict=True)],
                 "arrayminus": [((h or 0) - c[0]) if c[0] is not None else 0
                                for c, h in zip(cis, hits, strict=True)]}))
    fig.update_layout(title="Answer hit by mode (95 % interval)", yaxis_range=[0, 1],
                      height=360)
    figures.append(fig)
    latency = (result.get("costs") or {}).get("latency") or {}
    if latency:
        fig = go.Figure()
        for key, label in (("p50_seconds", "p50"), ("p95_seconds", "p95")):
            fig.add_bar(x=list(latency), y=[latency[m].get(key) or 0 for m in latency],
                        name=label)
        fig.update_layout(title="Seconds per question", barmode="group", height=340)
        figures.append(fig)
    memory = (result.get("costs") or {}).get("serving_memory_mib") or {}
    if memory:
        fig = go.Figure()
        for dtype in SERVING_DTYPES:
            fig.add_bar(x=list(memory), y=[memory[m].get(dtype) or 0 for m in memory],
                        name=dtype)
        fig.update_layout(title="Serving memory per setup (MiB, estimated)", barmode="group",
                          height=340)
        figures.append(fig)
    losses = ((result.get("costs") or {}).get("training") or {}).get("losses") or []
    if losses:
        fig = go.Figure(go.Scatter(x=list(range(1, len(losses) + 1)), y=losses,
                                   mode="lines+markers"))
        fig.update_layout(title="Fine-tuning loss per step", xaxis_title="step", height=320)
        figures.append(fig)
    return figures


def _mode_rows(modes: dict) -> list[dict]:
    out = []
    for mode, agg in modes.items():
        ci = agg.get("ci95") or {}
        new = agg.get("new_only") or {}
        out.append({"mode": mode, "n": agg.get("n"), "answer hit": agg.get("answer_hit"),
                    "95 % CI": format_interval(ci.get("answer_hit")),
                    "exact match": agg.get("exact_match"), "F1": agg.get("f1"),
                    "multiple choice": agg.get("mc_accuracy"),
                    "MC 95 % CI": format_interval(ci.get("mc_accuracy")),
                    "new-only n": new.get("n"), "new-only hit": new.get("answer_hit")})
    return out


def _cost_rows(costs: dict) -> list[dict]:
    memory, latency = costs.get("serving_memory_mib") or {}, costs.get("latency") or {}
    return [{"mode": m, **{f"{d} MiB": (memory.get(m) or {}).get(d) for d in SERVING_DTYPES},
             "p50 s": (latency.get(m) or {}).get("p50_seconds"),
             "p95 s": (latency.get(m) or {}).get("p95_seconds"),
             "tokens / answer": (latency.get(m) or {}).get("tokens_per_answer")}
            for m in dict.fromkeys([*memory, *latency])]


def report_html(result: dict) -> str:
    """The whole page (see the module docstring)."""
    import plotly.io as pio

    verdict = result.get("verdict") or {}
    report = result.get("report") or {}
    charts = []
    for i, fig in enumerate(_figures(result)):
        charts.append(pio.to_html(fig, include_plotlyjs=i == 0, full_html=False,
                                  config={"displaylogo": False}))
    questions = result.get("questions") or {}
    fresh = result.get("freshness") or {}
    fresh_rows = [{"mode": m, **v} for m, v in (fresh.get("modes") or {}).items()]
    costs = result.get("costs") or {}
    training = {k: v for k, v in (costs.get("training") or {}).items() if k != "losses"}
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{cell(report.get('title') or 'NLP Lab experiment')}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{cell(report.get('title') or 'NLP Lab experiment')}</h1>",
        f"<div class='verdict'><p><b>{cell(verdict.get('headline', ''))}</b></p><ul>"
        + "".join(f"<li>{cell(line)}</li>" for line in verdict.get("lines", []))
        + "</ul></div>",
        "<h2>Scores</h2>", table(_mode_rows(result.get("modes") or {})),
        *charts[:1],
        "<h2>Paired verdicts (answer hit)</h2>",
        table([c for c in result.get("comparisons") or [] if c.get("metric") == "answer_hit"],
              ["a", "b", "n", "delta", "ci95", "verdict"]),
        "<h2>Cost</h2>", table([training]) if training else "",
        f"<p class='small'>Adapter: {cell((costs.get('adapter') or {}).get('mib'))} MiB. "
        f"Memory: {cell(costs.get('memory_basis'))}.</p>",
        table(_cost_rows(costs)), *charts[1:],
        "<h2>Freshness</h2>",
        (f"<p>{cell(fresh.get('skipped'))}</p>" if fresh.get("skipped") else
         f"<p>Changed <b>{cell(fresh.get('old'))}</b> to <b>{cell(fresh.get('new'))}</b> in "
         f"{cell(fresh.get('document'))}; re-index {cell(fresh.get('reindex_seconds'))} s, "
         f"retrain {cell(fresh.get('retrain_seconds'))} s.</p><p>Question: "
         f"{cell(fresh.get('question'))}</p>" + table(fresh_rows)),
        f"<h2>Questions ({cell(questions.get('n'))})</h2>",
        table(questions.get("items") or [], ["id", "type", "question", "answer", "choices",
                                             "source"]),
        "<h2>Settings and provenance</h2>",
        table([{"setting": k, "value": v} for k, v in (report.get("settings") or {}).items()]),
        table([{"what": k, "value": v} for k, v in (report.get("provenance") or {}).items()]),
        "</body></html>",
    ]
    return "\n".join(parts)
