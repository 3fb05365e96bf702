"""Bearer tokens: HS256 JWTs signed with ``SPACES_JWT_SECRET``; ``sub`` is the user id.

One function checks a token for both servers' auth handler and the
``/my/`` routes, so they can never disagree on who is calling.

A token must carry ``sub``, and ``iat`` and ``exp`` as integers, and live at
most ``SPACES_JWT_MAX_LIFETIME_S`` seconds (default 24 h) from ``iat`` to
``exp``; PyJWT checks the rest (signature, expiry, ``iat`` not in the
future, ``sub`` a string, and ``iss``/``aud`` when ``SPACES_JWT_ISSUER`` /
``SPACES_JWT_AUDIENCE`` are set). PyJWT takes ``exp`` 1.5 or "2000000000"
as numbers, so the integer type and the lifetime are the only checks made
here.

A token may also name an actor (RFC 8693's ``act`` claim): the server mints
one for a minute when an operator answers another member's approval
(``app/server/space_runs.py``), so the Agent Server admits the call as the
thread's owner while the run acts, and is audited, as the operator. The
``/my/`` routes refuse such tokens: they exist only for that one call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from app.errors import SpacesError
from app.ids import validate_user_id
from app.settings import Settings

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


class TokenError(SpacesError):
    """A missing, malformed, forged or expired token.

    A request's token is answered 401 where it is read (``deps.current_user``,
    the auth handler); one that cannot be issued (a bad secret) is the
    default 400 with its one line.
    """


def _settings(environ: Mapping[str, str] | None) -> Settings:
    """The token settings, read through ``Settings`` like every other setting.

    A server's come from ``Settings.served()``, read once when the auth
    handler was imported; ``environ`` (tests, tools) is read now. A bad value
    is a ``TokenError`` (the request is refused with 401) naming the variable.
    """
    try:
        return Settings.served() if environ is None else Settings.from_env(environ)
    except SpacesError as exc:
        raise TokenError(str(exc)) from None


def _secret(secret: str | None, settings: Settings) -> str:
    value = secret if secret is not None else settings.jwt_secret
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise TokenError(
            f"the server has no usable SPACES_JWT_SECRET (at least {MIN_SECRET_BYTES} bytes)"
        )
    return value


@dataclass(frozen=True)
class Principal:
    """Who a token names: the user, and the actor acting as that user (or ``None``)."""

    user: str
    actor: str | None = None


def issue_token(
    user_id: str,
    *,
    ttl_s: int = 3_600,
    secret: str | None = None,
    environ: Mapping[str, str] | None = None,
    actor: str | None = None,
) -> str:
    """A token for ``user_id`` that expires in ``ttl_s`` seconds (with ``iss``/``aud`` if set).

    ``actor``: the user who acts as ``user_id`` (an ``act`` claim).
    """
    settings = _settings(environ)
    issuer, audience = settings.jwt_issuer, settings.jwt_audience
    now = int(time.time())
    claims: dict[str, object] = {"sub": validate_user_id(user_id), "iat": now, "exp": now + ttl_s}
    if actor is not None:
        claims["act"] = {"sub": validate_user_id(actor)}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, _secret(secret, settings), algorithm=ALGORITHM)


def user_from_authorization(
    header: str | None, *, secret: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The user id of ``Authorization: Bearer <jwt>``, or ``TokenError``.

    A token naming an actor is refused: only the Agent Server takes those.
    """
    principal = principal_from_authorization(header, secret=secret, environ=environ)
    if principal.actor is not None:
        raise TokenError("a delegated token is accepted by the agent server API only")
    return principal.user


def principal_from_authorization(
    header: str | None, *, secret: str | None = None, environ: Mapping[str, str] | None = None
) -> Principal:
    """The user (and actor, if any) of ``Authorization: Bearer <jwt>``, or ``TokenError``."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("missing bearer token")
    settings = _settings(environ)
    max_lifetime, issuer, audience = (
        settings.jwt_max_lifetime_s, settings.jwt_issuer, settings.jwt_audience
    )  # fmt: skip
    required = ["sub", "iat", "exp"] + (["iss"] if issuer else []) + (["aud"] if audience else [])
    try:
        claims = jwt.decode(
            token.strip(),
            _secret(secret, settings),
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": required, "verify_sub": True, "strict_aud": bool(audience)},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("invalid token") from None
    iat, exp = claims["iat"], claims["exp"]
    if not all(type(v) is int for v in (iat, exp)) or not 0 < exp - iat <= max_lifetime:
        raise TokenError(
            f"invalid token: iat and exp must be integers at most {max_lifetime} s apart"
        )
    try:
        user = validate_user_id(claims["sub"])
    except SpacesError:
        raise TokenError("invalid token subject") from None
    if "act" not in claims:
        return Principal(user)
    act = claims["act"]
    try:
        actor = validate_user_id(act.get("sub") if isinstance(act, dict) else None)
    except SpacesError:
        raise TokenError("invalid token actor") from None
    return Principal(user, actor)
