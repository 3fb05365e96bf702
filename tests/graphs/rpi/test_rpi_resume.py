"""Crash safety: a run killed mid-way resumes from its checkpoint without duplicating anything."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from psycopg import sql

from app.graphs.rpi import save as save_module
from app.graphs.scope import Scope
from app.runner import Runner
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from tests.support.deps import graph_deps
from tests.support.fake_openai import PLAN, FakeOpenAI, completion, forced_tool
from tests.support.rpi import seed
from tests.support.settings import ROOT

R = sql.Identifier(REGISTRY_SCHEMA)


def _events(manager, thread_id: str) -> int:
    with manager.backends.pool.connection() as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}.space_usage_events WHERE thread_id = %s").format(R),
            [thread_id],
        ).fetchone()[0]


def _assert_saved_once(manager, space_id: str, thread_id: str, calls: int) -> None:
    handle = manager.open_space(space_id)
    usage = manager.get_usage(space_id)
    assert usage.api_calls_used == calls == _events(manager, thread_id)
    with handle.memory() as memory:
        texts = [m.text for m in memory.all() if m.metadata.get("thread_id") == thread_id]
    assert texts and len(texts) == len(set(texts))
    notes = [p for p in handle.vault.list_notes() if p.startswith("Projects/")]
    assert sorted(n.rsplit("/", 1)[1] for n in notes) == [
        "implementation.md",
        "plan.md",
        "research.md",
    ]
    with handle.postgres.connection() as conn:
        assert conn.execute("SELECT count(*), min(status) FROM runs").fetchone() == (
            1,
            "completed",
        )
        assert conn.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 3


def test_crash_inside_save_resumes_without_duplicates(manager, space, settings, monkeypatch):
    seed(manager, space.space_id)
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", space.space_id, "How does Raft make ledger blocks final?")
    real = save_module.upsert_run

    def crash_once(*args, **kwargs):
        monkeypatch.setattr(save_module, "upsert_run", real)
        raise RuntimeError("simulated crash after the vault, memory and graph writes")

    monkeypatch.setattr(save_module, "upsert_run", crash_once)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runner.resume(waiting.thread_id, {"action": "approve"})
    assert runner.status(waiting.thread_id).status == "interrupted"
    done = runner.resume(waiting.thread_id)  # no answer: continue from the checkpoint
    assert done.status == "completed", done.error
    _assert_saved_once(manager, space.space_id, waiting.thread_id, calls=9)
    assert done.tokens_used == manager.get_usage(space.space_id).tokens_used


def test_killed_process_resumes_from_its_checkpoint(manager, space, settings) -> None:
    """SIGKILL the CLI while a model call hangs; ``spaces resume`` finishes the run."""
    hang = threading.Event()
    hang.set()
    step_calls = {"n": 0}

    def responder(body: dict):
        forced = forced_tool(body)
        if forced == "Plan":
            return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
        if forced == "KeyFacts":
            facts = {"facts": ["Killed runs resume."], "entities": [], "relations": []}
            return 200, completion(tool_calls=[{"name": "KeyFacts", "args": facts}])
        if "<task>implement</task>" in json.dumps(body):
            step_calls["n"] += 1
            if step_calls["n"] == 2 and hang.is_set():
                time.sleep(60)  # the client is killed while waiting here
        return 200, completion("Text [1].")

    with FakeOpenAI(responder) as server:
        env = {
            **os.environ,
            "SPACES_HOME": str(settings.home),
            "SPACES_VAULTS_DIR": str(settings.vaults_dir),
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test",
            "SPACES_MODEL": "openai:gpt-4o-mini",
        }
        cmd = [sys.executable, "-m", "app.cli"]
        proc = subprocess.Popen(
            [*cmd, "run", space.space_id, "Design the ledger", "--approve", "--json"],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while step_calls["n"] < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert step_calls["n"] == 2, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        hang.clear()
        with manager.backends.pool.connection() as conn:
            (thread_id,) = conn.execute(
                sql.SQL("SELECT thread_id FROM {}.threads WHERE space_id = %s").format(R),
                [space.space_id],
            ).fetchone()
        shown = subprocess.run(
            [*cmd, "resume", thread_id, "--json"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["status"] == "completed" and doc["thread_id"] == thread_id
    # research, plan, s1, s2 (answered after the resume), key facts; the killed call
    # got no answer and is not counted.
    _assert_saved_once(manager, space.space_id, thread_id, calls=5)
    assert len(server.requests) == 6


def test_a_node_rerun_after_its_model_call_counts_the_call_once(
    manager, space, settings, monkeypatch
) -> None:
    """The crash lands after a step's call was counted; the re-run repeats the call."""
    seed(manager, space.space_id)
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", space.space_id, "How does Raft make ledger blocks final?")
    real_emit = Scope.emit

    def crash_after_first_step(scope, event_type, *args, **kwargs):
        if event_type == "phase.progress":
            monkeypatch.setattr(Scope, "emit", real_emit)
            raise RuntimeError("simulated crash after the step's model call")
        return real_emit(scope, event_type, *args, **kwargs)

    monkeypatch.setattr(Scope, "emit", crash_after_first_step)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runner.resume(waiting.thread_id, {"action": "approve"})
    calls_before = _events(manager, waiting.thread_id)
    assert calls_before == 6  # 3 screenings, synthesis, plan, step s1 (counted before the crash)
    done = runner.resume(waiting.thread_id)
    assert done.status == "completed", done.error
    _assert_saved_once(manager, space.space_id, waiting.thread_id, calls=9)


def test_a_run_interrupted_before_its_plan_resumes_with_approve(
    manager, space, settings, monkeypatch
) -> None:
    """``spaces resume T --approve`` on a run that crashed while planning: it continues,
    the answer is given to the plan approval when the run gets there, and it completes."""
    from tests.support.cli import run_cli

    rpi_graph = importlib.import_module("app.graphs.rpi.graph")  # the package exports `graph`

    seed(manager, space.space_id)
    real = rpi_graph.plan_prompt

    def crash_once(*args, **kwargs):
        monkeypatch.setattr(rpi_graph, "plan_prompt", real)
        raise RuntimeError("simulated crash while planning")

    monkeypatch.setattr(rpi_graph, "plan_prompt", crash_once)
    runner = Runner(settings, graph_deps(settings))
    with pytest.raises(RuntimeError, match="simulated crash"):
        runner.start("rpi", space.space_id, "How does Raft make ledger blocks final?")
    with manager.backends.pool.connection() as conn:
        (thread_id,) = conn.execute(
            sql.SQL("SELECT thread_id FROM {}.threads WHERE space_id = %s").format(R),
            [space.space_id],
        ).fetchone()
    assert runner.status(thread_id).status == "interrupted"
    done = run_cli(settings, "resume", thread_id, "--approve", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "completed", doc
    assert set(doc["artifacts"]) == {"research", "plan", "implementation"}


def test_killed_while_planning_resume_last_approve_completes(manager, space, settings) -> None:
    """SIGKILL ``spaces run --approve`` in its plan call; ``resume --last SPACE --approve``
    finishes the run (it exited 2 "not waiting for an approval")."""
    hang = threading.Event()
    hang.set()
    plan_calls = {"n": 0}

    def responder(body: dict):
        forced = forced_tool(body)
        if forced == "Plan":
            plan_calls["n"] += 1
            if plan_calls["n"] == 1 and hang.is_set():
                time.sleep(60)  # the client is killed while waiting here
            return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
        if forced == "KeyFacts":
            facts = {"facts": ["Killed runs resume."], "entities": [], "relations": []}
            return 200, completion(tool_calls=[{"name": "KeyFacts", "args": facts}])
        return 200, completion("Text [1].")

    with FakeOpenAI(responder) as server:
        env = {
            **os.environ,
            "SPACES_HOME": str(settings.home),
            "SPACES_VAULTS_DIR": str(settings.vaults_dir),
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test",
            "SPACES_MODEL": "openai:gpt-4o-mini",
        }
        cmd = [sys.executable, "-m", "app.cli"]
        proc = subprocess.Popen(
            [*cmd, "run", space.space_id, "Design the ledger", "--approve", "--json"],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while plan_calls["n"] < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert plan_calls["n"] == 1, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        hang.clear()
        listed = subprocess.run(
            [*cmd, "runs", space.space_id, "--json"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert [r["status"] for r in json.loads(listed.stdout)] == ["interrupted"]
        resumed = subprocess.run(
            [*cmd, "resume", "--last", space.space_id, "--approve", "--json"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    doc = json.loads(resumed.stdout)
    assert doc["status"] == "completed", doc
    assert plan_calls["n"] == 2
