"""One vocabulary across the CLI, REST and Python, with the earlier spellings kept as aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.server.space_routes import NewSpace
from app.spaces.model.space_model import SpaceConfig, SpaceUsage
from tests.support.cli import run_cli

DOCUMENT_KEYS = {
    "space_id", "month", "tokens_used", "api_calls_used", "cost_usd",
    "monthly_token_budget", "monthly_api_calls", "tokens_remaining", "over_budget",
}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"monthly_token_budget": 7, "monthly_api_calls": 3, "preferred_model": "offline"},
        {"token_budget": 7, "api_call_budget": 3, "model": "offline"},
    ],
)
def test_rest_takes_the_spaceconfig_names_and_the_old_ones(body) -> None:
    made = NewSpace.model_validate({"space_id": "v_1", "name": "V", **body})
    assert (made.monthly_token_budget, made.monthly_api_calls) == (7, 3)
    assert made.preferred_model == "offline"
    schema = NewSpace.model_json_schema()["properties"]
    assert {"monthly_token_budget", "monthly_api_calls", "preferred_model"} <= set(schema)


def test_the_usage_document_has_one_shape() -> None:
    config = SpaceConfig("v_2", "V", "alice", monthly_token_budget=100, monthly_api_calls=5)
    doc = SpaceUsage("v_2", "2026-11", 40, 1, 0.5).document(config)
    assert set(doc) == DOCUMENT_KEYS
    assert (doc["tokens_remaining"], doc["over_budget"]) == (60, False)


@pytest.mark.parametrize(
    ("flags", "verb"),
    [
        (
            [
                "--monthly-token-budget",
                "900",
                "--monthly-api-calls",
                "9",
                "--preferred-model",
                "offline",
            ],
            "create",
        ),
        (["--token-budget", "900", "--api-call-budget", "9", "--model", "offline"], "add"),
    ],
)
def test_cli_takes_both_spellings(settings, new_id, tmp_path: Path, flags, verb) -> None:
    sid = new_id("voc")
    made = run_cli(settings, "create", sid, "--name", "V", "--owner", "alice", *flags, "--json")
    assert made.returncode == 0, made.stderr
    config = json.loads(made.stdout)
    assert (config["monthly_token_budget"], config["monthly_api_calls"]) == (900, 9)
    assert config["preferred_model"] == "offline"
    usage = run_cli(settings, "usage", sid, "--json")
    assert set(json.loads(usage.stdout)) == DOCUMENT_KEYS
    note = tmp_path / "brief.md"
    note.write_text("a brief")
    added = run_cli(settings, "objects", verb, sid, str(note), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["object"]["name"] == "brief.md"


def test_set_takes_the_readmes_names_too(settings, new_id) -> None:
    """``spaces set --monthly-token-budget`` (README's word) was refused by argparse."""
    sid = new_id("voc")
    assert run_cli(settings, "create", sid, "--name", "V", "--owner", "alice").returncode == 0
    for flags, expected in (
        (["--monthly-token-budget", "700", "--monthly-api-calls", "7"], (700, 7, None)),
        (["--token-budget", "800", "--preferred-model", "offline"], (800, 7, "offline")),
    ):
        done = run_cli(settings, "set", sid, *flags, "--json")
        assert done.returncode == 0, done.stderr
        config = json.loads(done.stdout)
        got = (config["monthly_token_budget"], config["monthly_api_calls"])
        assert (*got, config["preferred_model"]) == expected
