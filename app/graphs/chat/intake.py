"""The ``chat`` turn's first node: which space, and which message, whatever the client sent.

Today's input is ``{space_id, message}``. A stock LangGraph UI sends
``{messages: [...]}`` and no space: the last human message is the turn, and
the space is the run context's ``space_id`` (an assistant made for the
space carries it, see ``app/server/assistants.py``) or, for assistants
configured the older way, ``config.configurable.space_id``. An assistant
made for an agent also carries ``agent``: a message without ``@name`` goes
to that agent. A human message a turn already ran for is not run again.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command

from app.errors import InvalidInput
from app.graphs.admission import run_context
from app.graphs.context import RunContext
from app.graphs.messages import KEPT_MAX, last_human, question, text_of, trimmed
from app.graphs.scope import outcome

NO_MESSAGE = "send a message: {messages: [{type: 'human', content: ...}]} or {message: ...}"


def _space(state: Any, context: RunContext, config: RunnableConfig) -> str:
    space = state.get("space_id") or context.space_id
    if not space:
        space = (config.get("configurable") or {}).get("space_id")
    if not isinstance(space, str) or not space:
        raise InvalidInput("a chat turn needs a space: give space_id, or use the space's assistant")
    return space


def _turn(state: Any, context: RunContext, config: RunnableConfig) -> Command:
    update: dict[str, Any] = {"space_id": _space(state, context, config)}
    text = state.get("message")
    if text is not None:  # today's input: the message itself, added to the conversation
        if not isinstance(text, str):
            raise InvalidInput("message must be text")
        human = question(text, str(uuid.uuid4()))
        update["messages"] = [human]
    else:
        human = last_human(state.get("messages"))
        if human is None or human.id == state.get("answered"):
            raise InvalidInput(NO_MESSAGE)
        text = text_of(human)
    update["messages"] = [
        *trimmed(state.get("messages"), KEPT_MAX - 2),
        *update.get("messages", []),
    ]
    if context.agent and not text.lstrip().startswith("@"):
        text = f"@{context.agent} {text}"
    update.update(message=text, answered=human.id)
    return Command(goto="admit", update=update)


def intake(
    state: Any, runtime: Runtime[RunContext], config: RunnableConfig
) -> Command[Literal["admit", "finish"]]:
    """Fix the turn's space and message; a turn that has neither ends ``failed``."""
    return outcome("finish", lambda: _turn(state, run_context(runtime), config))
