"""Render a chunk as safe Markdown with the words it shares with the answer highlighted.

The text is never changed, only marked: highlighting is a list of character spans over the
original string (:func:`highlight_spans`), and :func:`highlight_markdown` escapes every
Markdown/Streamlit special character outside and inside the spans (so a chunk can never
inject links, images, HTML, LaTeX ``$`` or colour directives) and wraps each span in
Streamlit's ``:orange-background[...]`` directive. The output is for ``st.markdown`` without
``unsafe_allow_html``.

* Words are runs of letters/digits joined by inner ``. , ' -`` ("7.3", "north-east"), so a
  number or a hyphenated word is highlighted whole; neighbouring highlighted words on one
  line share one span. (Each span is drawn with padding, so "7", ".", "3" highlighted
  separately would read "7 . 3".)
* A word is shared when it, or one of its parts, is a content word of the answer: a number,
  or 3+ letters and not a stop word.
* A Markdown heading line of the document (``## Opening hours``) is shown in bold without its
  ``#`` marks, which are document markup, not text.

Example:
    >>> highlight_markdown("Ilsa Marek planted it in 2011.", "Ilsa Marek, in 2011")
    ':orange-background[Ilsa Marek] planted it in :orange-background[2011]\\\\.'
"""

from __future__ import annotations

import re

_PART = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,'\u2019-][A-Za-z0-9]+)*")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)")
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=\"'^@%])")
_STOP = (
    "the and for are but not you all any can her was one our out his has how its who did yes "
    "she him had may let too use that with this from they have were been what when where which "
    "will would there their them then than into your about also just only some such")
STOP_WORDS = frozenset(_STOP.split())


def shared_words(answer: str) -> set[str]:
    """Lower-cased content words of ``answer``: numbers, or 3+ letters and not a stop word."""
    return {w.lower() for w in _PART.findall(answer)
            if w.isdigit() or (len(w) >= 3 and w.lower() not in STOP_WORDS)}


def escape_markdown(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def highlight_spans(text: str, answer: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of ``text`` to highlight, merged within a line.

    Example: ``highlight_spans("at 7.3 km north-east", "7.3 kilometres north")``
    -> ``[(3, 6), (10, 20)]`` ("7.3" and "north-east"; "km" is not in the answer).
    """
    words = shared_words(answer)
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        if not any(p.lower() in words for p in _PART.findall(m.group())):
            continue
        gap = text[spans[-1][1]:m.start()] if spans else "\n"
        if spans and "\n" not in gap and not _PART.search(gap):
            spans[-1] = (spans[-1][0], m.end())
        else:
            spans.append((m.start(), m.end()))
    return spans


def _render(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    """Escaped ``text[start:end]`` with the parts inside ``spans`` highlighted."""
    out, cursor = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out += [escape_markdown(text[cursor:s]),
                f":orange-background[{escape_markdown(text[s:e])}]"]
        cursor = e
    out.append(escape_markdown(text[cursor:end]))
    return "".join(out)


def highlight_markdown(text: str, answer: str) -> str:
    """Escaped ``text`` with words from ``answer`` highlighted (see module doc)."""
    spans = highlight_spans(text, answer)
    lines, start = [], 0
    for line in text.split("\n"):
        end = start + len(line)
        heading = _HEADING.match(line)
        if heading:
            body = line[heading.end():].rstrip(" \t")
            body = re.sub(r"(^|[ \t]+)#+$", "", body)  # optional closing sequence
            first = start + heading.end()
            rendered = _render(text, first, first + len(body), spans)
            lines.append(f"**{rendered}**" if rendered else "")
        else:
            lines.append(_render(text, start, end, spans))
        start = end + 1
    return "  \n".join(lines)
