"""Settings: every value is read through ``Settings``; a bad one is one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.errors import InvalidInput
from app.server.tokens import TokenError, issue_token, user_from_authorization
from app.settings import Settings

SECRET = "s" * 40


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SPACES_CHAT_CONTEXT_TOKENS", "lots"),
        ("SPACES_APPROVAL_TIMEOUT_S", "5m"),
        ("SPACES_COMPACT_AT", "nan"),
        ("SPACES_TRUNCATE_AT", "-1"),
        ("SPACES_JWT_MAX_LIFETIME_S", "1e400"),
    ],
)
def test_a_bad_number_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Settings.from_env({name: raw})
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_numbers_and_token_settings_are_read() -> None:
    s = Settings.from_env(
        {
            "SPACES_CHAT_CONTEXT_TOKENS": " 8000 ",
            "SPACES_COMPACT_AT": "0.5",
            "SPACES_JWT_SECRET": SECRET,
            "SPACES_JWT_MAX_LIFETIME_S": "600",
            "SPACES_JWT_ISSUER": "https://id.example",
        }
    )
    assert (s.chat_context_tokens, s.compact_at) == (8000, 0.5)
    assert (s.jwt_secret, s.jwt_max_lifetime_s, s.jwt_issuer, s.jwt_audience) == (
        SECRET, 600, "https://id.example", None
    )  # fmt: skip
    assert SECRET not in repr(s)


def test_tokens_take_their_settings_from_settings() -> None:
    env = {"SPACES_JWT_SECRET": SECRET, "SPACES_JWT_ISSUER": "https://id.example"}
    token = issue_token("alice", environ=env)
    assert user_from_authorization(f"Bearer {token}", environ=env) == "alice"
    with pytest.raises(TokenError):  # the issuer is required once configured
        unnamed = issue_token("alice", environ={**env, "SPACES_JWT_ISSUER": ""})
        user_from_authorization(f"Bearer {unnamed}", environ=env)
    with pytest.raises(TokenError, match="SPACES_JWT_MAX_LIFETIME_S"):
        user_from_authorization(
            f"Bearer {token}", environ={**env, "SPACES_JWT_MAX_LIFETIME_S": "x"}
        )


def test_the_cli_prints_one_line_for_a_bad_setting(tmp_path) -> None:
    env = {**os.environ, "SPACES_HOME": str(tmp_path), "SPACES_CHAT_CONTEXT_TOKENS": "lots"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "list"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "SPACES_CHAT_CONTEXT_TOKENS" in done.stderr
    assert "Traceback" not in done.stderr
