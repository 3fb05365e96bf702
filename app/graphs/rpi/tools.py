"""Tools the implement step may call, and which of them need a person's approval.

A tool that acts outside the space's vault (here: the network) is listed in
``NEEDS_APPROVAL``; the graph asks through a ``tool_approval`` interrupt
before running it. ``http_get`` and how it runs are shared with ``chat``
(``app/graphs/tools/http.py``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from pydantic import ValidationError

from app.errors import InvalidInput
from app.graphs.tools.http import http_get, run_tool
from app.llm.structured import describe

__all__ = ["IMPLEMENT_TOOLS", "NEEDS_APPROVAL", "check_tool_calls", "http_get", "run_tool"]

IMPLEMENT_TOOLS: list[Any] = [http_get]
NEEDS_APPROVAL = frozenset({"http_get"})


def check_tool_calls(message: AIMessage) -> AIMessage:
    """``message`` if its tool calls name known tools with valid arguments, else ``InvalidInput``.

    ``Scope.ask`` sends the error back to the model, which then asks again.
    """
    if message.invalid_tool_calls:
        name = message.invalid_tool_calls[0].get("name")
        raise InvalidInput(f"the arguments of {name!r} were not valid JSON")
    known = {t.name: t for t in IMPLEMENT_TOOLS}
    for call in message.tool_calls:
        tool = known.get(call["name"])
        if tool is None:
            raise InvalidInput(f"there is no tool {call['name'][:40]!r}; use {', '.join(known)}")
        try:
            tool.args_schema.model_validate(call["args"])
        except ValidationError as exc:
            raise InvalidInput(f"{call['name']} arguments: {describe(exc)}") from None
    return message
