"""Bearer tokens: HS256 JWTs signed with ``SPACES_JWT_SECRET``; ``sub`` is the user id.

One function checks a token for both the LangGraph auth handler and the
``/my/`` routes, so the two can never disagree on who is calling.
"""

from __future__ import annotations

import os
import time

import jwt

from app.errors import SpacesError
from app.ids import validate_user_id

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


class TokenError(SpacesError):
    """A missing, malformed, forged or expired token (answered with 401)."""


def _secret(secret: str | None) -> str:
    value = secret if secret is not None else os.environ.get("SPACES_JWT_SECRET", "")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise TokenError(
            f"the server has no usable SPACES_JWT_SECRET (at least {MIN_SECRET_BYTES} bytes)"
        )
    return value


def issue_token(user_id: str, *, ttl_s: int = 3_600, secret: str | None = None) -> str:
    """A token for ``user_id`` that expires in ``ttl_s`` seconds."""
    now = int(time.time())
    claims = {"sub": validate_user_id(user_id), "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, _secret(secret), algorithm=ALGORITHM)


def user_from_authorization(header: str | None, *, secret: str | None = None) -> str:
    """The user id of ``Authorization: Bearer <jwt>``, or ``TokenError``."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing bearer token")
    try:
        claims = jwt.decode(
            token.strip(),
            _secret(secret),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("invalid token") from None
    try:
        return validate_user_id(claims["sub"])
    except SpacesError:
        raise TokenError("invalid token subject") from None
