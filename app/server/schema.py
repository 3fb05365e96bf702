"""What the ``/my/`` OpenAPI schema states for every route: its error answers and the id rule.

Shared by every router under ``/my/`` so generated clients and fuzzers agree
with the server wherever a route lives.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path as PathParam
from pydantic import BaseModel

from app.ids import SPACE_ID_MAX, SPACE_ID_PATTERN


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
