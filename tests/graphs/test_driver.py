"""The one thread driver under ``Runner`` and ``ChatClient``: lock, events, errors, durability.

A toy graph stands in for ``rpi`` and ``chat``: what is tested is the
driving, which both now share (the chat side used to skip the WAL flush and
let a dying store's driver error out as a traceback).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from app.errors import InvalidInput, StoreUnavailable
from app.graphs.chat.client import ChatClient
from app.graphs.context import RunContext
from app.graphs.driver import RUN, SESSION, ThreadDriver
from app.runner import Runner


class Toy(TypedDict, total=False):
    fail: str
    done: bool


def toy_graph() -> Any:
    """One node: emits an event, then fails as asked or finishes."""

    def work(state: Toy) -> dict:
        get_stream_writer()({"type": "toy.progress"})
        if state.get("fail") == "input":
            raise InvalidInput("that is not a question")
        if state.get("fail") == "store":
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return {"done": True}

    g = StateGraph(Toy, context_schema=RunContext)
    g.add_node("work", work)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    return g.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("kind", [RUN, SESSION])
def test_drives_streams_events_and_returns_the_snapshot(deps, space, kind) -> None:
    events: list[dict] = []
    snap = ThreadDriver(deps, kind).drive(
        toy_graph(), str(uuid.uuid4()), space.space_id, RunContext(user_id="alice"), {},
        events.append,
    )  # fmt: skip
    assert snap.values == {"done": True} and events == [{"type": "toy.progress"}]


@pytest.mark.parametrize("kind", [RUN, SESSION])
def test_a_thread_is_driven_by_one_process_at_a_time(deps, space, kind) -> None:
    driver, tid = ThreadDriver(deps, kind), str(uuid.uuid4())
    with driver.lock(tid), pytest.raises(InvalidInput, match=r"elsewhere|busy"):
        driver.drive(toy_graph(), tid, space.space_id, RunContext(user_id="alice"), {})
    # released: the next drive gets it
    assert driver.drive(toy_graph(), tid, space.space_id, RunContext(user_id="alice"), {}).values


def test_a_user_error_names_the_session_or_the_run(deps, space) -> None:
    tid = str(uuid.uuid4())
    with pytest.raises(InvalidInput) as caught:
        ThreadDriver(deps, SESSION).drive(
            toy_graph(), tid, space.space_id, RunContext(user_id="alice"), {"fail": "input"}
        )
    assert caught.value.line() == f"that is not a question (session {tid})"


@pytest.mark.parametrize(
    ("kind", "how"),
    [(RUN, "spaces resume {tid} continues it"), (SESSION, "an empty message to it continues")],
)
def test_a_dying_store_is_one_line_naming_how_to_continue(deps, space, kind, how) -> None:
    tid = str(uuid.uuid4())
    with pytest.raises(StoreUnavailable) as caught:
        ThreadDriver(deps, kind).drive(
            toy_graph(), tid, space.space_id, RunContext(user_id="alice"), {"fail": "store"}
        )
    line = caught.value.line()
    assert line.startswith("postgres store failed") and how.format(tid=tid) in line
    assert caught.value.exit_code == 1 and "\n" not in line


def test_runner_and_chat_client_share_the_driver(settings, deps) -> None:
    """Both drive through a ``ThreadDriver`` (the chat side flushes the WAL and maps errors)."""
    runner = Runner(settings, deps)
    client = ChatClient(deps)
    assert isinstance(runner._driver, ThreadDriver) and runner._driver.kind is RUN
    assert isinstance(client._driver, ThreadDriver) and client._driver.kind is SESSION
    calls: list[str] = []
    flush = deps.backends.flush_wal

    def counted() -> None:
        calls.append("flush")
        flush()

    deps.backends.flush_wal = counted  # instance attribute: this test's backends only
    try:
        ThreadDriver(deps, SESSION).drive(
            toy_graph(), str(uuid.uuid4()), "x", RunContext(user_id="alice"), {}
        )
    finally:
        del deps.backends.flush_wal
    assert calls == ["flush"]
