"""Start, resume and inspect graph runs from Python: the CLI and notebooks use this.

Runs are checkpointed in Postgres (langgraph-checkpoint-postgres, on the same
server as everything else), so a run stopped at an approval, or killed
mid-way, continues from its last checkpoint in any later process. The
result of every call is one status document (see ``RunResult.to_json``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command

from app.errors import InvalidInput, SpaceNotFound
from app.graphs.admission import check_query
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.driver import RUN, EventSink, ThreadDriver
from app.graphs.research.spec import parse_spec
from app.ids import validate_space_id, validate_thread_id, validate_user_id
from app.llm.resolve import model_names
from app.settings import Settings
from app.spaces.access.roles import Action, require, role_of
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.budget import thread_totals
from app.spaces.stores.run_records import get_thread

FINAL = ("completed", "rejected", "failed", "budget_exceeded")


@dataclass
class RunResult:
    """Where a run stands: finished, or waiting for a person's answer."""

    status: str
    thread_id: str
    space_id: str
    artifacts: dict[str, str] = field(default_factory=dict)
    tokens_used: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    plan: dict[str, Any] | None = None
    request: dict[str, Any] | None = None  # the pending interrupt's value
    findings: list[dict[str, Any]] | None = None  # research runs only
    refused: bool = False  # refused at admission (a user error), nothing of the space touched
    unverified_citations: int | None = None  # [n] naming no listed source, marked [n?]

    def to_json(self) -> dict[str, Any]:
        """The status document the CLI prints with ``--json``."""
        doc: dict[str, Any] = {"status": self.status, "thread_id": self.thread_id}
        if self.status == "awaiting_approval":
            request = {k: v for k, v in (self.request or {}).items() if k != "plan"}
            doc.update(space_id=self.space_id, plan=self.plan, request=request)
            return doc
        doc.update(
            space_id=self.space_id,
            artifacts={k: self.artifacts.get(k) for k in ("research", "plan", "implementation")},
            tokens_used=self.tokens_used,
            cost_usd=self.cost_usd,
        )
        if self.findings is not None:
            doc["findings"] = self.findings
        if self.unverified_citations is not None:
            doc["unverified_citations"] = self.unverified_citations
        if self.error:
            doc["error"] = self.error
        return doc


def _builder(name: str, deps: Deps) -> Any:
    if name == "rpi":
        from app.graphs.rpi import build_rpi

        return build_rpi(deps)
    if name == "research":
        from app.graphs.research import build_research

        return build_research(deps)
    raise InvalidInput(f"unknown graph {name!r}")


class Runner:
    """Runs graphs for one settings' stores, with a Postgres checkpointer.

    The runner owns its connections (``close`` releases them); its graphs are
    built over them once and compiled with the Postgres checkpointer.
    """

    def __init__(self, settings: Settings, deps: Deps | None = None):
        self.settings = settings
        self.deps = deps or Deps.from_settings(settings)
        self.backends = self.deps.backends
        self._driver = ThreadDriver(self.deps, RUN)
        self._graphs: dict[str, Any] = {}

    def close(self) -> None:
        """Release this runner's connections (the services keep running)."""
        self.backends.close()

    def _compiled(self, name: str) -> Any:
        if name not in self._graphs:
            builder = _builder(name, self.deps)
            self._graphs[name] = builder.compile(checkpointer=self.backends.checkpointer())
        return self._graphs[name]

    def start(
        self,
        graph_name: str,
        space_id: str,
        query: str,
        *,
        user_id: str | None = None,
        context_spec: dict[str, Any] | None = None,
        model: str | None = None,
        on_event: EventSink | None = None,
        thread_id: str | None = None,
    ) -> RunResult:
        """Start a run; it stops at the first approval or runs to the end.

        Malformed input raises before anything is stored; the graph's first
        node admits the run (space, owner, archival, budget) and a refusal
        comes back as a result with ``refused`` set. ``user_id`` defaults to
        the space's owner: the CLI is a local, trusted client. ``thread_id``
        (default: a new UUID) lets the caller show the id before the run
        starts; an id already in use is refused.
        """
        validate_space_id(space_id)
        check_query(query)
        parse_spec(context_spec)
        if model is not None:
            model_names(model)
        owner = user_id
        if owner is None:
            owner = self._manager().get_space(space_id).owner_id
        context = RunContext(user_id=validate_user_id(owner), model=model)
        if thread_id is None:
            thread_id = str(uuid.uuid4())
        elif get_thread(self.backends.pool, validate_thread_id(thread_id)) is not None:
            raise InvalidInput(f"thread id {thread_id!r} is already in use")
        payload = {"space_id": space_id, "query": query, "context_spec": context_spec}
        return self._drive(graph_name, thread_id, space_id, context, payload, on_event)

    def resume(
        self,
        thread_id: str,
        answer: dict[str, Any] | None = None,
        *,
        user_id: str | None = None,
        on_event: EventSink | None = None,
    ) -> RunResult:
        """Answer the pending approval (or, with ``None``, continue a crashed run).

        ``user_id`` (default: whoever started the run) is the user who resumes
        it: a member of the space whose role allows answering approvals, or
        continuing runs. The graph checks again at every node. An answer for
        a run that was interrupted before its plan approval (a killed
        ``spaces run --approve``) continues the run and is given to the plan
        approval when the run reaches it; an interrupted run that had passed
        its approval simply continues.
        """
        record = self._thread(thread_id, user_id)
        resumer = user_id or record.user_id
        action = Action.RUN if answer is None else Action.APPROVE
        require(self._manager(), record.space_id, resumer, action, request_id=thread_id)
        context = RunContext(user_id=resumer)
        current = self.status(thread_id, user_id=resumer)
        if current.status in FINAL:
            return current
        if answer is None and current.status == "awaiting_approval":
            return current
        if answer is not None and current.status == "interrupted":
            return self._continue_then_answer(record, context, answer, on_event)
        if answer is not None and current.status != "awaiting_approval":
            raise InvalidInput(f"run {thread_id} is not waiting for an approval")
        payload = None if answer is None else Command(resume=answer)
        return self._drive(record.graph, thread_id, record.space_id, context, payload, on_event)

    def _continue_then_answer(
        self, record: Any, context: RunContext, answer: dict[str, Any], on_event: EventSink | None
    ) -> RunResult:
        """Continue an interrupted run; answer its plan approval with ``answer`` if it gets there.

        A person who started with ``--approve`` resumes with it: the answer
        was meant for the plan. A tool approval is not a plan: the run stops
        there for its own answer.
        """
        thread_id, space_id = record.thread_id, record.space_id
        result = self._drive(record.graph, thread_id, space_id, context, None, on_event)
        if (
            result.status == "awaiting_approval"
            and (result.request or {}).get("type") == "plan_approval"
        ):
            payload = Command(resume=answer)
            result = self._drive(record.graph, thread_id, space_id, context, payload, on_event)
        return result

    def status(self, thread_id: str, *, user_id: str | None = None) -> RunResult:
        """Where the run stands now, from its last checkpoint."""
        record = self._thread(thread_id, user_id)
        graph = self._compiled(record.graph)
        snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
        return self._result(record.space_id, thread_id, snapshot)

    def _manager(self) -> SpaceManager:
        return SpaceManager(self.settings, self.backends)

    def _thread(self, thread_id: str, user_id: str | None) -> Any:
        """The thread's record, if ``user_id`` (when given) is a member of its space."""
        validate_thread_id(thread_id)
        record = get_thread(self.backends.pool, thread_id)
        if (
            record is not None
            and user_id is not None
            and record.user_id != user_id
            and role_of(self.backends.pool, record.space_id, validate_user_id(user_id)) is None
        ):
            record = None
        if record is None:
            raise SpaceNotFound(f"no run {thread_id!r}")
        return record

    def _drive(
        self,
        graph_name: str,
        thread_id: str,
        space_id: str,
        context: RunContext,
        payload: Any,
        on_event: EventSink | None,
    ) -> RunResult:
        """Run the graph until it ends or stops to ask; report progress as it goes.

        ``subgraphs``: the research phase's sub-agents report progress too.
        """
        graph = self._compiled(graph_name)
        snapshot = self._driver.drive(
            graph, thread_id, space_id, context, payload, on_event, subgraphs=True
        )
        return self._result(space_id, thread_id, snapshot)

    def _result(self, space_id: str, thread_id: str, snapshot: Any) -> RunResult:
        values = snapshot.values or {}
        if snapshot.interrupts:
            return RunResult(
                status="awaiting_approval",
                thread_id=thread_id,
                space_id=space_id,
                plan=values.get("plan"),
                request=snapshot.interrupts[0].value,
            )
        status = values.get("status") or "failed"
        if snapshot.next or snapshot.tasks:
            # Stopped mid-way (a crash): resume continues it. ``tasks`` without
            # ``next``: a node finished but the step was never checkpointed.
            status = "interrupted"
        artifacts = values.get("artifacts") or (
            {"research": values["research_path"]} if values.get("research_path") else {}
        )
        tokens, cost = thread_totals(self.backends.pool, thread_id)
        refused = status in ("failed", "budget_exceeded") and not values.get("model")
        return RunResult(
            status=status,
            thread_id=thread_id,
            space_id=space_id,
            artifacts=artifacts,
            tokens_used=tokens,
            cost_usd=round(cost, 6),
            error=values.get("error"),
            findings=values.get("findings"),
            refused=refused,
            unverified_citations=values.get("unverified_citations"),
        )
