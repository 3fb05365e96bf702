"""Both memory stores are a ``MemoryStore``; callers ask the protocol, not the class.

The pgvector store is exercised live (tests/spaces/stores/test_memory_store.py, test_recall.py);
here: the two classes offer every method of the protocol with its parameters, the
pgvector store's rankings through the protocol, and what the Qdrant store refuses
without reaching a server.
"""

from __future__ import annotations

import inspect

import pytest

from app.errors import InvalidInput
from app.spaces.stores.memory import PgMemory
from app.spaces.stores.memory_qdrant import QdrantMemory
from app.spaces.stores.memory_store import MemoryStore, Rankings

METHODS = [
    name
    for name, value in vars(MemoryStore).items()
    if inspect.isfunction(value) and not name.startswith("_")
]


@pytest.mark.parametrize("store", [PgMemory, QdrantMemory])
def test_each_store_has_every_method_of_the_protocol(store: type) -> None:
    assert {"add", "delete", "search", "all", "rankings", "ensure_supports"} <= set(METHODS)
    for name in METHODS:
        want = inspect.signature(getattr(MemoryStore, name)).parameters
        have = inspect.signature(getattr(store, name)).parameters
        missing = [p for p in want if p not in have]
        assert not missing, f"{store.__name__}.{name} lacks {missing}"


def test_no_caller_asks_which_store_it_holds() -> None:
    """``isinstance(memory, PgMemory)`` branches are gone from the code that uses memory."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "app"
    found = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "isinstance(memory, PgMemory)" in p.read_text() or "SpaceMemory" in p.read_text()
    ]
    assert not found


def test_pgvector_rankings_share_one_embedding(manager, space) -> None:
    with manager.open_space(space.space_id, write=True).memory() as memory:
        memory.add("the Heron valve is serviced every spring")
        both = memory.rankings("Heron valve", 10, vector=True, text=True)
        assert both.embedded is not None
        assert [h.text for h in both.vector][:1] == [h.text for h in both.text][:1]
        text_only = memory.rankings("Heron valve", 10, vector=False, text=True)
        assert text_only.vector == [] and text_only.embedded is None and text_only.text
        memory.ensure_supports("stats")  # pgvector offers every operation


def test_qdrant_store_says_what_it_cannot_do() -> None:
    memory = QdrantMemory(None, "some_space", writable=True)  # no server is reached below
    for operation in ("add", "search", "delete"):
        memory.ensure_supports(operation)
    with pytest.raises(InvalidInput, match="memory stats needs the pgvector store"):
        memory.ensure_supports("stats")
    assert memory.rankings("anything", 10, vector=False, text=True) == Rankings()
    with pytest.raises(InvalidInput, match="unknown memory kind"):
        memory.rankings("anything", 10, "notes", vector=True, text=False)
