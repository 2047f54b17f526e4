"""Feedback out as files: raw CSV/JSONL, KTO (unpaired thumbs) and DPO (preference pairs).

Formats (every file loads with ``datasets.load_dataset("json"|"csv", data_files=...)``):

- ``csv`` / ``jsonl``: one row per stored output with every field; ``extra`` is a JSON string
  (its keys differ between pages, which a columnar reader cannot type), ``retrieved_ids`` is a
  list in JSONL and a JSON string in CSV.
- ``kto``: JSONL ``{"prompt", "completion", "label"}``, label ``true`` for thumbs-up; the
  unpaired format TRL's ``KTOTrainer`` reads.
- ``dpo``: JSONL ``{"prompt", "chosen", "rejected"}`` from pairwise preferences ("A better" /
  "B better"; ties carry no direction and are left out) AND from prompts where one answer got a
  thumbs-up and another a thumbs-down (every up x down pair, deduplicated).

Answers that are not a model's text (the retrieval-only baseline's passages, or a passage the
extractive fallback showed instead of the model's answer: ``extra["extractive"]``) are left
out of KTO and DPO unless ``include_extractive`` is set: a preference trainer would otherwise
learn {question -> pasted passage} as if the model had written it (:func:`is_extractive`).

CSV cells are made inert for spreadsheets (:func:`inert_cell`, OWASP "CSV Injection"): a text
cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single
quote, so ``=HYPERLINK(...)`` opens as text, not as a formula. JSONL stays raw (no spreadsheet
reads it; a training file must hold the exact text). Exporting stored feedback is an admin
action (:func:`core.access.require`, ``export``).

Files are written to a temp file and renamed, so a reader never sees half a file. Training
lives in :mod:`core.finetune.preference`.

Example:
    >>> kto_examples([])
    []
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from core import access
from core.atomic import write_bytes_atomic
from core.errors import UserError
from core.feedback.schema import OutputRecord, PreferenceRecord

FORMATS = ("csv", "jsonl", "kto", "dpo")
#: First characters a spreadsheet reads as a formula (OWASP CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: object) -> object:
    """A text cell a spreadsheet shows as text; numbers and other values unchanged.

    Example: ``"=HYPERLINK(\"http://x\")"`` -> ``"'=HYPERLINK(\"http://x\")"``; ``"-1 vote"``
    -> ``"'-1 vote"``; the number ``-1`` stays ``-1``; ``"ok"`` stays ``"ok"``.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV bytes with every text cell (and header) passed through
    :func:`inert_cell`: the one way a CSV that holds user text leaves the app."""
    clean = frame.rename(columns=inert_cell).map(inert_cell)
    return clean.to_csv(index=False).encode("utf-8")


class Example(NamedTuple):
    """One training row and the record ids it came from (kept for the adapter's snapshot)."""

    row: dict
    output_ids: tuple[int, ...]
    preference_id: int | None = None


def raw_rows(records: list[OutputRecord], *, json_lists: bool) -> list[dict]:
    rows = []
    for r in records:
        d = r.to_dict()
        d["extra"] = json.dumps(r.extra, ensure_ascii=False, sort_keys=True)
        if not json_lists:
            d["retrieved_ids"] = (None if r.retrieved_ids is None
                                  else json.dumps(r.retrieved_ids, ensure_ascii=False))
        rows.append(d)
    return rows


def is_extractive(record: OutputRecord) -> bool:
    """Whether the stored answer is an evidence passage rather than a model's own text."""
    return record.mode == "extractive" or bool((record.extra or {}).get("extractive"))


def kto_examples(records: list[OutputRecord], *,
                 include_extractive: bool = False) -> list[Example]:
    """Every rated output with a non-empty answer -> ``{prompt, completion, label}``;
    passages (:func:`is_extractive`) only with ``include_extractive``."""
    return [Example({"prompt": r.prompt, "completion": r.output, "label": r.rating == "up"},
                    (r.id,))
            for r in records if r.rating is not None and r.output.strip()
            and (include_extractive or not is_extractive(r))]


def dpo_examples(records: list[OutputRecord], prefs: list[PreferenceRecord], *,
                 include_extractive: bool = False) -> list[Example]:
    """Pairs ``{prompt, chosen, rejected}`` from preferences, then from up/down on one prompt;
    a pair with a passage on either side (:func:`is_extractive`) only with
    ``include_extractive``.

    Example: prompt "Q" answered "x" (up), "y" (down), "z" (down) -> rows (x>y) and (x>z).
    """
    if not include_extractive:
        records = [r for r in records if not is_extractive(r)]
    by_id = {r.id: r for r in records}
    seen: set[tuple[int, int]] = set()
    out: list[Example] = []

    def add(chosen: OutputRecord, rejected: OutputRecord, pref_id: int | None) -> None:
        pair = (chosen.id, rejected.id)
        if pair in seen or chosen.output.strip() == rejected.output.strip():
            return
        seen.add(pair)
        out.append(Example({"prompt": chosen.prompt, "chosen": chosen.output,
                            "rejected": rejected.output}, pair, pref_id))

    for p in prefs:
        a, b = by_id.get(p.output_a_id), by_id.get(p.output_b_id)
        if a is None or b is None or p.choice == "tie":
            continue
        add(*((a, b) if p.choice == "a" else (b, a)), p.id)
    by_prompt: dict[str, list[OutputRecord]] = {}
    for r in records:
        if r.rating is not None and r.output.strip():
            by_prompt.setdefault(r.prompt.strip(), []).append(r)
    for group in by_prompt.values():
        ups = [r for r in group if r.rating == "up"]
        downs = [r for r in group if r.rating == "down"]
        for up in ups:
            for down in downs:
                add(up, down, None)
    return out


def render(fmt: str, records: list[OutputRecord], prefs: list[PreferenceRecord], *,
           actor: access.Actor | None = None, include_extractive: bool = False) -> bytes:
    """The file contents for ``fmt`` (used by download buttons and :func:`write_export`).

    ``actor`` must be allowed ``export`` (None: the process's actor, see core.access).
    """
    access.require(actor, "export")
    if fmt not in FORMATS:
        raise UserError(f"format must be one of {'|'.join(FORMATS)}, got {fmt!r}")
    if fmt == "csv":
        columns = list(OutputRecord.__dataclass_fields__)
        return safe_csv(pd.DataFrame(raw_rows(records, json_lists=False), columns=columns))
    if fmt == "jsonl":
        rows = raw_rows(records, json_lists=True)
    elif fmt == "kto":
        rows = [e.row for e in kto_examples(records, include_extractive=include_extractive)]
    else:
        rows = [e.row for e in dpo_examples(records, prefs,
                                            include_extractive=include_extractive)]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def download_file(fmt: str, stamp: str) -> dict[str, str]:
    """``file_name`` and ``mime`` of a ``fmt`` download. Example: ("kto", "20240331-1200") ->
    ``{"file_name": "feedback-kto-20240331-1200.jsonl", "mime": "application/jsonl"}``."""
    ext, mime = ("csv", "text/csv") if fmt == "csv" else ("jsonl", "application/jsonl")
    return {"file_name": f"feedback-{fmt}-{stamp}.{ext}", "mime": mime}


def count_rows(fmt: str, records: list[OutputRecord], prefs: list[PreferenceRecord], *,
               include_extractive: bool = False) -> int:
    if fmt == "kto":
        return len(kto_examples(records, include_extractive=include_extractive))
    if fmt == "dpo":
        return len(dpo_examples(records, prefs, include_extractive=include_extractive))
    return len(records)


def write_export(fmt: str, records: list[OutputRecord], prefs: list[PreferenceRecord],
                 out: Path, *, include_extractive: bool = False) -> dict:
    """Write ``fmt`` to ``out`` atomically; returns ``{"format", "path", "rows"}``."""
    data = render(fmt, records, prefs, include_extractive=include_extractive)
    out = Path(out).expanduser()
    if out.is_dir():
        raise UserError(f"--out must be a file path, got the folder {out}")
    if not out.parent.is_dir():
        raise UserError(f"the folder {out.parent} does not exist")
    write_bytes_atomic(out, data)
    return {"format": fmt, "path": str(out),
            "rows": count_rows(fmt, records, prefs, include_extractive=include_extractive)}
