"""The dependencies every ``/my/`` route shares: the caller, the rate limit, the manager.

The LangGraph server serves custom routes without running its auth handler
(verified-facts.md), so every route checks the bearer token itself, with
the same function as the handler (``tokens.py``), and is rate limited per
user (100 requests a minute; 429 with ``Retry-After``). The manager acts
on the app's own connections (``app.state.deps``, set by ``create_app``),
so a test builds an app over its own stores.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from langgraph_sdk import get_client

from app.server.loopback import loopback_url
from app.server.tokens import TokenError, user_from_authorization
from app.spaces.space_manager import SpaceManager

RATE_LIMIT = 100
RATE_WINDOW_S = 60.0


class RateLimited(Exception):
    """Over the limit; answered 429 with ``Retry-After`` (``app.py``).

    An exception of our own rather than FastAPI's ``HTTPException``, whose
    headers Aegra's handler drops.
    """

    def __init__(self, retry_after_s: int):
        super().__init__("rate limit: 100 requests a minute")
        self.retry_after_s = retry_after_s


class RateLimiter:
    """A sliding one-minute window of request times per user (in this process)."""

    def __init__(self, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S):
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, user: str) -> None:
        """Count a request; raise 429 with ``Retry-After`` past the limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[user]
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                raise RateLimited(max(1, int(hits[0] + self.window_s - now) + 1))
            hits.append(now)


def current_user(request: Request) -> str:
    """The caller, from the bearer token (401 otherwise), counted by the app's rate limiter."""
    try:
        user = user_from_authorization(request.headers.get("authorization"))
    except TokenError as exc:
        raise HTTPException(401, str(exc), {"WWW-Authenticate": "Bearer"}) from None
    request.app.state.limiter.check(user)
    return user


User = Annotated[str, Depends(current_user)]


def space_manager(request: Request, user: User) -> SpaceManager:
    """A space manager on the app's shared connections, once the caller is authenticated."""
    return request.app.state.deps.manager()


Spaces = Annotated[SpaceManager, Depends(space_manager)]


def caller_client(request: Request) -> Any:
    """A LangGraph client to this very server with the caller's token (its auth applies)."""
    return get_client(
        url=loopback_url(request), headers={"Authorization": request.headers["authorization"]}
    )
