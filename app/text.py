"""Text helpers: word-overlap relevance, and control characters kept off terminals and notes.

Relevance is deliberately simple and deterministic: lowercase words of three
or more letters or digits, or of two when they hold a digit (a pump "P7", a
pressure "42"), minus common function words, with a plural or verb ``-s``
taken off ("pumps" and "pump", "runs" and "run" are one word). A query may carry
escape sequences (``ESC [ 2 J`` clears a screen) or bidirectional overrides
that make text read differently from what it is; ``printable`` escapes them
for a terminal and ``note_safe`` drops them from what is written to a note.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]{2,}")
_DIGIT = re.compile(r"\d")
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
        "does",
        "did",
        "doing",
        "done",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "might",
        "must",
        "when",
        "where",
        "whom",
        "whose",
        "been",
        "being",
        "any",
        "all",
        "some",
    ]
)


def stem(word: str) -> str:
    """``word`` without a simple plural or verb ``-s``: "pumps" -> "pump", "batteries" -> "battery".

    Crude on purpose (no dictionary): the same rule runs on the query and on
    the text, so both sides meet. "-ss", "-us" and "-is" endings ("pass",
    "status", "analysis") and short words ("gas", "bus") are kept.
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> set[str]:
    """The content words of ``text``, stemmed (see the module docstring)."""
    found: set[str] = set()
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS or (len(w) < 3 and not _DIGIT.search(w)):
            continue
        found.add(stem(w))
    return found


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
