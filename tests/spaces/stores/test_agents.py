"""Personal agents: versions, soft delete, config checks, the CLI, and isolation."""

from __future__ import annotations

import json

import pytest

from app.errors import InvalidInput, SpaceNotFound
from app.spaces.model.space_model import SpaceConfig
from app.spaces.stores.agents import AgentStore
from tests.support.cli import run_cli


def _store(manager, space_id: str) -> AgentStore:
    return AgentStore(manager.open_space(space_id, write=True))


def test_versions_and_soft_delete(manager, space):
    store = _store(manager, space.space_id)
    first = store.create(
        "coder", system_prompt="You write code.", model="offline", user_id="alice",
        tools=["vault_search", "http_get"],
    )  # fmt: skip
    assert first.agent_id == f"{space.space_id}_coder_1"
    assert (first.version, first.concurrency_limit, first.status) == (1, 1, "ready")
    second = store.update("coder", user_id="alice", system_prompt="You write tests.")
    assert second.version == 2 and second.agent_id.endswith("_coder_2")
    assert second.tools == ["vault_search", "http_get"]  # unchanged fields carry over
    assert store.get("coder", 1).system_prompt == "You write code."
    assert [a.version for a in store.versions("coder")] == [1, 2]
    store.delete("coder")
    assert store.list() == []
    with pytest.raises(SpaceNotFound):
        store.get("coder")
    kept = store.get("coder", include_deleted=True)
    assert kept.deleted and kept.version == 2
    assert store.by_id(first.agent_id).system_prompt == "You write code."
    again = store.create("coder", system_prompt="Back.", model="offline", user_id="alice")
    assert again.version == 3 and not again.deleted


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("Bad-Name", {}, "invalid agent name"),
        ("ok", {"model": "gpt"}, "unknown model"),
        ("ok", {"tools": ["rm_rf"]}, "unknown tool 'rm_rf'"),
        ("ok", {"concurrency_limit": 0}, "concurrency_limit"),
        ("ok", {"system_prompt": "  "}, "system_prompt must not be empty"),
    ],
)
def test_bad_config_is_refused(manager, space, name, fields, message):
    store = _store(manager, space.space_id)
    config = {"system_prompt": "p", "model": "offline", **fields}
    with pytest.raises(InvalidInput, match=message):
        store.create(name, user_id="alice", **config)
    assert store.list(include_deleted=True) == []


def test_duplicate_and_unknown(manager, space):
    store = _store(manager, space.space_id)
    store.create("a", system_prompt="p", model="offline", user_id="alice")
    with pytest.raises(InvalidInput, match="already exists"):
        store.create("a", system_prompt="q", model="offline", user_id="alice")
    with pytest.raises(SpaceNotFound):
        store.update("nobody", user_id="alice", model="offline")
    with pytest.raises(InvalidInput, match="cannot update 'status'"):
        store.update("a", user_id="alice", status="busy")
    assert store.set_status("a", "busy") and store.get("a").status == "busy"
    assert store.get("a").version == 1  # status is not a version


def test_cli_agents_round_trip_and_isolation(settings, manager, new_id):
    mine = manager.create_space(SpaceConfig(new_id(), "Mine", "alice"))
    theirs = manager.create_space(SpaceConfig(new_id(), "Theirs", "bob"))
    made = run_cli(
        settings, "agents", "create", mine.space_id, "writer", "--prompt", "You write.",
        "--model", "offline", "--tools", "vault_read,recall", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["tools"] == ["vault_read", "recall"]
    upd = run_cli(settings, "agents", "update", mine.space_id, "writer", "--concurrency", "2")
    assert upd.returncode == 0 and "writer_2" in upd.stdout
    listed = json.loads(run_cli(settings, "agents", "list", mine.space_id, "--json").stdout)
    assert [(a["name"], a["version"], a["concurrency_limit"]) for a in listed] == [("writer", 2, 2)]
    # bob cannot see or touch alice's agents: her space is "no space" to him
    for args in (
        ("agents", "list", mine.space_id, "--user", "bob"),
        ("agents", "show", mine.space_id, "writer", "--user", "bob"),
        ("agents", "delete", mine.space_id, "writer", "--user", "bob"),
    ):
        denied = run_cli(settings, *args)
        assert denied.returncode == 2 and f"no space '{mine.space_id}'" in denied.stderr
    # and an agent name means nothing in another space
    other = run_cli(settings, "agents", "show", theirs.space_id, "writer")
    assert other.returncode == 2 and other.stderr.strip() == "spaces: no agent 'writer'"
    bad = run_cli(settings, "agents", "create", mine.space_id, "x", "--prompt", "p", "--model", "?")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    gone = run_cli(settings, "agents", "delete", mine.space_id, "writer", "--json")
    assert json.loads(gone.stdout)["deleted"] is True
    versions = run_cli(settings, "agents", "show", mine.space_id, "writer", "--versions", "--json")
    assert [v["version"] for v in json.loads(versions.stdout)] == [1, 2]


@pytest.mark.slow  # fourteen CLI processes
def test_cli_chat_and_sessions(settings, manager, new_id):
    space = manager.create_space(SpaceConfig(new_id(), "Team", "alice"))
    for name in ("researcher", "writer"):
        made = run_cli(
            settings, "agents", "create", space.space_id, name, "--prompt", f"You are a {name}.",
            "--model", "offline",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    direct = run_cli(settings, "chat", space.space_id, "@writer draft a haiku", "--json")
    assert direct.returncode == 0, direct.stderr
    turn = json.loads(direct.stdout)
    assert (turn["status"], turn["mode"]) == ("completed", "direct")
    session = turn["session_id"]
    stats = run_cli(settings, "agents", "context", space.space_id, "writer", "stats", "--json")
    assert json.loads(stats.stdout)["interactions"] == 1, stats.stderr
    export = run_cli(settings, "agents", "context", space.space_id, "writer", "export")
    (line,) = export.stdout.splitlines()
    assert json.loads(line)["text"].startswith("Task: draft a haiku")
    prune = run_cli(
        settings, "agents", "context", space.space_id, "writer", "prune", "--before", "soon"
    )
    assert prune.returncode == 2 and "invalid date 'soon'" in prune.stderr
    asked = run_cli(settings, "chat", space.space_id, "research a; write b", "--session", session)
    assert asked.returncode == 0 and "[awaiting_approval]" in asked.stdout
    busy = run_cli(settings, "chat", space.space_id, "another", "--session", session)
    assert busy.returncode == 2 and "waits for an approval" in busy.stderr
    done = run_cli(
        settings, "chat", space.space_id, "", "--session", session, "--approve", "--json"
    )
    assert json.loads(done.stdout)["status"] == "completed", done.stderr
    listed = json.loads(run_cli(settings, "sessions", "list", space.space_id, "--json").stdout)
    assert [(s["session_id"], s["messages"]) for s in listed] == [(session, 4)]
    shown = json.loads(
        run_cli(settings, "sessions", "show", space.space_id, session, "--json").stdout
    )
    assert [t["task_id"] for t in shown["tasks"]] == ["t1", "t1", "t2"]  # turn 1, then turn 2
    for args in (
        ("sessions", "show", space.space_id, session, "--user", "bob"),
        ("chat", space.space_id, "@writer hi", "--session", session, "--user", "bob"),
    ):
        denied = run_cli(settings, *args)
        assert denied.returncode == 2 and "no space" in denied.stderr


def test_an_agent_gets_the_spaces_model_unless_told(settings, manager, new_id) -> None:
    """``agents create`` required ``--model``; it defaults to the space's (then SPACES_MODEL)."""
    preferring = manager.create_space(
        SpaceConfig(new_id(), "P", "alice", preferred_model="openai:gpt-4o-mini")
    )
    made = run_cli(settings, "agents", "create", preferring.space_id, "writer", "--prompt", "p",
                   "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["model"] == "openai:gpt-4o-mini"
    plain = manager.create_space(SpaceConfig(new_id(), "Q", "alice"))
    agent = _store(manager, plain.space_id).create("helper", system_prompt="p", user_id="alice")
    assert agent.model == settings.model


def test_chat_to_an_unknown_agent_exits_2_with_one_line(settings, manager, new_id) -> None:
    """``spaces chat SPACE "@nobody hi"`` printed ``[failed]`` and exited 0."""
    space = manager.create_space(SpaceConfig(new_id(), "T", "alice"))
    _store(manager, space.space_id).create("writer", system_prompt="p", user_id="alice")
    sent = run_cli(settings, "chat", space.space_id, "@nobody hi")
    assert sent.returncode == 2, (sent.stdout, sent.stderr)
    errors = [line for line in sent.stderr.splitlines() if not line.startswith("  … ")]
    assert errors == ["spaces: no agent 'nobody'"] and sent.stdout == ""
    as_json = run_cli(settings, "chat", space.space_id, "@nobody hi", "--json")
    assert as_json.returncode == 2
    doc = json.loads(as_json.stdout)
    assert (doc["status"], doc["refused"], doc["reply"]) == ("failed", True, None)
