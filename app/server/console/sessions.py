"""Console sign-in: one-time login links and cookie sessions, kept in the registry database.

Why not the API's bearer token in a cookie: a cookie is sent by the browser
on its own, so a cookie that the Agent Server API or ``/my/`` accepted would
expose them to cross-site requests. The console's session is therefore a
separate random secret, valid on ``/ui/`` only (``Path=/ui/``, and no other
route reads it), and the bearer auth of the API is untouched.

``spaces ui --user alice`` stores the SHA-256 of a random token that expires
in ``LOGIN_TTL_S`` seconds and prints a link with the token; the server
deletes the row when it exchanges it (one ``DELETE ... RETURNING``, so a link
works once, on every instance sharing the database). The session row holds
the hash of the cookie value and the CSRF token that every write must carry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from psycopg import sql
from psycopg_pool import ConnectionPool

from app.ids import validate_user_id
from app.spaces.infra.migrations import REGISTRY_SCHEMA

LOGIN_TTL_S = 120
SESSION_TTL_S = 8 * 3600
COOKIE = "spaces_console"
R = sql.Identifier(REGISTRY_SCHEMA)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who it is and the CSRF token its forms carry."""

    user: str
    csrf: str
    key: str  # the session_hash, to sign out


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login(pool: ConnectionPool, user: str, ttl_s: int = LOGIN_TTL_S) -> str:
    """A one-time login token for ``user`` that expires in ``ttl_s`` seconds."""
    token = secrets.token_urlsafe(32)
    with pool.connection() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.console_logins (token_hash, user_id, expires_at) "
                "VALUES (%s, %s, now() + make_interval(secs => %s))"
            ).format(R),
            [_hash(token), validate_user_id(user), ttl_s],
        )
        conn.execute(sql.SQL("DELETE FROM {}.console_logins WHERE expires_at < now()").format(R))
    return token


def redeem_login(pool: ConnectionPool, token: str) -> str | None:
    """Spend a login token once: a new session cookie, or ``None`` (unknown, used, expired)."""
    if not token or len(token) > 100:
        return None
    with pool.connection() as conn:
        row = conn.execute(
            sql.SQL(
                "DELETE FROM {}.console_logins WHERE token_hash = %s AND expires_at > now() "
                "RETURNING user_id"
            ).format(R),
            [_hash(token)],
        ).fetchone()
        if row is None:
            return None
        cookie = secrets.token_urlsafe(32)
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.console_sessions (session_hash, user_id, csrf, expires_at) "
                "VALUES (%s, %s, %s, now() + make_interval(secs => %s))"
            ).format(R),
            [_hash(cookie), row[0], secrets.token_urlsafe(24), SESSION_TTL_S],
        )
    return cookie


def session_of(pool: ConnectionPool, cookie: str | None) -> Session | None:
    """The live session a cookie value names, or ``None``."""
    if not cookie or len(cookie) > 100:
        return None
    key = _hash(cookie)
    with pool.connection() as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT user_id, csrf FROM {}.console_sessions "
                "WHERE session_hash = %s AND expires_at > now()"
            ).format(R),
            [key],
        ).fetchone()
    return None if row is None else Session(user=row[0], csrf=row[1], key=key)


def end_session(pool: ConnectionPool, session: Session) -> None:
    """Sign out: the cookie stops working at once, on every instance."""
    with pool.connection() as conn:
        conn.execute(
            sql.SQL("DELETE FROM {}.console_sessions WHERE session_hash = %s").format(R),
            [session.key],
        )


def csrf_ok(session: Session, given: str | None) -> bool:
    """Whether a write carries this session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(session.csrf, given or "")
