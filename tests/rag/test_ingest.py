"""Ingestion: every format, and every kind of bad file refused with a clear message."""

import io
import json

import pytest

from core.errors import UserError
from core.rag.ingest import clean_document_name, read_document, read_folder


def make_pdf(text: str | None) -> bytes:
    """A one-page PDF written by hand: a Helvetica text object, or no content at all.

    The xref offsets are computed, so pypdf parses it without repair.
    """
    stream = (f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text is not None else b"")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
              .encode())
    return out.getvalue()


@pytest.mark.parametrize("name, data, expected", [
    ("a.txt", b"The vault code is 4417.", "The vault code is 4417."),
    ("a.md", "\ufeff# T\r\n\r\nCaf\u00e9 opens at 9.".encode(), "# T\n\nCaf\u00e9 opens at 9."),
    ("a.csv", b"id,text\n1,First row.\n2,\n3,Third row.\n", "First row.\n\nThird row."),
    ("a.jsonl", b'{"text": "One."}\n\n{"text": "Two.", "x": 1}\n', "One.\n\nTwo."),
])
def test_text_formats(name, data, expected):
    doc = read_document(name, data)
    assert doc.text == expected
    assert doc.name == name and doc.fmt == name.rsplit(".", 1)[1]


def test_pdf_text_layer_is_extracted():
    doc = read_document("memo.pdf", make_pdf("The Velmora vault opens at dawn."))
    assert doc.text == "The Velmora vault opens at dawn."
    assert doc.fmt == "pdf"


def test_csv_uses_the_chosen_column():
    doc = read_document("faq.csv", b"q,body\nx,Alpha.\ny,Beta.\n", text_column="body")
    assert doc.text == "Alpha.\n\nBeta."


@pytest.mark.parametrize("name, data, kwargs, needle", [
    ("empty.txt", b"", {}, "empty"),
    ("blank.md", b"  \n\t\n", {}, "empty"),
    ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", {}, "binary"),
    ("latin.txt", "caf\u00e9".encode("latin-1"), {}, "UTF-8"),
    ("scan.pdf", make_pdf(None), {}, "no text layer"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", {}, "PDF"),
    ("data.csv", b"id,body\n1,hello\n", {}, "no column 'text'"),
    ("data.jsonl", b'{"body": "x"}\n', {}, "no column 'text'"),
    ("bad.jsonl", b'{"text": "x"}\nnot json\n', {}, "line 2"),
    ("model.pkl", b"\x80\x04K\x01.", {}, "unsupported"),
    ("big.txt", b"x" * 2_000, {"max_bytes": 1_000}, "upload limit"),
])
def test_bad_files_are_refused_with_a_clear_message(name, data, kwargs, needle):
    with pytest.raises(UserError, match=needle):
        read_document(name, data, **kwargs)


@pytest.mark.parametrize("raw, clean", [
    ("../x/Q3 report;rm.pdf", "Q3 report_rm.pdf"),
    ("C:\\Users\\me\\notes.md", "notes.md"),
    ("ok-name_1.txt", "ok-name_1.txt"),
])
def test_document_names_are_cleaned(raw, clean):
    assert clean_document_name(raw) == clean


def test_read_folder_skips_bad_files_and_reports_them(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_text("Alpha.")
    (tmp_path / "sub" / "a.md").write_text("Nested alpha.")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "ignored.bin").write_bytes(b"\x00")
    docs, rejected = read_folder(tmp_path)
    assert [d.name for d in docs] == ["a.md", "sub__a.md"]
    assert len(rejected) == 1 and "empty" in rejected[0]


@pytest.mark.parametrize("setup, needle", [
    (lambda p: None, "no .txt"),
    (lambda p: (p / "e.txt").write_bytes(b""), "no usable documents"),
])
def test_read_folder_without_usable_files(tmp_path, setup, needle):
    setup(tmp_path)
    with pytest.raises(UserError, match=needle):
        read_folder(tmp_path)


def test_read_folder_rejects_missing_folder(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        read_folder(tmp_path / "nope")


def test_jsonl_row_must_be_an_object():
    with pytest.raises(UserError, match="not a JSON object"):
        read_document("x.jsonl", json.dumps([1, 2]).encode())
