"""The audit log: one entry per write, none duplicated by a resumed run, and append-only."""

from __future__ import annotations

import json
from collections import Counter

import psycopg
import pytest

from app.graphs.scope import Scope
from app.runner import Runner
from app.spaces.access import members
from app.spaces.model.space_model import SpaceConfig
from app.spaces.stores import audit
from tests.support.cli import run_main
from tests.support.deps import graph_deps


def entries(manager, config) -> list[audit.AuditEntry]:
    return audit.read(manager.backends.pool, config.postgres_schema)


def test_the_table_refuses_update_delete_and_truncate(manager, space) -> None:
    audit.record(manager.backends.pool, space.postgres_schema, actor="alice", action="x")
    for statement in ("UPDATE {}.audit_log SET actor = 'eve'", "DELETE FROM {}.audit_log",
                      "TRUNCATE {}.audit_log"):  # fmt: skip
        with (
            pytest.raises(psycopg.errors.RaiseException, match="append-only"),
            manager.backends.pool.connection() as conn,
        ):
            conn.execute(
                psycopg.sql.SQL(statement).format(psycopg.sql.Identifier(space.postgres_schema))
            )
    assert [e.actor for e in entries(manager, space)] == ["alice"]


def test_each_cli_write_writes_exactly_one_entry(
    manager, settings, new_id, monkeypatch, capsys, tmp_path
) -> None:
    sid = new_id("aud")
    doc = tmp_path / "notes.md"
    doc.write_text("Raft elects a leader by majority vote.\n")
    steps = [
        (["create", sid, "--name", "A", "--owner", "own"], "space.create"),
        (["members", "add", sid, "op", "--role", "operator"], "member.add"),
        (["objects", "add", sid, str(doc), "--user", "op"], "object.add"),
        (["objects", "add-version", sid, "notes.md", str(doc), "--user", "op"], "version.add"),
        (["objects", "deactivate", sid, "notes.md", "--user", "op"], "object.deactivate"),
        (["objects", "set-version", sid, "1", "inactive", "--user", "op"], "version.set_status"),
        (["members", "add", sid, "guest"], "member.add"),
        (["members", "remove", sid, "guest"], "member.remove"),
        (["set", sid, "--token-budget", "9000"], "space.budget"),
        (["set", sid, "--model", "offline"], "space.model"),
        (
            ["agents", "create", sid, "ag", "--prompt", "p", "--model", "offline", "--user", "op"],
            "agent.create",
        ),
        (["agents", "update", sid, "ag", "--prompt", "q", "--user", "op"], "agent.update"),
        (["agents", "delete", sid, "ag", "--user", "op"], "agent.delete"),
        (["agents", "list", sid, "--user", "op"], None),
        (["export", sid, str(tmp_path / "a.tar.zst")], "space.export"),
        (["archive", sid], "space.archive"),
        (["activate", sid], "space.activate"),
        (["archive", sid, "--user", "op"], "access.archive"),  # refused: one entry too
    ]
    seen: Counter[str] = Counter()
    config = None
    for args, action in steps:
        code, _, err = run_main(monkeypatch, capsys, settings, *args)
        assert code == (2 if action and action.startswith("access.") else 0), (args, err)
        config = config or manager.get_space(sid)
        if action is not None:  # a read writes nothing
            seen[action] += 1
        got = Counter(e.action for e in entries(manager, config))
        assert got == seen, (args, got)
    last = entries(manager, config)[-1]
    assert (last.actor, last.outcome, last.target) == ("op", "refused", sid)
    code, out, _ = run_main(monkeypatch, capsys, settings, "audit", sid, "--actor", "op", "--json")
    assert code == 0 and {e["actor"] for e in json.loads(out)} == {"op"}
    code, out, _ = run_main(monkeypatch, capsys, settings, "audit", sid, "--since", "2999-01-01")
    assert code == 0 and out.strip() == "no entries"
    code, _, err = run_main(monkeypatch, capsys, settings, "audit", sid, "--since", "yesterday")
    assert code == 2 and "ISO 8601" in err


def test_a_failed_write_is_recorded_as_failed(manager, space) -> None:
    with pytest.raises(Exception, match="not a member"):
        members.remove_member(manager, space.space_id, "alice", "nobody")
    (entry,) = entries(manager, space)[-1:]
    assert (entry.action, entry.outcome) == ("member.remove", "failed")


def test_runs_and_approvals_write_one_entry_each_even_after_a_crash(
    manager, space, settings, monkeypatch
) -> None:
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", space.space_id, "How does Raft make ledger blocks final?")
    real_emit = Scope.emit

    def crash_after_the_approval_was_audited(scope, event_type, *args, **kwargs):
        if event_type == "approval.resolved":
            monkeypatch.setattr(Scope, "emit", real_emit)
            raise RuntimeError("simulated crash after the approval was recorded")
        return real_emit(scope, event_type, *args, **kwargs)

    monkeypatch.setattr(Scope, "emit", crash_after_the_approval_was_audited)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runner.resume(waiting.thread_id, {"action": "approve"})
    # The crashed node did not finish: the run still waits, and the answer is sent again.
    assert runner.status(waiting.thread_id).status == "awaiting_approval"
    done = runner.resume(waiting.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    mine = [e for e in entries(manager, space) if e.request_id == waiting.thread_id]
    assert Counter(e.action for e in mine) == {"run.start": 1, "approval.plan": 1, "run.end": 1}
    assert all(e.actor == "alice" and e.outcome == "ok" for e in mine)


def test_budget_refusals_and_refused_runs_are_recorded_once(manager, new_id, settings) -> None:
    poor = manager.create_space(SpaceConfig(new_id("poor"), "P", "alice", monthly_token_budget=10))
    runner = Runner(settings, graph_deps(settings))
    refused = runner.start("rpi", poor.space_id, "How does Raft elect a leader?")
    assert refused.status == "budget_exceeded"
    stranger = runner.start("rpi", poor.space_id, "Anything?", user_id="eve")
    assert stranger.refused
    got = [(e.actor, e.action, e.outcome) for e in entries(manager, poor)]
    assert got == [
        ("alice", "budget.refused", "refused"),
        ("eve", "access.run", "refused"),
    ]


def test_audit_limit_shows_the_newest_entries_in_time_order(
    manager, space, settings, monkeypatch, capsys
) -> None:
    """``spaces audit --limit N`` showed the oldest N; a person asking for N wants the last."""
    for n in range(5):
        audit.record(manager.backends.pool, space.postgres_schema, actor="alice", action=f"a{n}")
    code, out, err = run_main(
        monkeypatch, capsys, settings, "audit", space.space_id, "--limit", "2", "--json"
    )
    assert code == 0, err
    assert [e["action"] for e in json.loads(out)] == ["a3", "a4"]
    code, out, _ = run_main(monkeypatch, capsys, settings, "audit", space.space_id, "--limit", "2")
    assert [line.split()[3] for line in out.splitlines()] == ["a3", "a4"]
    # REST pages forward from ?since=, so the library's default stays the first N.
    firsts = audit.read(manager.backends.pool, space.postgres_schema, limit=2)
    assert [e.action for e in firsts][-1] != "a4"
