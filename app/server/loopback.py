"""The URL of this very server, for routes that call its Agent Server API.

Taken from the socket the request arrived on (ASGI ``scope["server"]``),
never from the request's ``Host`` header: a route that followed ``Host``
would send its bearer token (for the answer route, a token naming a
thread's owner) to whatever host a client wrote there.
"""

from __future__ import annotations

from fastapi import Request

_ANY = {"0.0.0.0", "::", ""}


def loopback_url(request: Request) -> str:
    """``http://host:port`` of the socket this request came in on (loopback for a wildcard)."""
    host, port = request.scope.get("server") or ("127.0.0.1", 80)
    host = "127.0.0.1" if host in _ANY else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# The stream modes of every run a route starts, with ``stream_resumable``: a
# stock UI that joins the run late (``joinStream`` with ``Last-Event-ID``)
# is replayed only the modes the run was created with, so a run made with
# ``custom`` alone showed it no values, messages or interrupt.
RUN_STREAM = ["values", "messages-tuple", "updates", "custom"]
