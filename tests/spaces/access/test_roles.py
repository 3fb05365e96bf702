"""Roles: every role x every action, allowed and refused, through the CLI, REST and graphs.

One table (``EXPECTED``) says what each role may do, derived independently
of ``roles.RULE``; the tests drive each entry point with each role and check
the answer against the table. A non-member ("stranger") is told the space
does not exist; a member with too low a role gets a one-line refusal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from app.errors import PermissionDenied, SpaceNotFound
from app.graphs.context import RunContext
from app.graphs.rpi import build_rpi
from app.runner import Runner
from app.server.tokens import issue_token
from app.settings import Settings
from app.spaces.access import members, roles
from app.spaces.access.roles import Action
from app.spaces.infra.postgres import SpacePostgres
from app.spaces.model.space_model import SpaceConfig
from tests.support.cli import run_main
from tests.support.deps import graph_deps

ROLES = ("member", "operator", "admin", "stranger")
EXPECTED = {  # written out by hand from the issue, not derived from roles.RULE
    "read": {"member", "operator", "admin"},
    "run": {"member", "operator", "admin"},
    "approve": {"operator", "admin"},
    "manage_objects": {"operator", "admin"},
    "manage_agents": {"operator", "admin"},
    "manage_members": {"admin"},
    "archive": {"admin"},
    "read_audit": {"admin"},
    "manage_budget": {"admin"},
    "set_model": {"admin"},
    "export": {"admin"},
}
SPACE_ACTIONS = [
    "read", "manage_objects", "manage_members", "archive", "read_audit", "manage_budget",
    "set_model", "export", "manage_agents",
]  # fmt: skip
SECRET = "roles-test-secret-" + "y" * 32


@pytest.fixture
def team(manager, new_id) -> SpaceConfig:
    """A space owned by ``own`` with one user in each role (and a stranger outside)."""
    config = manager.create_space(SpaceConfig(new_id("team"), "Team", "own"))
    for role in ("member", "operator", "admin"):
        members.add_member(manager, config.space_id, "own", role, role)
    return config


def test_rule_matches_the_table() -> None:
    for action, allowed_roles in EXPECTED.items():
        for role in ROLES:
            got = roles.allowed(None if role == "stranger" else role, action)
            assert got is (role in allowed_roles), (role, action)


def _cli_action(action: str, sid: str, user: str, tmp_path: Path) -> list[str]:
    if action == "read":
        return ["show", sid, "--user", user]
    if action == "manage_objects":
        doc = tmp_path / f"notes-{user}.md"
        doc.write_text("Raft elects a leader by majority vote.\n")
        return ["objects", "add", sid, str(doc), "--user", user]
    if action == "manage_members":
        return ["members", "add", sid, f"guest-{user}", "--role", "member", "--user", user]
    if action == "archive":
        return ["archive", sid, "--user", user]
    if action == "manage_budget":
        return ["set", sid, "--token-budget", "5000", "--user", user]
    if action == "set_model":
        return ["set", sid, "--model", "offline", "--user", user]
    if action == "export":
        return ["export", sid, str(tmp_path / f"{user}.tar.zst"), "--user", user]
    if action == "manage_agents":
        return ["agents", "create", sid, f"ag_{user}", "--prompt", "p", "--model", "offline",
                "--user", user]  # fmt: skip
    return ["audit", sid, "--user", user]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", SPACE_ACTIONS)
def test_cli_matrix(team, role, action, settings, manager, monkeypatch, capsys, tmp_path) -> None:
    sid = team.space_id
    code, out, err = run_main(
        monkeypatch, capsys, settings, *_cli_action(action, sid, role, tmp_path)
    )
    if role in EXPECTED[action]:
        assert code == 0, err
    else:
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (code, err)
        assert "Traceback" not in err
        expected = "no space" if role == "stranger" else f"a {role} may not"
        assert expected in err
    after = manager.get_space(sid)
    assert (after.status.value == "archived") is (action == "archive" and role in EXPECTED[action])
    changed = action == "manage_budget" and role in EXPECTED[action]
    assert (after.monthly_token_budget == 5000) is changed
    changed = action == "set_model" and role in EXPECTED[action]
    assert (after.preferred_model == "offline") is changed
    assert (tmp_path / f"{role}.tar.zst").exists() is (action == "export" and role == "admin")
    refused = [e for e in _audit(manager, team) if e.actor == role and e.outcome == "refused"]
    assert len(refused) == (0 if role in EXPECTED[action] else 1)


@pytest.mark.parametrize("name", ["create", "add"])
def test_objects_create_by_either_name_is_checked_and_audited(
    team, name, settings, manager, monkeypatch, capsys, tmp_path
) -> None:
    """``objects create`` and its alias ``add`` are one operation: a member is refused by both.

    The CLI's old guard table knew only ``objects add``, so ``objects create``
    ran unchecked and unaudited.
    """
    doc = tmp_path / f"{name}.md"
    doc.write_text("Raft elects a leader by majority vote.\n")
    sid = team.space_id
    code, _out, err = run_main(
        monkeypatch, capsys, settings, "objects", name, sid, str(doc), "--user", "member"
    )
    assert code == 2 and "a member may not manage objects" in err
    code, _out, err = run_main(
        monkeypatch, capsys, settings, "objects", name, sid, str(doc), "--user", "operator"
    )
    assert code == 0, err
    added = [e for e in _audit(manager, team) if e.action == "object.add" and e.outcome == "ok"]
    assert [e.actor for e in added] == ["operator"]


# memory command -> the action of EXPECTED it needs (the issue: members must not prune)
MEMORY_ACTIONS = {
    "list": "read", "search": "read", "stats": "read", "recall": "read", "reindex": "read",
    "export": "export", "add": "manage_objects", "delete": "manage_objects",
    "import": "manage_objects", "prune": "manage_objects",
}  # fmt: skip
FACT = "Pump P7 runs at 42 bar."


def _memory_argv(command: str, sid: str, user: str, memory_id: str, tmp_path: Path) -> list[str]:
    if command in ("recall", "reindex"):
        return [command, sid, *(["pump P7 pressure"] if command == "recall" else []),
                "--user", user]  # fmt: skip
    extra = {
        "search": ["pump P7 pressure"], "add": ["Valve V2 is shut."], "delete": [memory_id],
        "export": ["--out", str(tmp_path / f"mem-{user}.jsonl")],
        "prune": ["--before", "2999-01-01"],
    }.get(command, [])  # fmt: skip
    if command == "import":
        lines = tmp_path / f"in-{user}.jsonl"
        lines.write_text(json.dumps({"text": "Valve V3 is open."}) + "\n")
        extra = [str(lines)]
    return ["memory", command, sid, *extra, "--user", user, "--json"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", list(MEMORY_ACTIONS))
def test_cli_memory_matrix(team, role, command, settings, manager, monkeypatch, capsys, tmp_path):
    """Every memory command asks the one rule about ``--user``; a refusal changes nothing."""
    with manager.open_space(team.space_id, write=True).memory() as memory:
        memory_id = memory.add(FACT)
    argv = _memory_argv(command, team.space_id, role, memory_id, tmp_path)
    code, out, err = run_main(monkeypatch, capsys, settings, *argv)
    allowed = role in EXPECTED[MEMORY_ACTIONS[command]]
    if allowed:
        assert code == 0, err
    else:
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (code, err)
        expected = "no space" if role == "stranger" else f"a {role} may not"
        assert expected in err and "Traceback" not in err
    with manager.open_space(team.space_id).memory() as memory:
        texts = sorted(h.text for h in memory.all(limit=10))
    changed = {"add": [FACT, "Valve V2 is shut."], "import": [FACT, "Valve V3 is open."],
               "delete": [], "prune": []}  # fmt: skip
    assert texts == (changed.get(command, [FACT]) if allowed else [FACT]), texts
    if command in ("list", "search", "recall", "export"):
        shown = (
            out + (tmp_path / f"mem-{role}.jsonl").read_text()
            if command == "export" and allowed
            else out
        )
        assert ("42 bar" in shown) is allowed
    assert (tmp_path / f"mem-{role}.jsonl").exists() is (command == "export" and allowed)


def test_memory_import_takes_user(team, settings, manager, monkeypatch, capsys, tmp_path):
    """``memory import`` accepts ``--user`` (it did not) and refuses a stranger."""
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"text": "Valve V3 is open."}) + "\n")
    sid = team.space_id
    code, _, err = run_main(monkeypatch, capsys, settings, "memory", "import", sid, str(lines),
                       "--user", "mallory")  # fmt: skip
    assert code == 2 and "no space" in err and "unrecognized" not in err


def _audit(manager, config):
    from app.spaces.stores import audit

    return audit.read(manager.backends.pool, config.postgres_schema)


def test_list_shows_shared_spaces_with_the_role(team, settings, monkeypatch, capsys) -> None:
    code, out, _ = run_main(monkeypatch, capsys, settings, "list", "--user", "operator", "--json")
    assert code == 0
    mine = {d["space_id"]: d["role"] for d in json.loads(out)}
    assert mine[team.space_id] == "operator"
    code, out, _ = run_main(monkeypatch, capsys, settings, "list", "--user", "stranger", "--json")
    assert team.space_id not in {d["space_id"] for d in json.loads(out)}


def test_owner_stays_admin_and_members_change(team, manager) -> None:
    listed = {m.user_id: m.role for m in members.list_members(manager, team.space_id, "member")}
    assert listed == {"own": "admin", "admin": "admin", "operator": "operator", "member": "member"}
    with pytest.raises(Exception, match="stays an admin"):
        members.add_member(manager, team.space_id, "admin", "own", "member")
    with pytest.raises(Exception, match="cannot be removed"):
        members.remove_member(manager, team.space_id, "admin", "own")
    members.add_member(manager, team.space_id, "admin", "member", "operator")
    assert roles.role_of(manager.backends.pool, team.space_id, "member") == "operator"
    members.remove_member(manager, team.space_id, "admin", "member")
    with pytest.raises(SpaceNotFound):
        roles.require(manager, team.space_id, "member", Action.READ)
    assert team.space_id in [c.space_id for c, _ in roles.spaces_of(manager, "operator")]
    assert team.space_id not in [c.space_id for c, _ in roles.spaces_of(manager, "member")]


@pytest.fixture
def rest(settings, monkeypatch):
    """The /my/ REST app on the test session's stores."""
    from app.server.app import create_app

    monkeypatch.setenv("SPACES_JWT_SECRET", SECRET)
    Settings.served.cache_clear()  # the served settings are read once per process
    app = create_app(graph_deps(settings))  # the served app, on the test stores
    return TestClient(app)


def _bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, secret=SECRET)}"}


def _rest_call(client: TestClient, action: str, sid: str, user: str):
    h = _bearer(user)
    if action == "read":
        return client.get(f"/my/spaces/{sid}", headers=h)
    if action == "manage_objects":
        body = {"filename": f"n-{user}.md", "text": "Raft elects a leader."}
        return client.post(f"/my/spaces/{sid}/objects", json=body, headers=h)
    if action == "manage_members":
        body = {"user_id": f"guest-{user}", "role": "member"}
        return client.post(f"/my/spaces/{sid}/members", json=body, headers=h)
    if action == "archive":
        return client.post(f"/my/spaces/{sid}/archive", headers=h)
    if action == "manage_budget":
        return client.patch(f"/my/spaces/{sid}", json={"token_budget": 5000}, headers=h)
    if action == "set_model":
        return client.patch(f"/my/spaces/{sid}", json={"model": "offline"}, headers=h)
    if action == "manage_agents":
        body = {"name": f"rag_{user}", "system_prompt": "p", "model": "offline"}
        return client.post(f"/my/spaces/{sid}/agents", json=body, headers=h)
    return client.get(f"/my/spaces/{sid}/audit", headers=h)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", [a for a in SPACE_ACTIONS if a != "export"])
def test_rest_matrix(team, role, action, rest) -> None:
    answer = _rest_call(rest, action, team.space_id, role)
    if role in EXPECTED[action]:
        assert answer.status_code in (200, 201), answer.text
    else:
        assert answer.status_code == (404 if role == "stranger" else 403), answer.text
        assert len(answer.json()["detail"].splitlines()) == 1


def test_rest_lists_members_and_shared_spaces(team, rest) -> None:
    listed = rest.get(f"/my/spaces/{team.space_id}/members", headers=_bearer("member"))
    assert {m["user_id"] for m in listed.json()} == {"own", "member", "operator", "admin"}
    mine = rest.get("/my/spaces", headers=_bearer("member")).json()
    assert {d["space_id"]: d["role"] for d in mine}[team.space_id] == "member"
    gone = rest.delete(f"/my/spaces/{team.space_id}/members/member", headers=_bearer("admin"))
    assert gone.status_code == 200
    assert rest.get(f"/my/spaces/{team.space_id}", headers=_bearer("member")).status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_graph_run_matrix(team, role, settings) -> None:
    runner = Runner(settings, graph_deps(settings))
    result = runner.start("research", team.space_id, "How does Raft elect a leader?", user_id=role)
    if role in EXPECTED["run"]:
        assert result.status == "completed", result.error
    else:
        assert result.refused and "no space" in (result.error or "")


def team_db(runner: Runner, team) -> SpacePostgres:
    return SpacePostgres(runner.backends.pool, team.postgres_schema, writable=False)


@pytest.mark.parametrize("role", ROLES)
def test_approval_matrix_through_the_runner(team, role, settings) -> None:
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", team.space_id, "How does Raft elect a leader?", user_id="member")
    assert waiting.status == "awaiting_approval"
    if role in EXPECTED["approve"]:
        done = runner.resume(waiting.thread_id, {"action": "reject"}, user_id=role)
        assert done.status == "rejected"
        # The run stays the member's in the space's records, whoever answered.
        with team_db(runner, team).connection() as conn:
            owner = conn.execute(
                "SELECT user_id FROM runs WHERE thread_id = %s", [waiting.thread_id]
            ).fetchone()
        assert owner == ("member",)
    else:
        error = SpaceNotFound if role == "stranger" else PermissionDenied
        with pytest.raises(error):
            runner.resume(waiting.thread_id, {"action": "reject"}, user_id=role)
        assert runner.status(waiting.thread_id).status == "awaiting_approval"


@pytest.mark.parametrize("role", ROLES)
def test_approval_is_checked_by_the_graph_against_the_resuming_user(team, role, settings) -> None:
    """What the server does: the resuming user is whoever authenticated."""
    graph = build_rpi(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"g-{team.space_id}-{role}"}}
    graph.invoke(
        {"space_id": team.space_id, "query": "How does Raft elect a leader?"},
        config, context=RunContext(user_id="member"),
    )  # fmt: skip
    graph.invoke(Command(resume={"action": "reject"}), config, context=RunContext(user_id=role))
    state = graph.get_state(config)
    if role in EXPECTED["approve"]:
        assert state.values["status"] == "rejected"
    elif role == "member":
        assert state.interrupts, "the run keeps waiting for someone allowed to answer"
        assert "may not answer approvals" in state.interrupts[0].value["error"]
    else:
        assert state.values["status"] == "failed" and "no space" in state.values["error"]


def test_a_removed_member_loses_a_waiting_run_at_once(team, manager, settings) -> None:
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start(
        "rpi", team.space_id, "How does Raft elect a leader?", user_id="operator"
    )
    members.remove_member(manager, team.space_id, "own", "operator")
    with pytest.raises(SpaceNotFound):
        runner.resume(waiting.thread_id, {"action": "approve"}, user_id="operator")
    with pytest.raises(SpaceNotFound):
        runner.status(waiting.thread_id, user_id="stranger")
    assert runner.status(waiting.thread_id).status == "awaiting_approval"
    assert runner.status(waiting.thread_id, user_id="member").status == "awaiting_approval"
    done = runner.resume(waiting.thread_id, {"action": "reject"}, user_id="admin")
    assert done.status == "rejected"


def test_a_tool_answer_is_judged_by_who_gave_it(team, settings, site) -> None:
    """A member's answer to a tool approval is refused, and not replayed as the operator's."""
    import dataclasses

    url, hits = site
    wired = dataclasses.replace(settings, allow_private_urls=True)
    graph = build_rpi(graph_deps(wired)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"tool-{team.space_id}"}}

    def answer(user: str, action: str):
        graph.invoke(Command(resume={"action": action}), config, context=RunContext(user_id=user))
        return graph.get_state(config)

    graph.invoke(
        {"space_id": team.space_id, "query": f"Summarise {url}"},
        config, context=RunContext(user_id="member"),
    )  # fmt: skip
    state = answer("operator", "approve")  # the plan
    assert state.interrupts[0].value["type"] == "tool_approval"
    state = answer("member", "approve")
    assert "may not answer approvals" in state.interrupts[0].value["error"] and hits == []
    state = answer("operator", "reject")  # the member's earlier "approve" does not count
    assert not state.interrupts and hits == []
    assert state.values["status"] == "completed"


def test_resume_last_finds_the_run_an_operator_may_answer(
    team, manager, settings, monkeypatch, capsys
) -> None:
    """``resume --last`` looked only at the caller's own runs, so an operator, who may
    answer anyone's approval, was told there was nothing to answer."""
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", team.space_id, "How does Raft elect a leader?", user_id="member")
    assert waiting.status == "awaiting_approval"
    members.add_member(manager, team.space_id, "own", "member2", "member")
    code, _, err = run_main(monkeypatch, capsys, settings, "resume", "--last", team.space_id,
                       "--user", "member2", "--approve")  # fmt: skip
    assert code == 2 and "no run waiting for approval" in err  # a member answers only their own
    code, out, err = run_main(monkeypatch, capsys, settings, "resume", "--last", team.space_id,
                         "--user", "operator", "--approve", "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["thread_id"], doc["status"]) == (waiting.thread_id, "completed")
