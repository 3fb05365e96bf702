"""What the ``/my/`` OpenAPI schema states for every route: its error answers and the id rule.

Shared by every router under ``/my/`` so generated clients and fuzzers agree
with the server wherever a route lives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.ids import SPACE_ID_MAX, SPACE_ID_PATTERN
from app.text import printable


class ErrorBody(BaseModel):
    """Every error answer: one line."""

    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        400: "bad input (an id, a file name, a value)",
        401: "missing, forged or expired bearer token",
        404: "no such space or object, or not yours (the same answer)",
        409: "the id or name is taken",
        423: "the space is archived (read-only)",
        429: "over 100 requests a minute; see Retry-After",
        503: "a store is down",
    }
    return {c: {"model": ErrorBody, "description": texts[c]} for c in codes}


# Documented so that generated clients and fuzzers agree with the server.
READ_ERRORS = _errors(400, 401, 404, 429, 503)
WRITE_ERRORS = _errors(409, 423)
# Documented, not enforced by FastAPI: a bad id stays a one-line 400 (app/ids.py).
SPACE_ID_SCHEMA = {"pattern": SPACE_ID_PATTERN, "maxLength": SPACE_ID_MAX}
SpaceId = Annotated[str, PathParam(json_schema_extra=SPACE_ID_SCHEMA)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Body(BaseModel):
    """The base of every ``/my/`` request body: no text in it may hold a NUL byte.

    Postgres cannot store NUL in text, so such a value used to get as far as
    the store and come back as "postgres store failed" (503); it is bad input,
    refused here as a one-line 422 before anything is written.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("text may not contain a NUL byte")
        return value


def validation_line(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one line, naming the field but never echoing the input.

    The input is left out on purpose: ``1e400`` parses as infinity, which the
    default handler cannot write back as JSON (it answered 500).
    """
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "path", "query"))
    line = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return printable(line)[:300] + more


class NulGuard:
    """ASGI middleware: a ``/my/`` path or query with a NUL byte is a one-line 400.

    Path and query parameters are not request bodies, so ``Body`` cannot see
    them; without this a ``%00`` in an object reference reached Postgres (500).
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Answer 400 for a NUL in a ``/my/`` path or query, else pass the request on."""
        if scope["type"] == "http" and scope.get("path", "").startswith("/my/"):
            query = scope.get("query_string", b"").lower()
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                response = JSONResponse(
                    {"detail": "the path or query may not contain a NUL byte"}, status_code=400
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Decision(Body):
    """One decision of the standard HITL answer (``app/graphs/hitl.py``)."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern="^(approve|edit|reject)$")
    message: str | None = Field(default=None, max_length=2_000)
    edited_action: dict[str, Any] | None = None


def one_answer(action: str | None, decisions: list[Decision] | None) -> None:
    """An answer is ``action`` (today's form) or ``decisions`` (the standard one), not both."""
    if (action is None) == (decisions is None):
        raise ValueError("give either action or decisions")
