"""``http_get``: the one network tool, for ``rpi``'s implement step and ``chat``'s agents.

It goes through the research crawler's fetcher (``web.py``), with its
limits: private and loopback addresses refused unless settings allow them,
redirects checked, a byte cap. It never raises: a failure becomes the
tool's answer (``failed: ...``), so the model can carry on and the run is
not lost. It reaches outside the space, so every graph that offers it asks
a person first.
"""

from __future__ import annotations

import httpx
from langchain_core.tools import tool

from app.graphs.tools.web import TIMEOUT, FetchError, fetch
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
