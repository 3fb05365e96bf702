"""A memory row as pgvector memory stores it, and the SQL pieces that read it.

Mem0's payload layout (``payload_for``, ``hit_from``), pgvector's text form
of a vector, the full-text query and rank, and the row filters (a kind of
memory, one agent's scope). ``memory`` (the store) and ``vault_index``
(which searches with the same vector and rank) share them; the legacy
migration writes the same layout.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from app.errors import InvalidInput
from app.ids import validate_agent_name
from app.spaces.stores.memory_store import MemoryHit

# Full-text rank: term frequency, divided by 1 + log(document length). On the labelled
# set it beat ts_rank_cd and the other normalisations (docs/stores.md, "Memory", has figures).
TEXT_RANK = sql.SQL("ts_rank(tsv, q, 1)")
# Full text ranks at most this many matching rows. Ranking every match made a
# search of words found in 5% of 1M memories take p95 287 ms; with the cap it
# is 47 ms (bench/recall_bench.py). Only a query whose every word is that
# common ranks a sample of its matches; vector search is unaffected.
TEXT_CANDIDATES = 10_000


def vector_literal(vector: Iterable[float]) -> str:
    """pgvector's text form of a vector (``[x,y,...]``)."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def tsquery_any(text: str) -> str:
    """A ``to_tsquery`` source matching any word of ``text`` (words only, no operators)."""
    words = re.findall(r"[A-Za-z0-9]+", text.lower())[:64]
    return " | ".join(dict.fromkeys(words))


def payload_for(space_id: str, text: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Mem0's payload layout: metadata flattened, text under ``data``, an md5 ``hash``."""
    return {
        **(metadata or {}),
        "data": text,
        "hash": hashlib.md5(text.encode()).hexdigest(),
        "created_at": datetime.now(UTC).isoformat(),
        "user_id": space_id,
        "space_id": space_id,
    }


_RESERVED = {"data", "hash", "created_at", "user_id", "updated_at", "text_lemmatized"}


def hit_from(row_id: object, payload: dict[str, Any], score: float | None) -> MemoryHit:
    """A ``MemoryHit`` from a stored row (Mem0's bookkeeping keys kept out of metadata)."""
    meta = {k: v for k, v in payload.items() if k not in _RESERVED}
    return MemoryHit(str(row_id), payload.get("data", ""), score, meta, payload.get("created_at"))


def kind_filter(kind: str | None) -> sql.Composable:
    """Row filter: ``document`` chunks only, plain ``memory`` only, or everything (None).

    Space-wide retrieval never returns an agent's own context (its ``agent_id``
    scope): one agent's interactions reach only that agent's prompts.
    """
    space_wide = sql.SQL("NOT payload ? 'agent_id'")
    if kind is None:
        return space_wide
    if kind == "document":
        return sql.SQL("payload->>'type' = 'document' AND ") + space_wide
    if kind == "memory":
        return sql.SQL("payload->>'type' IS DISTINCT FROM 'document' AND ") + space_wide
    raise InvalidInput(f"unknown memory kind {kind!r}")


def agent_filter(agent_id: str) -> sql.Composable:
    """Row filter: one agent's scope only."""
    return sql.SQL("payload->>'agent_id' = {}").format(sql.Literal(validate_agent_name(agent_id)))
