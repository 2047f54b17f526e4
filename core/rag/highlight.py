"""Render a chunk as safe Markdown with the words it shares with the answer highlighted.

Every Markdown/Streamlit special character of the chunk is backslash-escaped, so a chunk can
never inject links, images, HTML, LaTeX (``$``) or colour directives; shared words (letters
and digits only, 3+ characters or any number, not stop words) are wrapped in Streamlit's
``:orange-background[...]`` directive. The output is for ``st.markdown`` without
``unsafe_allow_html``.

Example:
    >>> highlight_markdown("Ilsa Marek planted it in 2011.", "Ilsa Marek, in 2011")
    ':orange-background[Ilsa] :orange-background[Marek] planted it in :orange-background[2011]\\\\.'
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9]+")
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=\"'^@%])")
_STOP = (
    "the and for are but not you all any can her was one our out his has how its who did yes "
    "she him had may let too use that with this from they have were been what when where which "
    "will would there their them then than into your about also just only some such")
STOP_WORDS = frozenset(_STOP.split())


def shared_words(answer: str) -> set[str]:
    """Lower-cased content words of ``answer``: numbers, or 3+ letters and not a stop word."""
    return {w.lower() for w in _WORD.findall(answer)
            if w.isdigit() or (len(w) >= 3 and w.lower() not in STOP_WORDS)}


def escape_markdown(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def highlight_markdown(text: str, answer: str) -> str:
    """Escaped ``text`` with words from ``answer`` highlighted (see module doc)."""
    words = shared_words(answer)
    out, cursor = [], 0
    for m in _WORD.finditer(text):
        out.append(escape_markdown(text[cursor:m.start()]))
        word = m.group()
        out.append(f":orange-background[{word}]" if word.lower() in words else word)
        cursor = m.end()
    out.append(escape_markdown(text[cursor:]))
    return "".join(out).replace("\n", "  \n")
