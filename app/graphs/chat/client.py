"""Chat turns driven in process (the CLI, notebooks, tests, benchmarks).

A session is a thread of the ``chat`` graph, checkpointed in Postgres like
every run, so a turn stopped at an approval is answered from any later
process. The session's owner record (the registry's ``threads``) is checked
before anything is read: another user's session, or one of another space,
is "no session". Approvals are answered by interrupt id (LangGraph's resume
map), so parallel branches that each asked are answered each on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command

from app.errors import InvalidInput
from app.graphs.admission import authorize
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.driver import SESSION, EventSink, ThreadDriver
from app.ids import validate_space_id, validate_user_id
from app.spaces.stores.chat_store import check_session

ANSWER_ROUNDS = 20  # --approve answers each approval a turn asks, up to this many


@dataclass
class Turn:
    """Where a turn stands: finished, or waiting for answers to its interrupts."""

    status: str
    session_id: str
    space_id: str
    turn: int | None = None
    mode: str | None = None
    reply: str | None = None
    error: str | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    # Refused before it began (an unknown @agent, a spent budget, a bad
    # message): a person's mistake, not the agents' failure.
    refused: bool = False

    @property
    def request(self) -> dict[str, Any] | None:
        """The first pending interrupt's value (the plan or the tool call asked about)."""
        return self.interrupts[0]["value"] if self.interrupts else None

    def to_json(self) -> dict[str, Any]:
        """The status document ``spaces chat --json`` prints."""
        doc = {
            "status": self.status, "session_id": self.session_id, "space_id": self.space_id,
            "turn": self.turn, "mode": self.mode, "reply": self.reply, "error": self.error,
            "tasks": [
                {k: t.get(k) for k in ("id", "agent", "agent_id", "status", "depends_on", "error")}
                for t in self.tasks
            ],
        }  # fmt: skip
        if self.interrupts:
            doc["interrupts"] = self.interrupts
        if self.refused:
            doc["refused"] = True
        return doc


REFUSABLE = ("failed", "budget_exceeded")


def _refused(turn: Turn) -> None:
    """Mark a turn that ``admit`` refused: it never counted, so what the state holds
    besides the error (reply, mode, tasks) is the previous turn's."""
    turn.refused = True
    turn.reply, turn.mode, turn.tasks = None, None, []


class ChatClient:
    """Send messages to sessions and answer their approvals, with a Postgres checkpointer."""

    def __init__(self, deps: Deps):
        self.deps = deps
        self._driver = ThreadDriver(deps, SESSION)
        self._graph: Any = None

    @property
    def graph(self) -> Any:
        """The compiled ``chat`` graph on these connections."""
        if self._graph is None:
            from app.graphs.chat.graph import build_chat

            self._graph = build_chat(self.deps).compile(
                checkpointer=self.deps.backends.checkpointer()
            )
        return self._graph

    def _owned(self, space_id: str, user_id: str, session_id: str) -> None:
        """Refuse, as "no space" or "no session", what is not ``user_id``'s."""
        authorize(self.deps.manager(), RunContext(user_id=user_id), space_id)
        check_session(self.deps.backends.pool, space_id, user_id, session_id)

    def send(
        self,
        space_id: str,
        user_id: str,
        text: str,
        *,
        session_id: str | None = None,
        model: str | None = None,
        answer: str | None = None,
        on_event: EventSink | None = None,
    ) -> Turn:
        """Send ``text`` (or, to a waiting session, ``answer`` its approvals) and run the turn.

        With ``answer`` (``approve`` or ``reject``), every approval the turn
        asks is answered so, as it comes; without, the turn stops at the
        first one and the result lists the interrupts to answer.
        """
        validate_space_id(space_id)
        validate_user_id(user_id)
        session_id = session_id or str(uuid.uuid4())
        self._owned(space_id, user_id, session_id)
        context = RunContext(user_id=user_id, model=model)
        pending = self.status(space_id, user_id, session_id)
        if pending.status == "interrupted":  # a turn stopped mid-way (a crash)
            if text.strip():
                raise InvalidInput(
                    f"session {session_id} stopped mid-turn: send an empty message to continue it"
                )
            return self._drive(space_id, session_id, context, None, on_event)
        if pending.interrupts:
            if answer is None or text.strip():
                raise InvalidInput(
                    f"session {session_id} waits for an approval: answer it (--approve or "
                    "--reject, with an empty message) before sending another"
                )
            turn = pending
        else:
            message = {"space_id": space_id, "message": text}
            turn = self._drive(space_id, session_id, context, message, on_event)
            if turn.status in REFUSABLE and turn.turn == pending.turn:
                _refused(turn)
        for _ in range(ANSWER_ROUNDS):
            if answer is None or not turn.interrupts:
                break
            answers = {i["id"]: {"action": answer} for i in turn.interrupts}
            turn = self._drive(space_id, session_id, context, Command(resume=answers), on_event)
        return turn

    def answer(
        self,
        space_id: str,
        user_id: str,
        session_id: str,
        answers: dict[str, Any],
        *,
        on_event: EventSink | None = None,
    ) -> Turn:
        """Answer some of the session's pending interrupts, each by its id."""
        self._owned(space_id, user_id, session_id)
        pending = {i["id"] for i in self.status(space_id, user_id, session_id).interrupts}
        unknown = sorted(set(answers) - pending)
        if not answers or unknown:
            raise InvalidInput(f"no pending approval {unknown[0] if unknown else ''!r} here")
        context = RunContext(user_id=user_id)
        return self._drive(space_id, session_id, context, Command(resume=answers), on_event)

    def status(self, space_id: str, user_id: str, session_id: str) -> Turn:
        """The session's last turn as it stands, from its checkpoint."""
        self._owned(space_id, user_id, session_id)
        snapshot = self.graph.get_state({"configurable": {"thread_id": session_id}})
        return self._turn(space_id, session_id, snapshot)

    def _drive(
        self, space_id: str, session_id: str, context: RunContext, payload: Any,
        on_event: EventSink | None,
    ) -> Turn:  # fmt: skip
        snapshot = self._driver.drive(self.graph, session_id, space_id, context, payload, on_event)
        return self._turn(space_id, session_id, snapshot)

    @staticmethod
    def _turn(space_id: str, session_id: str, snapshot: Any) -> Turn:
        values = snapshot.values or {}
        tasks = values.get("tasks") or {}
        order = [t["id"] for t in values.get("plan") or []]
        turn = Turn(
            status=values.get("status") or "new", session_id=session_id, space_id=space_id,
            turn=values.get("turn"), mode=values.get("mode"), reply=values.get("reply"),
            error=values.get("error"), tasks=[tasks.get(i) or p for i, p in
                                              zip(order, values.get("plan") or [], strict=True)],
        )  # fmt: skip
        if snapshot.interrupts:
            turn.status = "awaiting_approval"
            turn.interrupts = [{"id": i.id, "value": i.value} for i in snapshot.interrupts]
        elif snapshot.next:
            turn.status = "interrupted"  # stopped mid-way (a crash): send again resumes it
        return turn
