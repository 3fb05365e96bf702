"""State, input and output of ``rpi``, and the schemas the model fills in.

``Plan`` (``app/graphs/plans.py``, shared with ``chat``'s task plans) and
``KeyFacts`` are asked of the model as structured output; the plans are
checked in ``plans.py`` and repaired in ``planning.py``.
"""

from __future__ import annotations

from typing import Any, NotRequired

from langchain_core.messages import AnyMessage
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from app.graphs.messages import Messages
from app.graphs.plans import STEP_ID, Plan, PlanStep
from app.graphs.research.state import ResearchKeys

__all__ = ["STEP_ID", "Plan", "PlanStep"]  # and the classes below


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


class RPIState(ResearchKeys, total=False):
    """Everything ``rpi`` reads and writes; the research keys are ``ResearchKeys``, shared."""

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
    tokens_used: int
    cost_usd: float
