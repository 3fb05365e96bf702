"""How a served run that failed ends: with an error the LangGraph SDK surfaces.

In process (the CLI, notebooks, tests), a failed run ends through its
``finish`` node with ``status: failed`` and a one-line ``error`` in its
state: the runner turns that into a status document and an exit code. A
stock UI on the LangGraph server reads the *run's* status instead, and a
state that says ``failed`` inside a run that says ``success`` shows as a
success. So the served graphs (``langgraph.json``) end a failed run with one
more node, ``fail``, after ``finish`` has freed the hold and recorded the
outcome: it raises the error, the server marks the run ``error``, and the
thread's last checkpoint still holds the status and error (a new input on
the thread discards the pending ``fail`` task, as LangGraph does for any
unfinished task).
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, StateGraph

from app.errors import RunFailed

FAILED = ("failed", "budget_exceeded")


def fail(state: Any) -> dict[str, Any]:
    """Raise the run's one-line error as ``RunFailed`` (a spent budget says so in its line)."""
    raise RunFailed(str(state.get("error") or f"the run ended {state.get('status')}"))


def after_finish(state: Any) -> str:
    """``fail`` for a failed run, else the end."""
    return "fail" if state.get("status") in FAILED else END


def end_graph(builder: StateGraph, *, raise_failures: bool) -> None:
    """Wire ``finish`` to the end: through ``fail`` when failures must be raised (served)."""
    if not raise_failures:
        builder.add_edge("finish", END)
        return
    builder.add_node("fail", fail)
    builder.add_conditional_edges("finish", after_finish, ["fail", END])
