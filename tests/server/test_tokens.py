"""Bearer tokens: integer ``iat``/``exp``, a bounded lifetime, optional issuer and audience."""

from __future__ import annotations

import time

import jwt
import pytest

from app.server.tokens import TokenError, issue_token, user_from_authorization

SECRET = "token-secret-" + "z" * 32
NO_ENV: dict[str, str] = {}


def header(claims: dict[str, object]) -> str:
    return "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")


def check(claims: dict[str, object], environ: dict[str, str] = NO_ENV) -> str:
    return user_from_authorization(header(claims), secret=SECRET, environ=environ)


def test_a_well_formed_token_names_its_user() -> None:
    now = int(time.time())
    assert check({"sub": "alice", "iat": now, "exp": now + 3600}) == "alice"
    issued = issue_token("bob", secret=SECRET, environ=NO_ENV)
    assert user_from_authorization(f"Bearer {issued}", secret=SECRET, environ=NO_ENV) == "bob"


@pytest.mark.parametrize(
    "change",
    [
        {"exp": 253402300799},  # the year 9999
        {"exp": "EXP"},  # a numeric string
        {"exp": "EXP_FLOAT"},  # a float
        {"iat": "IAT_FLOAT"},
        {"iat": None},  # missing
        {"sub": None},
        {"exp": None},
        {"iat": "FUTURE", "exp": "FUTURE_EXP"},  # issued in the future, short-lived
        {"exp": "DAY_AND_A_SECOND"},
        {"aud": "someone"},  # an audience nobody configured
    ],
)
def test_tokens_past_the_rules_are_refused(change: dict[str, object]) -> None:
    now = int(time.time())
    values = {
        "EXP": str(now + 60),
        "EXP_FLOAT": now + 60.5,
        "IAT_FLOAT": now + 0.5,
        "FUTURE": now + 10 * 24 * 3600,
        "FUTURE_EXP": now + 10 * 24 * 3600 + 60,
        "DAY_AND_A_SECOND": now + 24 * 3600 + 1,
    }
    claims: dict[str, object] = {"sub": "alice", "iat": now, "exp": now + 60}
    for key, value in change.items():
        claims[key] = values.get(value, value) if isinstance(value, str) else value
    claims = {k: v for k, v in claims.items() if v is not None}
    with pytest.raises(TokenError):
        check(claims)


def test_the_maximum_lifetime_is_configurable() -> None:
    now = int(time.time())
    week = {"sub": "alice", "iat": now, "exp": now + 7 * 24 * 3600}
    with pytest.raises(TokenError):
        check(week)
    assert check(week, {"SPACES_JWT_MAX_LIFETIME_S": str(8 * 24 * 3600)}) == "alice"
    hour = {"sub": "alice", "iat": now, "exp": now + 3600}
    with pytest.raises(TokenError):
        check(hour, {"SPACES_JWT_MAX_LIFETIME_S": "600"})


def test_issuer_and_audience_are_checked_when_configured() -> None:
    env = {"SPACES_JWT_ISSUER": "https://id.example", "SPACES_JWT_AUDIENCE": "spaces"}
    now = int(time.time())
    good = {"sub": "alice", "iat": now, "exp": now + 60, "iss": env["SPACES_JWT_ISSUER"]}
    assert check({**good, "aud": "spaces"}, env) == "alice"
    for bad in ({**good, "aud": "other"}, good, {**good, "iss": "https://evil", "aud": "spaces"},
                {"sub": "alice", "iat": now, "exp": now + 60, "aud": "spaces"}):  # fmt: skip
        with pytest.raises(TokenError):
            check(bad, env)
    issued = issue_token("carol", secret=SECRET, environ=env)
    assert user_from_authorization(f"Bearer {issued}", secret=SECRET, environ=env) == "carol"


def test_an_actor_claim_is_read_checked_and_refused_by_the_rest_routes() -> None:
    """``act`` (RFC 8693): the server's delegation for an operator's answer, nothing more."""
    from app.server.tokens import Principal, principal_from_authorization

    issued = issue_token("ivy", secret=SECRET, environ=NO_ENV, actor="oscar")
    read = principal_from_authorization(f"Bearer {issued}", secret=SECRET, environ=NO_ENV)
    assert read == Principal("ivy", "oscar")
    with pytest.raises(TokenError, match="agent server API only"):
        user_from_authorization(f"Bearer {issued}", secret=SECRET, environ=NO_ENV)
    now = int(time.time())
    for act in ("oscar", {"sub": "../x"}, {"sub": 7}, {}):
        bad = header({"sub": "ivy", "iat": now, "exp": now + 60, "act": act})
        with pytest.raises(TokenError, match="invalid token actor"):
            principal_from_authorization(bad, secret=SECRET, environ=NO_ENV)
    plain = principal_from_authorization(
        f"Bearer {issue_token('ivy', secret=SECRET, environ=NO_ENV)}", secret=SECRET, environ=NO_ENV
    )
    assert plain == Principal("ivy")
