"""State, input and output of ``rpi``, and the schemas the model fills in.

``Plan`` and ``KeyFacts`` are asked of the model as structured output; the
plans are checked in ``planning.py``.
"""

from __future__ import annotations

from typing import Any, NotRequired

from langchain_core.messages import AnyMessage
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from app.graphs.messages import Messages

STEP_ID = r"^[A-Za-z0-9_-]{1,32}$"


class PlanStep(BaseModel):
    """One step of the plan; ``depends_on`` names steps that must come first."""

    id: str = Field(pattern=STEP_ID, description="short unique id, e.g. s1")
    description: str = Field(min_length=1, max_length=500)
    depends_on: list[str] = Field(default_factory=list, max_length=20)


class Plan(BaseModel):
    """A titled list of steps that together answer the query."""

    title: str = Field(min_length=1, max_length=200)
    steps: list[PlanStep] = Field(min_length=1, max_length=20)


class Entity(BaseModel):
    """A named thing worth remembering in the space graph."""

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="concept", min_length=1, max_length=60)


class Relation(BaseModel):
    """A relation between two entities, e.g. ``Qdrant USED_BY Spaces``."""

    source: str = Field(min_length=1, max_length=200)
    relation: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_ -]{0,63}$")
    target: str = Field(min_length=1, max_length=200)


class KeyFacts(BaseModel):
    """What the run learned, for the space's memory and graph."""

    facts: list[str] = Field(default_factory=list, max_length=10)
    entities: list[Entity] = Field(default_factory=list, max_length=20)
    relations: list[Relation] = Field(default_factory=list, max_length=30)


class RPIInput(TypedDict):
    """What a caller gives: the space, the query, optional source bounds."""

    space_id: NotRequired[str]  # else the run context's (an assistant's)
    query: NotRequired[str]  # else the last human message's text
    messages: NotRequired[Messages]
    context_spec: NotRequired[dict[str, Any] | None]


class RPIOutput(TypedDict, total=False):
    """What a caller gets back when the run ends (or stops to ask)."""

    status: str
    error: str | None
    space_id: str
    plan: dict[str, Any]
    artifacts: dict[str, str]
    unverified_citations: int
    unverified_quotes: int
    tokens_used: int
    cost_usd: float
    messages: Messages


class RPIState(TypedDict, total=False):
    """Everything ``rpi`` reads and writes; the research keys are shared with ``research``."""

    space_id: str
    query: str
    context_spec: dict[str, Any] | None
    model: str
    note_dir: str
    research: str
    research_path: str
    sources: list[dict[str, Any]]
    status: str
    error: str | None
    plan: dict[str, Any]
    order: list[str]
    plan_repairs: list[str]
    feedback: str | None
    approval_error: str | None
    step_index: int
    step_messages: list[AnyMessage]
    tool_rounds: int
    deliverables: dict[str, str]
    facts: dict[str, Any]
    artifacts: dict[str, str]
    unverified_citations: int
    unverified_quotes: int
    tokens_used: int
    cost_usd: float
    messages: Messages  # the question and the final answer, as stock UIs show them
