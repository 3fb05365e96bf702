"""Text helpers: word-overlap relevance, and control characters kept off terminals and notes.

Relevance is deliberately simple and deterministic: lowercase words of three
or more letters or digits, minus common function words. A query may carry
escape sequences (``ESC [ 2 J`` clears a screen) or bidirectional overrides
that make text read differently from what it is; ``printable`` escapes them
for a terminal and ``note_safe`` drops them from what is written to a note.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]{3,}")
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional
# embedding/override/isolate marks.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "are",
        "was",
        "were",
        "what",
        "which",
        "how",
        "why",
        "who",
        "about",
        "into",
        "have",
        "has",
        "had",
        "not",
        "but",
        "you",
        "your",
        "our",
        "its",
        "their",
        "they",
        "them",
        "then",
        "than",
        "there",
        "these",
        "those",
    ]
)


def words(text: str) -> set[str]:
    """The content words of ``text``."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def overlap(query_words: set[str], text: str) -> int:
    """How many of the query's words ``text`` contains."""
    return len(query_words & words(text))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters shown as ``\\x1b``-style escapes, safe on a terminal.

    Newlines and tabs are escaped too unless ``keep_newlines``: one message stays one line.
    """
    pattern = _CONTROL if keep_newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(_escaped, str(text))


def note_safe(text: str) -> str:
    """``text`` without control characters (newlines and tabs kept), for a note."""
    return _CONTROL.sub("", text)
