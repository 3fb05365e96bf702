"""State, input and output of ``chat``, and the task plan the planner fills in.

A session is one thread; each message is one run on it (a turn). The state
keeps the current turn; the history lives in the space's ``messages``
table, so it survives compaction and is listable without the checkpointer.
``messages`` also keeps each turn's question and reply as LangChain
messages, for the stock UIs that render ``values.messages``.
``tasks`` is merged per task id, because tasks of one wave finish in
parallel branches; ``admit`` resets it with ``None`` at the start of a turn.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from app.graphs.messages import Messages
from app.graphs.plans import STEP_ID

TASKS_MAX = 8


def merge_tasks(
    left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Each update replaces the tasks it names; ``None`` starts a new turn with none."""
    if right is None:
        return {}
    return {**(left or {}), **right}


class PlannedTask(BaseModel):
    """One task of the plan: which agent does what, after which tasks."""

    id: str = Field(pattern=STEP_ID, description="short unique id, e.g. t1")
    agent: str = Field(min_length=1, max_length=32, description="an agent's name")
    description: str = Field(min_length=1, max_length=1_000)
    depends_on: list[str] = Field(default_factory=list, max_length=TASKS_MAX)


class TaskPlan(BaseModel):
    """The tasks that together answer the user's request."""

    tasks: list[PlannedTask] = Field(min_length=1, max_length=TASKS_MAX)


class ChatInput(TypedDict):
    """What a caller gives: the space and the message (``@name ...`` calls one agent).

    A stock UI sends ``messages`` instead (the last human one is the turn)
    and no ``space_id``: the space then comes from the run's context or its
    assistant's config (``intake`` in ``graph.py``).
    """

    space_id: NotRequired[str]
    message: NotRequired[str]
    messages: NotRequired[Messages]


class ChatOutput(TypedDict, total=False):
    """What a caller gets back when the turn ends (or stops to ask)."""

    status: str
    error: str | None
    space_id: str
    turn: int
    mode: str
    reply: str | None
    plan: list[dict[str, Any]] | None
    tasks: dict[str, dict[str, Any]]
    messages: Messages


class ChatState(TypedDict, total=False):
    """Everything one turn of ``chat`` reads and writes."""

    space_id: str
    message: str
    model: str
    turn: int
    mode: str
    plan: list[dict[str, Any]] | None
    expires_at: str | None
    approval_error: str | None
    plan_repairs: list[str]
    tasks: Annotated[dict[str, dict[str, Any]], merge_tasks]
    reply: str | None
    status: str
    error: str | None
    messages: Messages  # the conversation as stock UIs show it, every turn
    answered: str | None  # the id of the last human message a turn was run for
