"""Where an ``rpi`` run's own time goes, by cause: timers wrapped around store calls.

Used by ``rpi_bench.py --breakdown``. The wrappers are put in place for the
benchmark process only (nothing in ``app/`` knows about them) and time each
call, including the opening and closing of the context managers some calls
return (a memory handle). Times of the research sub-agents, which run in
parallel threads, are summed, so the causes can add up to more than the
run's wall time.
"""

from __future__ import annotations

import collections
import functools
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# (module, attribute path, cause). Functions imported by name are patched where they are used.
TARGETS = [
    ("app.spaces.space_manager", "open_space_memory", "memory (Mem0 + Qdrant, open and use)"),
    ("app.graphs.research.agents", "search_vault", "vault search (obsidiantools)"),
    ("app.spaces.infra.graph_conn", "NativeConnection.run", "graph queries"),
    ("app.spaces.infra.graph_conn", "NativeConnection.make_durable", "graph durable save (SAVE)"),
    ("app.spaces.stores.budget", "SpaceBudget.reserve", "budget: per-call reserve and settle"),
    ("app.spaces.stores.budget", "SpaceBudget.settle", "budget: per-call reserve and settle"),
    (
        "app.spaces.stores.budget",
        "SpaceBudget.hold_run",
        "budget: run hold, resize, release, totals",
    ),
    (
        "app.spaces.stores.budget",
        "SpaceBudget.resize_run",
        "budget: run hold, resize, release, totals",
    ),
    (
        "app.spaces.stores.budget",
        "SpaceBudget.release_run",
        "budget: run hold, resize, release, totals",
    ),
    ("app.graphs.rpi.save", "thread_totals", "budget: run hold, resize, release, totals"),
    ("app.graphs.rpi.graph", "thread_totals", "budget: run hold, resize, release, totals"),
    ("app.graphs.calls", "documents_for_prompt", "open documents (per call)"),
    ("app.graphs.research.agents", "documents_for_prompt", "open documents (per call)"),
    ("app.spaces.space_manager", "SpaceManager.get_space", "registry read (per node)"),
    ("app.graphs.rpi.graph", "register_thread", "run records"),
    ("app.graphs.rpi.graph", "upsert_run", "run records"),
    ("app.graphs.rpi.save", "upsert_run", "run records"),
    ("app.spaces.stores.vault", "SpaceVault.write_note", "vault writes"),
    ("langgraph.checkpoint.postgres", "PostgresSaver.put", "checkpointer (Postgres)"),
    ("langgraph.checkpoint.postgres", "PostgresSaver.put_writes", "checkpointer (Postgres)"),
    ("langgraph.checkpoint.postgres", "PostgresSaver.get_tuple", "checkpointer (Postgres)"),
    ("app.graphs.calls", "resolve_chain", "model resolution and binding"),
]


class Totals:
    """Seconds per cause, added from any thread; a cause nested in another counts once."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._depth = threading.local()

    @contextmanager
    def timing(self, cause: str) -> Iterator[None]:
        """Time the block under ``cause`` unless an outer timed block is already running."""
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                with self._lock:
                    self.seconds[cause] += time.perf_counter() - start


def _wrap(fn: Callable[..., Any], cause: str, totals: Totals) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        with totals.timing(cause):
            result = fn(*args, **kwargs)
        if hasattr(result, "__enter__") and hasattr(result, "__exit__"):
            return _TimedContext(result, cause, totals)
        return result

    return timed


class _TimedContext:
    def __init__(self, inner: Any, cause: str, totals: Totals):
        self._inner, self._cause, self._totals = inner, cause, totals

    def __enter__(self) -> Any:
        with self._totals.timing(self._cause):
            return self._inner.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        with self._totals.timing(self._cause):
            return self._inner.__exit__(*exc)


@contextmanager
def instrument() -> Iterator[Totals]:
    """Wrap every target for the duration of the block; yield the running totals."""
    totals = Totals()
    undo = []
    for module_name, path, cause in TARGETS:
        owner: Any = importlib.import_module(module_name)
        *parents, attr = path.split(".")
        for name in parents:
            owner = getattr(owner, name)
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        setattr(owner, attr, _wrap(original, cause, totals))
        undo.append((owner, attr, original))
    try:
        yield totals
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)
