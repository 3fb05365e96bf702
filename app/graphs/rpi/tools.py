"""Tools the implement step may call, and which of them need a person's approval.

A tool that acts outside the space's vault (here: the network) is listed in
``NEEDS_APPROVAL``; the graph asks through a ``tool_approval`` interrupt
before running it. Tools never raise: a failure becomes the tool's answer,
so the model can carry on and the run is not lost.
"""

from __future__ import annotations

import httpx
from langchain_core.tools import tool

FETCH_MAX_BYTES = 200_000
FETCH_TIMEOUT_S = 10.0


@tool
def http_get(url: str) -> str:
    """Fetch a web page over HTTP(S) and return its text (first 200 KB)."""
    if not url.startswith(("http://", "https://")):
        return f"refused: {url!r} is not an http(s) URL"
    try:
        with (
            httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= FETCH_MAX_BYTES:
                    break
            data = b"".join(chunks)[:FETCH_MAX_BYTES]
            body = data.decode(response.encoding or "utf-8", "replace")
            return f"HTTP {response.status_code}\n\n{body}"
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}: {exc}"


IMPLEMENT_TOOLS = [http_get]
NEEDS_APPROVAL = frozenset({"http_get"})
TOOLS_BY_NAME = {t.name: t for t in IMPLEMENT_TOOLS}
