"""Tools the implement step may call, and which of them need a person's approval.

A tool that acts outside the space's vault (here: the network) is listed in
``NEEDS_APPROVAL``; the graph asks through a ``tool_approval`` interrupt
before running it. ``http_get`` goes through LinkCrawler's fetcher, with its
limits: private and loopback addresses refused unless settings allow them,
redirects checked, a byte cap. Tools never raise: a failure becomes the
tool's answer, so the model can carry on and the run is not lost.
"""

from __future__ import annotations

from typing import Any

import httpx
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import ValidationError

from app.errors import InvalidInput
from app.graphs.research.crawl import TIMEOUT, FetchError, fetch
from app.llm.structured import describe
from app.settings import Settings

FETCH_MAX_CHARS = 20_000


@tool
def http_get(url: str) -> str:
    """Fetch a web page over HTTP(S) and return its text."""
    raise NotImplementedError("run through run_tool, which applies the fetch limits")


def run_tool(name: str, args: object, settings: Settings) -> str:
    """Run one tool call; every failure is returned as text starting with ``failed:``."""
    if name != "http_get":
        return f"failed: unknown tool {name!r}"
    url = args.get("url") if isinstance(args, dict) else None
    if not isinstance(url, str) or not 0 < len(url) <= 2_000:
        return "failed: http_get needs a 'url' of 1 to 2,000 characters"
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            page = fetch(client, url, allow_private=settings.allow_private_urls)
    except (FetchError, httpx.HTTPError, ValueError) as exc:
        return f"failed: {exc}"
    cut = " (cut)" if page.truncated or len(page.text) > FETCH_MAX_CHARS else ""
    return f"{page.url}{cut}\n\n{page.text[:FETCH_MAX_CHARS]}"


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
