"""One scope per node run: who runs, on which space, with which model, and how to call it.

Every node that touches a space is written against a ``Scope``, built once
when the node starts: the authenticated run context, the space opened once
(one registry read, which also re-checks ownership and archival, so a space
archived mid-run stops the run at its next node), the run's model and thread,
``ask`` (budgeted, counted model calls) and ``emit`` (events in the
envelope). ``scoped`` turns such a function into a LangGraph node and owns
the one mapping of errors to outcomes: a spent budget or a user error ends
the run through its ``finish`` node with a status and a one-line error,
while a store or model failure propagates, so the run stays resumable from
its last checkpoint.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel

from app.errors import BudgetExceeded, ModelUnavailable, SpacesError, StoreUnavailable
from app.graphs.admission import authorize, run_context
from app.graphs.calls import call_key, invoke_model, thread_id_of
from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.events import Writer, emit
from app.llm.fit import prompt_room
from app.llm.resolve import MAX_OUTPUT_TOKENS, model_names
from app.llm.structured import ask_valid
from app.llm.window import MESSAGE_OVERHEAD, Counter, chain_window, estimate
from app.settings import Settings
from app.spaces.access.roles import Action, allowed, role_of
from app.spaces.space_manager import SpaceManager
from app.spaces.stores import audit
from app.spaces.stores.budget import SpaceBudget
from app.spaces.stores.documents import documents_for_prompt, open_documents_section
from app.spaces.stores.handle import SpaceHandle


@dataclass
class Scope:
    """Everything one node run needs; built by ``open_scope``, used by one node only."""

    deps: Deps
    context: RunContext
    space: SpaceHandle
    config: RunnableConfig
    writer: Writer | None = None
    model: str | None = None
    _calls: int = field(default=0, repr=False)

    @property
    def space_id(self) -> str:
        """The space this node works on."""
        return self.space.config.space_id

    @property
    def user_id(self) -> str:
        """The user the run acts for (the authenticated one under the server)."""
        return self.context.user_id

    @property
    def thread_id(self) -> str | None:
        """The run's thread, if it has one (an in-memory test run may not)."""
        return thread_id_of(self.config)

    @property
    def settings(self) -> Settings:
        """The process settings the graph was built with."""
        return self.deps.settings

    @property
    def manager(self) -> SpaceManager:
        """A manager on the graph's shared connections."""
        return self.deps.manager()

    @property
    def budget(self) -> SpaceBudget:
        """The space's token budget."""
        return SpaceBudget(self.deps.backends.pool, self.space.config)

    def ask(
        self,
        messages: Sequence[BaseMessage],
        *,
        schema: type[BaseModel] | None = None,
        validate: Callable[[Any], Any] | None = None,
        tools: Sequence[Any] = (),
        max_output: int = MAX_OUTPUT_TOKENS,
        share: int | None = None,
        model: str | None = None,
    ) -> Any:
        """Call the run's model under the budget and report the space's usage.

        With a ``schema`` (and/or ``validate``, which raises ``InvalidInput``
        or returns the value to use), an unusable answer is re-asked with its
        error, at most twice more, each re-ask a counted, budgeted call and a
        ``model.reasked`` event; then ``InvalidOutput`` (see
        ``app.llm.structured``). A call with ``tools`` is re-asked the same
        way when the server could not parse the model's tool call. Calls are
        numbered in the order a node makes them; a node that re-runs after a
        crash makes them in the same order, so each is counted once.
        """
        if schema is None and validate is None and not tools:
            return self._call(messages, None, tools, max_output, share, model, False)

        def call(history: list[BaseMessage], flipped: bool) -> Any:
            return self._call(history, schema, tools, max_output, share, model, flipped)

        def reasked(attempt: int, error: str) -> None:
            what = schema.__name__ if schema is not None else "answer"
            self.emit("model.reasked", what=what, attempt=attempt, error=error[:300])

        return ask_valid(call, messages, schema=schema, validate=validate, on_reask=reasked)

    def room(self, max_output: int = MAX_OUTPUT_TOKENS) -> tuple[int, Counter]:
        """Tokens a prompt's messages may take in the run model's window, and a safe counter.

        Prompt builders trim what they own (research by rank, earlier
        deliverables) to this; ``invoke_model`` still guards every request.
        """
        if self.model is None:
            raise RuntimeError("this node has no model: the run was not admitted")
        window = chain_window(model_names(self.model), self.settings)
        room = prompt_room(window, max_output)
        if window.source != "none":  # the open documents go before every prompt
            section = open_documents_section(documents_for_prompt(self.space))
            room -= estimate(section) + MESSAGE_OVERHEAD if section else 0
        return room, estimate

    def _call(
        self,
        messages: Sequence[BaseMessage],
        schema: type[BaseModel] | None,
        tools: Sequence[Any],
        max_output: int,
        share: int | None,
        model: str | None,
        flipped: bool,
    ) -> Any:
        """One numbered, budgeted model call; its answer."""
        seq, self._calls = self._calls, self._calls + 1
        name = model or self.model
        if name is None:
            raise RuntimeError("this node has no model: the run was not admitted")
        done = invoke_model(
            self.space, self.budget, self.settings, self.config,
            model=name, messages=messages, schema=schema, tools=tools, seq=seq,
            max_output=max_output, share=share, flipped=flipped,
        )  # fmt: skip
        if done.fitted:
            self.emit("context.fitted", changes=list(done.fitted)[:10])
        self.emit(
            "usage.updated", key=call_key(self.config, seq), tokens_used=done.tokens_used,
            api_calls_used=done.api_calls_used, cost_usd=round(done.cost_usd, 6),
        )  # fmt: skip
        return done.answer

    def emit(self, event_type: str, *, key: str | None = None, **payload: Any) -> dict[str, Any]:
        """Stream one event about this space to whoever watches the run."""
        return emit(
            self.writer, self.config, event_type, self.space_id,
            actor=self.user_id, key=key, **payload,
        )  # fmt: skip

    def audit(self, action: str, key: str, *, outcome: str = "ok", **detail: Any) -> bool:
        """Append one audit entry for this run, once per ``key`` within its thread."""
        thread = self.thread_id
        return audit.record(
            self.deps.backends.pool, self.space.config.postgres_schema, actor=self.user_id,
            action=action, target=self.space_id, outcome=outcome, request_id=thread,
            detail=detail, key=f"{thread}:{key}" if thread else None,
        )  # fmt: skip

    def allows(self, action: Action) -> bool:
        """Whether this run's user may do ``action`` now (read afresh: roles change)."""
        return allowed(role_of(self.deps.backends.pool, self.space_id, self.user_id), action)


def open_scope(
    deps: Deps,
    context: RunContext,
    config: RunnableConfig,
    space_id: object,
    *,
    model: str | None = None,
    writer: Writer | None = None,
) -> Scope:
    """Authorize ``context``'s user on ``space_id`` and build the node's scope."""
    space = authorize(deps.manager(), context, space_id, thread_id_of(config))
    return Scope(deps, context, space, config, writer=writer, model=model)


def approval_key(scope: Scope, asked: int) -> str:
    """A key for the ``asked``-th answer a node got in this step (stable across re-runs)."""
    meta = scope.config.get("metadata") or {}
    where = f"{meta.get('langgraph_checkpoint_ns', '')}|{meta.get('langgraph_step')}|{asked}"
    return f"approval:{where}"


def approval_refused(scope: Scope, kind: str, asked: int) -> str:
    """Audit an answer from a user whose role may not approve; the error to ask again with."""
    scope.audit(f"approval.{kind}", approval_key(scope, asked), outcome="refused")
    return f"user {scope.user_id!r} may not answer approvals in space {scope.space_id!r}"


RUN_END = {"completed": ("run.end", "ok"), "rejected": ("run.end", "ok")}


def audit_run_end(scope: Scope, status: str) -> None:
    """Record how the run ended, once: ended, failed, or refused by the budget."""
    action, outcome = RUN_END.get(status) or (
        ("budget.refused", "refused") if status == "budget_exceeded" else ("run.failure", "failed")
    )
    scope.audit(action, "run.end", outcome=outcome, status=status)


def space_of(state: Any, context: RunContext) -> object:
    """The run's space: its input's ``space_id``, else its context's (an assistant's)."""
    return state.get("space_id") or context.space_id


def node_scope(
    deps: Deps, runtime: Runtime[RunContext], config: RunnableConfig, state: Any
) -> Scope:
    """The scope of a node run: its state's space and model, its runtime's user and writer."""
    context = run_context(runtime)
    return open_scope(
        deps, context, config, space_of(state, context),
        model=state.get("model"), writer=runtime.stream_writer,
    )  # fmt: skip


def allowed_scope(
    deps: Deps, runtime: Runtime[RunContext], config: RunnableConfig, state: Any
) -> Scope | None:
    """The scope of a run's last node, or ``None`` if the run may not touch its space.

    A ``finish`` node runs for refused runs too: it opens the space only if
    the run was allowed on it, and touches nothing otherwise.
    """
    try:
        context = run_context(runtime)
        return open_scope(
            deps, context, config, space_of(state, context), writer=runtime.stream_writer
        )
    except SpacesError:
        return None


def stop(goto: str, status: str, exc: BaseException) -> Command:
    """End the run through ``goto`` with ``status`` and the error's one line."""
    return Command(goto=goto, update={"status": status, "error": str(exc)})


def outcome(goto: str, body: Callable[[], Any]) -> Any:
    """Run ``body``; map a spent budget or a user error to ``goto`` with a status.

    Store and model failures propagate: the run stays resumable.
    """
    try:
        return body()
    except BudgetExceeded as exc:
        return stop(goto, "budget_exceeded", exc)
    except (StoreUnavailable, ModelUnavailable):
        raise
    except SpacesError as exc:
        return stop(goto, "failed", exc)


def scoped[S](
    deps: Deps, fn: Callable[[S, Scope], Any], *, on_stop: str = "finish"
) -> Callable[..., Any]:
    """A LangGraph node that opens a ``Scope`` and runs ``fn(state, scope)`` under ``outcome``.

    The node keeps ``fn``'s name, docstring and return annotation (its
    ``Command[Literal[...]]``, from which Studio draws the edges); its
    signature is the one LangGraph reads to pass the runtime and config.
    """
    hints = typing.get_type_hints(fn)

    def node(state: Any, runtime: Runtime[RunContext], config: RunnableConfig) -> Any:
        return outcome(on_stop, lambda: fn(state, node_scope(deps, runtime, config, state)))

    node.__name__ = node.__qualname__ = fn.__name__
    node.__doc__ = fn.__doc__
    node.__module__ = fn.__module__
    node.__annotations__ = {
        "state": hints.get("state", Any),
        "runtime": Runtime[RunContext],
        "config": RunnableConfig,
        "return": hints.get("return", Any),
    }
    return node
