"""Hostile ids are rejected everywhere, and nothing is created."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput, SpaceNotFound
from app.ids import validate_space_id, validate_user_id
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from tests.support.cli import run_cli

HOSTILE = [
    "x; DROP SCHEMA public",
    "../etc",
    "Caps",
    "1starts_with_digit",
    "ünïcode",
    "a" * 49,
    "x" * 10_000,
    "",
    "a-b",
    "a b",
    "a\x00b",
]


@pytest.mark.parametrize("bad", HOSTILE)
def test_rule_rejects(bad: str) -> None:
    with pytest.raises(InvalidInput):
        validate_space_id(bad)


def test_rule_accepts_the_edges() -> None:
    assert validate_space_id("a") == "a"
    assert validate_space_id("a" * 48) == "a" * 48
    assert validate_space_id("a_1_b") == "a_1_b"
    assert validate_user_id("alice@example.com") == "alice@example.com"
    with pytest.raises(InvalidInput):
        validate_user_id("bob; --")


def test_nothing_is_created(manager: SpaceManager, settings) -> None:
    before = {s.space_id for s in manager.list_spaces()}
    for bad in HOSTILE:
        with pytest.raises(InvalidInput):
            manager.create_space(SpaceConfig(bad, "x", "alice"))
        with pytest.raises(InvalidInput):
            manager.get_space(bad)
        with pytest.raises(InvalidInput):
            manager.open_space(bad)
    assert {s.space_id for s in manager.list_spaces()} == before
    with manager.backends.pool.connection() as conn:
        assert conn.execute("SELECT to_regnamespace('public') IS NOT NULL").fetchone()[0]
    made = (
        {p.name for p in settings.vaults_dir.iterdir()} if settings.vaults_dir.exists() else set()
    )
    assert made <= before


def test_cli_rejects_with_one_line(settings) -> None:
    result = run_cli(settings, "create", "x; DROP SCHEMA public", "--name", "n", "--owner", "o")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid space id" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_space(manager: SpaceManager) -> None:
    with pytest.raises(SpaceNotFound):
        manager.get_space("never_created")
