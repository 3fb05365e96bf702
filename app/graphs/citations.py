"""Citation checks: every ``[n]`` names a listed source, and quoted text is in its source.

A model can cite a source that does not exist (``[2]`` when only ``[1]`` is
listed) or put words in a source's mouth. Research notes and ``rpi``
deliverables go through ``check_citations`` before they are written:

- ``[n]`` (or ``[n, m]``) with an ``n`` that is not a listed source becomes
  ``[n?]``; the note's frontmatter counts them (``unverified_citations``);
- text in quotation marks (``"..."`` or ``“...”``) of at least
  ``QUOTE_MIN_WORDS`` words must appear in the source cited right after it,
  or, with no citation, in some source (or the query); otherwise it is
  followed by ``[quote?]`` and counted (``unverified_quotes``).

Code (fenced blocks and inline code) is left alone, so ``a[1]`` is not a
citation. Running the check again on its own output changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

QUOTE_MIN_WORDS = 3
QUOTE_MARK = "[quote?]"
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)
_CITE = re.compile(r"(?<![\w)\[])\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\](?![(:])")
_QUOTE = re.compile(r"(\"([^\"\n]{3,600})\"|“([^”\n]{3,600})”)(\s*\[(\d{1,4})\])?")


@dataclass(frozen=True)
class Checked:
    """The text with unknown citations and unfound quotes marked, and how many of each."""

    text: str
    unverified_citations: int
    unverified_quotes: int


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    return " ".join(re.sub(r"[^\w'%.,-]+", " ", text.lower()).split()).strip(" .,")


def _outside_code(text: str, fix: Any) -> str:
    """Apply ``fix`` to the parts of ``text`` that are not code."""
    out, last = [], 0
    for m in _CODE.finditer(text):
        out += [fix(text[last : m.start()]), m.group(0)]
        last = m.end()
    out.append(fix(text[last:]))
    return "".join(out)


def check_citations(text: str, sources: Sequence[dict[str, Any]], query: str = "") -> Checked:
    """Mark unknown ``[n]`` and unfound quotations in ``text`` (see module doc)."""
    known = {int(s["n"]): _norm(str(s.get("text") or "")) for s in sources}
    anywhere = [*known.values(), _norm(query)]
    counts = {"cite": 0, "quote": 0}

    def cite(m: re.Match[str]) -> str:
        parts = []
        for raw in m.group(1).split(","):
            n = int(raw)
            if n in known:
                parts.append(str(n))
            else:
                counts["cite"] += 1
                parts.append(f"{n}?")
        return "[" + ", ".join(parts) + "]"

    def quote(m: re.Match[str]) -> str:
        said = _norm(m.group(2) or m.group(3))
        marked = m.string[m.end() :].lstrip().startswith(QUOTE_MARK)
        if len(said.split()) < QUOTE_MIN_WORDS or marked:
            return m.group(0)
        cited = int(m.group(5)) if m.group(5) else None
        where = [known[cited]] if cited in known else anywhere
        if any(said in source for source in where):
            return m.group(0)
        counts["quote"] += 1
        return f"{m.group(0)} {QUOTE_MARK}"

    def fix(part: str) -> str:
        return _CITE.sub(cite, _QUOTE.sub(quote, part))

    checked = _outside_code(text, fix)
    return Checked(checked, counts["cite"], counts["quote"])


def count_marks(text: str) -> tuple[int, int]:
    """``(unverified citations, unverified quotes)`` already marked in ``text``."""
    cites = sum(m.group(0).count("?") for m in re.finditer(r"\[[\d, ?]*\d\?[\d, ?]*\]", text))
    return cites, text.count(QUOTE_MARK)
