"""The URL of this very server, for routes that call its Agent Server API.

Taken from the socket the request arrived on (ASGI ``scope["server"]``),
never from the request's ``Host`` header: a route that followed ``Host``
would send its bearer token (for the answer route, a token naming a
thread's owner) to whatever host a client wrote there.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import Request
from langgraph_sdk.client import LangGraphClient

_ANY = {"0.0.0.0", "::", ""}
TIMEOUT = httpx.Timeout(connect=5, read=300, write=300, pool=5)  # the SDK's own default
# One transport per event loop and server address (see loopback_client).
_transports: dict[tuple[int, str], httpx.AsyncHTTPTransport] = {}


def loopback_url(request: Request) -> str:
    """``http://host:port`` of the socket this request came in on (loopback for a wildcard)."""
    host, port = request.scope.get("server") or ("127.0.0.1", 80)
    host = "127.0.0.1" if host in _ANY else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def loopback_client(request: Request, token: str) -> LangGraphClient:
    """An SDK client of this server's Agent Server API with ``token``, on a shared transport.

    Why not ``get_client(url=...)`` per request: it builds a new transport,
    and with it an SSL context (the CA bundle loaded), even for plain http:
    45 to 130 ms on a loaded 2-core machine, most of a console page's time
    (``bench/ui_bench.py``). The transport is shared per event loop (its
    connections belong to one loop), so loopback connections are also kept
    open between requests; the client around it, with the caller's token,
    is new each time and costs nothing. No proxy from the environment:
    this is the server calling itself.
    """
    url = loopback_url(request)
    key = (id(asyncio.get_running_loop()), url)
    transport = _transports.get(key)
    if transport is None:
        transport = _transports[key] = httpx.AsyncHTTPTransport(retries=5)
    http = httpx.AsyncClient(
        base_url=url, transport=transport, timeout=TIMEOUT, trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    return LangGraphClient(http)


# The stream modes of every run a route starts, with ``stream_resumable``: a
# stock UI that joins the run late (``joinStream`` with ``Last-Event-ID``)
# is replayed only the modes the run was created with, so a run made with
# ``custom`` alone showed it no values, messages or interrupt.
RUN_STREAM = ["values", "messages-tuple", "updates", "custom"]
