"""Structured output that works on common servers: two methods, our own parsing, re-asks.

OpenAI-protocol servers differ in how they honour a request for structured
output. OpenAI honours both a forced ``tool_choice`` and ``response_format:
json_schema``; llama.cpp's ``llama-server`` honours ``json_schema`` (it turns
the schema into a grammar) but silently turns a named ``tool_choice`` into
"auto", so a small model answers in prose. Some servers refuse
``response_format`` with HTTP 400. So:

- each model names its preferred method in its name, explicitly:
  ``openai:<model>@json_schema`` or ``openai:<model>@tools`` (the default,
  also for a name without a suffix). Only these two suffixes are read; any
  other ``@`` stays part of the model's name;
- the answer is parsed here, not by LangChain: the schema's tool call, else
  JSON in the message text (fenced or not), so a server that ignored the
  method but still wrote the object is understood;
- ``ask_valid`` asks again, at most ``ATTEMPTS - 1`` more times, with the
  validation error, and switches to the other method when an answer had no
  structured output at all or the server refused the method;
- a server that could not parse the model's own output (llama-server
  answers HTTP 500 "Failed to parse tool call arguments as JSON") is a bad
  answer, not a provider failure: it is re-asked the same way
  (``UnparsedOutput``). Seen once in ten runs of SmolLM2 in the slow test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ValidationError

from app.errors import InvalidInput, SpacesError
from app.llm.names import DEFAULT_METHOD, METHODS, split_method

__all__ = ["DEFAULT_METHOD", "METHODS", "split_method"]  # and what is defined below

ATTEMPTS = 3  # the first ask and at most two re-asks
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class InvalidOutput(SpacesError):
    """The model's answer stayed unusable after every re-ask; ``raw`` is its last object."""

    def __init__(self, what: str, error: str, raw: Any, attempts: int, last: Any = None):
        self.what, self.error, self.raw, self.attempts = what, error, raw, attempts
        self.last = last  # the last message, for a caller that can still use it
        super().__init__(f"the model's {what} was unusable after {attempts} attempts: {error}")


class UnparsedOutput(Exception):
    """The server could not parse what the model generated (e.g. its tool-call JSON)."""


def unparsed(status: object, message: str) -> bool:
    """Whether a server's error says the model's output could not be parsed."""
    return status in (400, 500) and "failed to parse" in message.lower()


class MethodRefused(Exception):
    """The server refused the structured-output method (HTTP 400); the other one may work."""

    def __init__(self, error: SpacesError):
        super().__init__(str(error))
        self.error = error


def other(method: str) -> str:
    """The method to fall back to."""
    return METHODS[1 - METHODS.index(method)]


def bind_structured(chat_model: BaseChatModel, schema: type[BaseModel], method: str) -> Runnable:
    """``chat_model`` asked for ``schema`` by ``method``; it answers with a plain message."""
    name = schema.__name__
    if method == "json_schema":
        spec = {"name": name, "schema": schema.model_json_schema()}
        return chat_model.bind(response_format={"type": "json_schema", "json_schema": spec})
    return chat_model.bind_tools([schema], tool_choice=name)


def _json_in(text: str) -> Any:
    """The first JSON object in ``text`` (inside a code fence or bare), else ``None``."""
    for candidate in [*(m.group(1) for m in _FENCE.finditer(text)), text]:
        start = candidate.find("{")
        if start < 0:
            continue
        try:
            value, _end = json.JSONDecoder().raw_decode(candidate[start:])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def cut_off(message: AIMessage) -> bool:
    """Whether the answer stopped at the output limit (a cut object is no method failure)."""
    return (message.response_metadata or {}).get("finish_reason") == "length"


def structured_args(message: AIMessage, schema: type[BaseModel]) -> tuple[Any, str | None]:
    """``(object, None)`` from the answer, or ``(None, what was wrong)``."""
    if cut_off(message) and _json_in(str(message.content or "")) is None:
        return None, f"the {schema.__name__} was cut off at the output limit: make it shorter"
    for call in message.tool_calls:
        if call["name"] == schema.__name__:
            return call["args"], None
    for bad in message.invalid_tool_calls:
        if bad.get("name") == schema.__name__:
            return None, f"the arguments of {schema.__name__} were not valid JSON"
    found = _json_in(str(message.content or ""))
    if found is not None:
        # Some models wrap the object in the tool-call shape they were shown.
        inner = found.get("arguments") or found.get("parameters")
        return (inner if found.get("name") == schema.__name__ and inner else found), None
    return None, f"the answer had no {schema.__name__} object"


def describe(exc: ValidationError) -> str:
    """The first three problems of a validation error, on one line."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "object"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _reask(message: AIMessage, raw: Any, error: str, what: str) -> list[BaseMessage]:
    """The turn that shows the model its answer and what was wrong with it."""
    if message.tool_calls and raw is None:  # tool calls of the run's own tools
        return [
            message,
            *(ToolMessage(f"failed: {error}", tool_call_id=c["id"]) for c in message.tool_calls),
        ]
    said = json.dumps(raw) if raw is not None else str(message.content or "")[:2_000]
    return [
        AIMessage(said or "(no answer)"),
        HumanMessage(
            f"That {what} is not usable: {error}. Answer again with a corrected {what}, "
            "as one JSON object that follows the schema."
        ),
    ]


def ask_valid(
    call: Callable[[list[BaseMessage], bool], AIMessage],
    messages: Sequence[BaseMessage],
    *,
    schema: type[BaseModel] | None = None,
    validate: Callable[[Any], Any] | None = None,
    on_reask: Callable[[int, str], None] = lambda attempt, error: None,
) -> Any:
    """Ask until the answer is valid: ``validate(schema object)`` (or the message), or raise.

    ``call(messages, flipped)`` makes one budgeted model call, with the
    model's other structured-output method when ``flipped``; it raises
    ``MethodRefused`` when the server refused the method. ``validate``
    raises ``InvalidInput`` with what is wrong, or returns the value to
    use. After ``ATTEMPTS`` answers, ``InvalidOutput`` carries the last
    object the model gave (for a repair), the last error and the last message.
    """
    what = schema.__name__ if schema is not None else "answer"
    history, flipped = list(messages), False
    error, last_raw, message = "", None, None
    for attempt in range(ATTEMPTS):
        if attempt:
            on_reask(attempt, error)
        try:
            message = call(history, flipped)
        except MethodRefused as exc:
            if attempt == ATTEMPTS - 1:
                raise exc.error from None
            error, flipped = f"the server refused the method: {exc}", not flipped
            continue
        except UnparsedOutput as exc:
            error = " ".join(str(exc).split())[:300]
            history.append(
                HumanMessage(
                    f"Your last answer could not be read: {error}. Answer again; if you call "
                    "a tool, give its arguments as one valid JSON object."
                )
            )
            continue
        raw: Any = None
        if schema is not None:
            raw, error_or_none = structured_args(message, schema)
            if raw is None:
                if not cut_off(message):
                    flipped = not flipped  # this method gave nothing: try the other one
                error = str(error_or_none)
                history += _reask(message, None, error, what)
                continue
            last_raw = raw
            try:
                value: Any = schema.model_validate(raw)
            except ValidationError as exc:
                error = describe(exc)
                history += _reask(message, raw, error, what)
                continue
        else:
            value = message
        try:
            return validate(value) if validate is not None else value
        except InvalidInput as exc:
            error = str(exc)
            history += _reask(message, raw, error, what)
    raise InvalidOutput(what, error, last_raw, ATTEMPTS, message)
