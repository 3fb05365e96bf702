"""Word-overlap relevance, shared by the sub-agents' ranking and the offline model.

Deliberately simple and deterministic: lowercase words of three or more
letters or digits, minus common function words.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]{3,}")
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
