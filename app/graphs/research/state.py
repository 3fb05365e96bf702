"""State of the research graph, its input and output, and what its sub-agents return.

The keys it shares with ``rpi`` (``space_id``, ``query``, ``context_spec``,
``model``, ``note_dir``, ``research``, ``research_path``, ``sources``,
``status``, ``error``) are how ``rpi`` uses this graph, unchanged, as its
research phase. ``related_notes`` (notes inside ``note_dir`` to link from
the research note) are linked only if they exist when it is written; ``rpi``
links its plan and implementation itself, once they are written.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired, get_args

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from app.graphs.messages import Messages

AgentName = Literal["files", "links", "data", "memory", "graph"]
AGENTS: tuple[str, ...] = get_args(AgentName)  # the order sources are tie-broken in


class Citation(TypedDict):
    """Where a finding came from: a vault path, a URL, a file and rows, a memory, a node."""

    kind: Literal["vault", "document", "url", "file", "memory", "graph"]
    ref: str
    label: str


class Finding(TypedDict):
    """One thing a sub-agent found, with its source; ``error`` set if the agent failed."""

    agent: str
    text: str
    citation: Citation | None
    score: float
    error: NotRequired[str]


class ResearchInput(TypedDict):
    """What a caller gives: the space, the question, optional source bounds.

    ``rpi`` also passes the run's ``model``, the folder for the note and the
    notes it should link to, so the research lands with the rest of the run.
    """

    space_id: NotRequired[str]  # else the run context's (an assistant's)
    query: NotRequired[str]  # else the last human message's text
    messages: NotRequired[Messages]
    context_spec: NotRequired[dict[str, Any] | None]
    model: NotRequired[str]
    note_dir: NotRequired[str]
    related_notes: NotRequired[list[str]]


class ResearchOutput(TypedDict, total=False):
    """What a caller gets back."""

    status: str
    error: str | None
    research: str
    research_path: str
    sources: list[dict[str, Any]]
    findings: list[Finding]
    unverified_citations: int
    unverified_quotes: int
    messages: Messages


class ResearchKeys(TypedDict, total=False):
    """The keys ``rpi`` shares with this graph: how it runs research as its first phase.

    Both states extend this one class, so the two graphs cannot drift apart
    on a name or a type (``rpi`` hands its state to this graph unchanged).
    """

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
    unverified_citations: int
    unverified_quotes: int
    messages: Messages  # the question and the answer, as stock UIs show them


class ResearchState(ResearchKeys, total=False):
    """Everything the research graph reads and writes."""

    related_notes: list[str]
    findings: Annotated[list[Finding], operator.add]


class AgentTask(TypedDict):
    """What the coordinator sends one sub-agent: its source's bounds and its token share."""

    space_id: str
    query: str
    agent: AgentName
    source: dict[str, Any]
    model: str
    token_share: int
    skip_prefix: str


class Relevant(BaseModel):
    """The numbers of the candidate passages that help answer the query, best first."""

    ids: list[int] = Field(default_factory=list, max_length=50)
