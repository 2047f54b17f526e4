"""Read uploaded or local files into plain-text documents, refusing what we cannot use.

Formats: ``.txt``/``.md`` (UTF-8, BOM tolerated), ``.pdf`` (pypdf text layer, pages joined by
blank lines), ``.csv``/``.jsonl`` (one chosen text column; each row becomes a paragraph).
Rejected with a :class:`UserError` naming the file: unknown extensions, files over
``max_upload_mb``, empty or whitespace-only files, binary content (NUL bytes or invalid UTF-8),
PDFs without a text layer (scans: OCR is out of scope), encrypted or malformed PDFs, and
CSV/JSONL files without the chosen column. Nothing is executed or unpickled.

Example:
    >>> read_document("notes.md", b"# Notes\\n\\nThe vault code is 4417.").text
    '# Notes\\n\\nThe vault code is 4417.'
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

TEXT_FORMATS = (".txt", ".md")
TABLE_FORMATS = (".csv", ".jsonl")
SUPPORTED = (*TEXT_FORMATS, ".pdf", *TABLE_FORMATS)
DEFAULT_TEXT_COLUMN = "text"
_NAME_OK = re.compile(r"[^A-Za-z0-9._ ()-]+")


@dataclass(frozen=True)
class Document:
    """A named plain-text document ready for chunking."""

    name: str
    text: str
    fmt: str


def clean_document_name(name: str) -> str:
    """A display name from a path or upload name: basename, odd characters replaced.

    Example: ``clean_document_name("../x/Q3 report;rm.pdf") == "Q3 report_rm.pdf"``.
    """
    base = Path(str(name).replace("\\", "/")).name.strip()
    base = _NAME_OK.sub("_", base)[:120].strip(" .")
    if not base:
        raise UserError(f"file name {name!r} has no usable characters")
    return base


def _decode(name: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UserError(f"{name}: looks like a binary file (NUL bytes); upload text, Markdown, "
                        "PDF, CSV or JSONL")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not valid UTF-8 text (byte {exc.start}); save it as UTF-8 "
                        "or upload a PDF") from None


def _read_pdf(name: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UserError(f"{name}: the PDF is encrypted; remove the password first")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except UserError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UserError(f"{name}: not a readable PDF ({type(exc).__name__})") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise UserError(f"{name}: the PDF has no text layer ({len(pages)} page(s), e.g. a scan); "
                        "run OCR first or upload the text")
    return text


def _rows_csv(text: str) -> tuple[list[str], Iterable[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), reader


def _rows_jsonl(name: str, text: str) -> tuple[list[str], list[dict]]:
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{name}: line {i} is not valid JSON") from None
        if not isinstance(row, dict):
            raise UserError(f"{name}: line {i} is not a JSON object")
        rows.append(row)
    columns = sorted({k for r in rows for k in r})
    return columns, rows


def _read_table(name: str, text: str, fmt: str, column: str) -> str:
    columns, rows = _rows_csv(text) if fmt == ".csv" else _rows_jsonl(name, text)
    if column not in columns:
        raise UserError(f"{name}: no column {column!r}; columns are {', '.join(columns) or 'none'}"
                        ": pick the text column")
    values = [str(r.get(column) or "").strip() for r in rows]
    return "\n\n".join(v for v in values if v)


def read_document(name: str, data: bytes, *, text_column: str = DEFAULT_TEXT_COLUMN,
                  max_bytes: int | None = None) -> Document:
    """Decode ``data`` (the bytes of file ``name``) into a :class:`Document`."""
    display = clean_document_name(name)
    fmt = Path(display).suffix.lower()
    if fmt not in SUPPORTED:
        raise UserError(f"{display}: unsupported file type {fmt or '(none)'}; use "
                        f"{', '.join(SUPPORTED)}")
    if max_bytes is not None and len(data) > max_bytes:
        raise UserError(f"{display}: {len(data) / 1e6:.1f} MB is over the "
                        f"{max_bytes / 1e6:.0f} MB upload limit")
    if not data.strip():
        raise UserError(f"{display}: the file is empty")
    if fmt == ".pdf":
        text = _read_pdf(display, data)
    else:
        text = _decode(display, data)
        if fmt in TABLE_FORMATS:
            text = _read_table(display, text, fmt, text_column)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise UserError(f"{display}: no text found")
    return Document(display, text, fmt.lstrip("."))


def read_folder(folder: str | Path, *, text_column: str = DEFAULT_TEXT_COLUMN,
                max_bytes: int | None = None) -> tuple[list[Document], list[str]]:
    """Every supported file in or below ``folder`` (sorted), plus one message per rejected file.

    Files in sub-folders are named ``sub__file.md`` so equal basenames do not collide.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UserError(f"{folder}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
    if not files:
        raise UserError(f"{folder}: no {', '.join(SUPPORTED)} files found")
    docs, rejected = [], []
    for p in files:
        name = p.relative_to(root).as_posix().replace("/", "__")
        try:
            docs.append(read_document(name, p.read_bytes(), text_column=text_column,
                                      max_bytes=max_bytes))
        except UserError as exc:
            rejected.append(str(exc))
    if not docs:
        raise UserError(f"{folder}: no usable documents; " + "; ".join(rejected[:3]))
    return docs, rejected


def read_uploads(files, *, text_column: str = DEFAULT_TEXT_COLUMN,
                 max_bytes: int | None = None) -> tuple[list[Document], list[str]]:
    """Uploaded files (objects with ``.name`` and ``.getvalue()``) -> documents + rejections."""
    docs, rejected = [], []
    for f in files or []:
        try:
            docs.append(read_document(f.name, f.getvalue(), text_column=text_column,
                                      max_bytes=max_bytes))
        except UserError as exc:
            rejected.append(str(exc))
    return docs, rejected
