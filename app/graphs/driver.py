"""Driving one thread of a compiled graph: what a run and a chat turn have in common.

``Runner`` (``rpi``, ``research``) and ``ChatClient`` (``chat``) used to hold
two copies of this, and they drifted: the chat side skipped the WAL flush and
turned a dying store into a traceback. One driver now does, for both:

- one process drives a thread at a time (a Postgres advisory lock, which the
  runs listing reads to tell ``running`` from ``interrupted``);
- the run's config (thread, tracing callbacks and metadata);
- streaming the graph, handing custom events to the caller;
- flushing traces, and the WAL, so the checkpoint it stopped at is durable;
- the snapshot it stopped at;
- errors: a ``SpacesError`` escaping the graph names the thread (and what
  kind of thread, so its one line says how to continue it); a store dying
  mid-run becomes ``StoreUnavailable`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg

from app.errors import InvalidInput, SpacesError
from app.failures import STORE_ERRORS, store_failure
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.tracing import flush, run_config

EventSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ThreadKind:
    """How a kind of thread is locked and named to a person."""

    name: str  # "run" or "session": SpacesError.thread_kind
    lock_prefix: str  # the advisory lock key's prefix (app/runs.py reads "spaces-run:")
    busy: str  # the refusal when another process drives it; {id} is the thread


RUN = ThreadKind("run", "spaces-run:", "run {id} is already running elsewhere")
SESSION = ThreadKind("session", "spaces-chat:", "session {id} is busy with another turn")


class ThreadDriver:
    """Drives threads of one kind over ``deps``' connections."""

    def __init__(self, deps: Deps, kind: ThreadKind):
        self.deps = deps
        self.kind = kind

    @contextmanager
    def lock(self, thread_id: str) -> Iterator[None]:
        """Hold the thread for this process, or refuse at once if another one drives it."""
        key = f"{self.kind.lock_prefix}{thread_id}"
        with self.deps.backends.pool.connection() as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()[0]
            if not got:
                raise InvalidInput(self.kind.busy.format(id=thread_id))
            try:
                yield
            finally:
                # If the connection died, its session's lock went with it.
                with suppress(psycopg.OperationalError):
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])

    def config(self, thread_id: str, space_id: str, user_id: str) -> dict[str, Any]:
        """The run config: the thread, plus tracing callbacks and metadata when configured."""
        return {
            "configurable": {"thread_id": thread_id},
            **run_config(
                self.deps.settings, space_id=space_id, user_id=user_id, thread_id=thread_id
            ),
        }

    def drive(
        self,
        graph: Any,
        thread_id: str,
        space_id: str,
        context: RunContext,
        payload: Any,
        on_event: EventSink | None = None,
        *,
        subgraphs: bool = False,
    ) -> Any:
        """Run ``graph`` on the thread until it ends or stops to ask; return its snapshot.

        ``subgraphs``: stream the events of subgraphs too (``rpi``'s research
        phase reports its sub-agents' progress).
        """
        try:
            with self.lock(thread_id):
                self._stream(graph, thread_id, space_id, context, payload, on_event, subgraphs)
                self.deps.backends.flush_wal()  # the checkpoint it stopped at is durable
                return graph.get_state({"configurable": {"thread_id": thread_id}})
        except SpacesError as exc:  # escaped the graph: the error names the thread
            if exc.thread_id is None:
                exc.thread_id, exc.thread_kind = thread_id, self.kind.name
            raise
        except STORE_ERRORS as exc:  # a store died mid-run: one line, resumable
            error = store_failure(exc, thread_id)
            error.thread_kind = self.kind.name
            raise error from exc

    def _stream(
        self, graph: Any, thread_id: str, space_id: str, context: RunContext, payload: Any,
        on_event: EventSink | None, subgraphs: bool,
    ) -> None:  # fmt: skip
        config = self.config(thread_id, space_id, context.user_id)
        try:
            for part in graph.stream(
                payload, config, context=context, stream_mode=["custom"], subgraphs=subgraphs
            ):
                chunk = part[-1]
                if on_event is not None and isinstance(chunk, dict):
                    on_event(chunk)
        finally:
            flush(self.deps.settings)
