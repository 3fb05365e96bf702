"""``spaces run``, ``resume`` and ``research``: status documents, exit codes, one-line errors."""

from __future__ import annotations

import json

from app.spaces.model.space_model import SpaceConfig
from tests.support.cli import run_cli
from tests.support.rpi import seed


def test_run_stops_at_approval_then_resume_completes(settings, space, manager) -> None:
    seed(manager, space.space_id)
    started = run_cli(settings, "run", space.space_id, "How are ledger blocks final?", "--json")
    assert started.returncode == 0, started.stderr
    doc = json.loads(started.stdout)
    assert doc["status"] == "awaiting_approval"
    assert set(doc) >= {"thread_id", "plan"} and doc["plan"]["steps"]
    assert "run.started" in started.stderr and "agent.status.changed" in started.stderr
    done = run_cli(settings, "resume", doc["thread_id"], "--approve", "--json")
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert final["status"] == "completed"
    assert set(final) >= {"thread_id", "space_id", "artifacts", "tokens_used", "cost_usd"}
    assert set(final["artifacts"]) == {"research", "plan", "implementation"}
    assert all(p.startswith("Projects/") for p in final["artifacts"].values())
    assert final["tokens_used"] == manager.get_usage(space.space_id).tokens_used


def test_run_with_reject_flag(settings, space) -> None:
    done = run_cli(settings, "run", space.space_id, "Anything", "--reject", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "rejected"


def test_refusals_exit_2_with_one_line(settings, manager, new_id) -> None:
    unknown = run_cli(settings, "run", "nosuch", "Q", "--json")
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines()[-1] == "spaces: no space 'nosuch'"
    assert json.loads(unknown.stdout) == {
        "status": "failed",
        "thread_id": None,
        "error": "no space 'nosuch'",
        "space_id": "nosuch",
    }
    poor = manager.create_space(SpaceConfig(new_id("poor"), "P", "alice", monthly_token_budget=50))
    spent = run_cli(settings, "run", poor.space_id, "Q", "--json")
    assert spent.returncode == 2
    assert json.loads(spent.stdout)["status"] == "budget_exceeded"
    assert len([ln for ln in spent.stderr.splitlines() if ln.startswith("spaces: ")]) == 2
    archived = manager.create_space(SpaceConfig(new_id("arch"), "A", "alice"))
    manager.archive_space(archived.space_id)
    refused = run_cli(settings, "run", archived.space_id, "Q")
    assert refused.returncode == 2 and "archived" in refused.stderr.splitlines()[-1]
    for bad in ("../x", "a" * 100):
        res = run_cli(settings, "resume", bad, "--approve")
        assert res.returncode == 2 and res.stderr.startswith("spaces: invalid thread id")
        assert "Traceback" not in res.stderr
    too_long = run_cli(settings, "run", archived.space_id, "x" * 5000)
    assert too_long.returncode == 2 and "query is too long" in too_long.stderr


def test_research_prints_note_and_findings(settings, space, manager) -> None:
    seed(manager, space.space_id)
    done = run_cli(settings, "research", space.space_id, "Why is a Raft ledger block final?")
    assert done.returncode == 0, done.stderr
    assert "research: " in done.stdout and "/research.md" in done.stdout
    assert "[files] Learning/Ledger" in done.stdout
    assert "[memory]" in done.stdout and "[graph] graph node Raft" in done.stdout


def test_run_approve_prints_each_event_once(settings, space) -> None:
    """The approving node runs again on the answer and re-sends ``approval.required``
    (same idempotency key); ``spaces run --approve`` (and ``make demo``) printed it twice."""
    done = run_cli(settings, "run", space.space_id, "How are ledger blocks final?", "--approve")
    assert done.returncode == 0, done.stderr
    events = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("  … ")]
    assert events.count("approval.required") == 1 and events.count("approval.resolved") == 1
    assert events[-1] == "run.completed"
