"""The ``messages`` every graph keeps, as stock LangGraph UIs read them.

agent-chat-ui, assistant-ui and ``useStream`` render a thread's
``values.messages`` (LangChain messages, merged by ``add_messages``) and
submit ``{messages: [...]}``. The graphs keep their own keys too; this is
the conversation as those UIs see it: each question as a ``HumanMessage``,
each reply or final answer as an ``AIMessage``. Ids are fixed per run
(``rpi``, ``research``) or per turn (``chat``), so a node that runs again
after a crash replaces its message instead of adding a second one, and the
research phase of ``rpi`` adds the same question once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
)
from langgraph.graph.message import add_messages

Messages = Annotated[list[AnyMessage], add_messages]
ANSWER_MAX = 100_000
KEPT_MAX = 200  # a chat thread's checkpoint keeps this many; the space's history keeps all


def text_of(message: BaseMessage) -> str:
    """A message's text: its string content, or its text blocks joined (UIs send blocks)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = [
        b if isinstance(b, str) else str(b.get("text") or "")
        for b in content
        if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")
    ]
    return "".join(parts)


def last_human(messages: Sequence[BaseMessage] | None) -> HumanMessage | None:
    """The most recent human message, if any (the turn a ``{messages}`` input asks for)."""
    for message in reversed(messages or []):
        if isinstance(message, HumanMessage):
            return message
    return None


def trimmed(messages: Sequence[BaseMessage] | None, keep: int = KEPT_MAX) -> list[RemoveMessage]:
    """Removals that leave the last ``keep`` messages (a long session's checkpoint stays bounded).

    The full history stays in the space's ``messages`` table (``ChatStore``),
    compacted there; the thread keeps what a UI shows of the recent turns.
    """
    old = list(messages or [])[:-keep] if keep else list(messages or [])
    return [RemoveMessage(id=m.id) for m in old if m.id]


def question_of(state: Any) -> object:
    """A run's question: its ``query``, else the text of its last human message (a UI's input)."""
    query = state.get("query")
    if query is None and (human := last_human(state.get("messages"))) is not None:
        return text_of(human)
    return query


def question(text: str, msg_id: str) -> HumanMessage:
    """The run's question as the UIs show it."""
    return HumanMessage(text, id=msg_id)


def answer(text: str, msg_id: str, *, name: str | None = None) -> AIMessage:
    """A reply or final answer as the UIs show it (bounded: the state is checkpointed)."""
    return AIMessage(text[:ANSWER_MAX], id=msg_id, name=name)
