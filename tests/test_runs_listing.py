"""Finding a run again: thread ids in progress and errors, ``spaces runs``, ``resume --last``."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.errors import InvalidInput, SpaceNotFound, StoreUnavailable
from app.graphs.rpi import save as save_module
from app.runner import Runner
from app.runs import last_resumable, list_runs
from app.spaces.access.members import add_member, remove_member
from app.spaces.model.space_model import SpaceConfig
from tests.support.cli import run_cli
from tests.support.deps import graph_deps
from tests.support.rpi import seed


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """``spaces`` in this process against the session's services: (exit code, stdout, stderr)."""
    monkeypatch.setenv("SPACES_HOME", str(settings.home))
    monkeypatch.setenv("SPACES_VAULTS_DIR", str(settings.vaults_dir))

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


def test_first_progress_line_names_the_thread(settings, space) -> None:
    started = run_cli(settings, "run", space.space_id, "How are ledger blocks final?", "--json")
    assert started.returncode == 0, started.stderr
    thread_id = json.loads(started.stdout)["thread_id"]
    first = started.stderr.splitlines()[0]
    assert first.startswith("spaces: rpi on ") and thread_id in first
    resumed = run_cli(settings, "resume", thread_id, "--reject", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines()[0] == f"spaces: resuming thread {thread_id} …"


def test_a_store_failure_escaping_the_run_names_the_thread(cli, space, manager, monkeypatch):
    """The JSON says ``interrupted`` with the thread id (not null); ``resume --last`` finishes."""
    seed(manager, space.space_id)
    real = save_module.upsert_run

    def store_dies(*args, **kwargs):
        monkeypatch.setattr(save_module, "upsert_run", real)
        raise StoreUnavailable("postgres", "server closed the connection unexpectedly")

    monkeypatch.setattr(save_module, "upsert_run", store_dies)
    code, out, err = cli("run", space.space_id, "Design the ledger", "--approve", "--json")
    assert code == 1
    doc = json.loads(out)
    thread_id = doc["thread_id"]
    assert doc["status"] == "interrupted" and thread_id is not None
    assert thread_id in err.splitlines()[0]
    errors = [ln for ln in err.splitlines() if not ln.startswith("  … ")][1:]
    assert errors == [
        "spaces: postgres store failed: server closed the connection unexpectedly "
        f"(thread {thread_id}: spaces resume {thread_id} continues it)"
    ]
    code, out, _ = cli("runs", space.space_id, "--json")
    assert code == 0 and [(r["thread_id"], r["status"]) for r in json.loads(out)] == [
        (thread_id, "interrupted")
    ]
    code, out, err = cli("resume", "--last", space.space_id, "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "completed" and json.loads(out)["thread_id"] == thread_id
    assert err.splitlines()[0] == f"spaces: resuming thread {thread_id} …"


def test_runs_lists_every_status_newest_first(cli, settings, manager, new_id) -> None:
    space = manager.create_space(SpaceConfig(new_id("runs"), "Runs", "alice"))
    sid = space.space_id
    runner = Runner(settings, graph_deps(settings))
    rejected = runner.start("rpi", sid, "First: rejected")
    runner.resume(rejected.thread_id, {"action": "reject", "feedback": "no"})
    done = runner.start("research", sid, "Second: researched")
    waiting = runner.start("rpi", sid, "Third: waiting \x1b[2J")
    other = runner.start("rpi", sid, "Fourth: being resumed")
    with runner._driver.lock(other.thread_id):  # another process drives it now
        runs = list_runs(runner, sid)
        code, out, _ = cli("runs", sid)
    assert [(r.thread_id, r.status) for r in runs] == [
        (other.thread_id, "running"),
        (waiting.thread_id, "awaiting_approval"),
        (done.thread_id, "completed"),
        (rejected.thread_id, "rejected"),
    ]
    assert [r.query for r in runs][1:] == [
        "Third: waiting \x1b[2J",
        "Second: researched",
        "First: rejected",
    ]
    assert [r.graph for r in runs] == ["rpi", "rpi", "research", "rpi"]
    assert code == 0 and out.splitlines()[0].startswith(f"{other.thread_id}  running ")
    assert "waiting \\x1b[2J" in out and "\x1b" not in out
    # The lock released, the running run is found again as waiting.
    assert last_resumable(runner, sid).thread_id == other.thread_id
    code, out, _ = cli("runs", sid, "--status", "rejected", "--json")
    listed = json.loads(out)
    assert [r["thread_id"] for r in listed] == [rejected.thread_id]
    assert set(listed[0]) == {
        "thread_id", "space_id", "user_id", "graph", "status", "started_at", "query",
    }  # fmt: skip
    assert len(list_runs(runner, sid, limit=2)) == 2
    # A non-member learns nothing, not even that the space exists.
    with pytest.raises(SpaceNotFound):
        list_runs(runner, sid, user_id="bob")
    code, _, err = cli("resume", "--last", sid, "--user", "bob")
    assert code == 2 and err == f"spaces: no space '{sid}'\n"
    # A member sees every member's runs; --mine and resume --last are their own.
    add_member(manager, sid, "alice", "bob", "member")
    everyone = list_runs(runner, sid, user_id="bob")
    assert [r.thread_id for r in everyone] == [r.thread_id for r in list_runs(runner, sid)]
    assert {r.user_id for r in everyone} == {"alice"}
    code, out, _ = cli("runs", sid, "--user", "bob", "--mine", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = cli("runs", sid, "--user", "bob")
    assert code == 0 and out.splitlines()[0].split()[4] == "alice"
    code, _, err = cli("resume", "--last", sid, "--user", "bob")
    assert code == 2 and "no run waiting for approval or interrupted" in err
    remove_member(manager, sid, "alice", "bob")
    with pytest.raises(SpaceNotFound):
        list_runs(runner, sid, user_id="bob")


def test_a_thread_id_in_use_is_refused(settings, space) -> None:
    runner = Runner(settings, graph_deps(settings))
    first = runner.start("rpi", space.space_id, "Q")
    with pytest.raises(InvalidInput, match="already in use"):
        runner.start("rpi", space.space_id, "Q again", thread_id=first.thread_id)


def test_a_run_stopped_between_a_node_and_its_checkpoint_is_interrupted(settings, space):
    """A node's writes saved but the step not checkpointed: not 'completed', and it resumes."""
    runner = Runner(settings, graph_deps(settings))

    class Gone(Exception):
        pass

    def reader_goes_away(event: dict) -> None:
        payload = event.get("payload") or {}
        if event.get("event_type") == "phase.completed" and payload.get("phase") == "research":
            raise Gone  # e.g. stderr closed under `2>&1 | head`

    thread_id = "stopped-" + space.space_id.replace("_", "-")
    with pytest.raises(Gone):
        runner.start("rpi", space.space_id, "Q", on_event=reader_goes_away, thread_id=thread_id)
    assert runner.status(thread_id).status == "interrupted"
    assert [r.status for r in list_runs(runner, space.space_id)] == ["interrupted"]
    assert runner.resume(thread_id).status == "awaiting_approval"


def test_runs_lists_a_space_with_chat_sessions(settings, manager, new_id) -> None:
    """A chat session is a registry thread too; ``spaces runs`` tried to build a ``chat``
    runner graph for it and failed with "unknown graph 'chat'"."""
    from app.spaces.stores.agents import AgentStore

    space = manager.create_space(SpaceConfig(new_id("chat"), "C", "alice"))
    AgentStore(manager.open_space(space.space_id, write=True)).create(
        "writer", system_prompt="p", user_id="alice"
    )
    sent = run_cli(settings, "chat", space.space_id, "@writer hi", "--json")
    assert sent.returncode == 0, sent.stderr
    listed = run_cli(settings, "runs", space.space_id, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []  # sessions are listed by `spaces sessions`
