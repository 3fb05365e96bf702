"""A store dying in the middle of a run: one line, exit 1, and the run resumes later.

The Postgres test has its own embedded services (its own home), because it
stops Postgres while a ``spaces run`` works: the model provider (a local
fake) stops the server before it answers an implementation step. The graph
test points one command at a port where no graph server listens.
"""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from tests.support.cli import run_cli
from tests.support.fake_openai import PLAN, FakeOpenAI, completion, forced_tool
from tests.support.settings import make_settings


@pytest.mark.slow
def test_postgres_killed_mid_run_is_one_line_and_resumable(tmp_path) -> None:
    settings = make_settings(tmp_path)
    stopped = {"done": False}

    def responder(body: dict):
        forced = forced_tool(body)
        if forced == "Plan":
            return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
        if forced == "KeyFacts":
            facts = {"facts": ["Runs survive a dead store."], "entities": [], "relations": []}
            return 200, completion(tool_calls=[{"name": "KeyFacts", "args": facts}])
        if "<task>implement</task>" in json.dumps(body) and not stopped["done"]:
            stopped["done"] = stop_postgres(settings)  # the server dies mid-run
        return 200, completion("Text [1].")

    try:
        with SpaceManager(settings) as manager:
            manager.create_space(SpaceConfig("killed", "Killed", "alice"))
        with FakeOpenAI(responder) as server:
            model = {
                "OPENAI_BASE_URL": server.base_url,
                "OPENAI_API_KEY": "sk-test",
                "SPACES_MODEL": "openai:gpt-4o-mini",
            }

            def cli(*args: str) -> subprocess.CompletedProcess[str]:
                return run_cli(settings, *args, **model)

            died = cli("run", "killed", "Design the ledger", "--approve", "--json")
            assert stopped["done"]
            assert died.returncode == 1, died.stderr
            doc = json.loads(died.stdout)
            thread_id = doc["thread_id"]
            assert doc["status"] == "interrupted" and thread_id
            assert "Traceback" not in died.stderr
            lines = died.stderr.splitlines()
            assert thread_id in lines[0]
            errors = [ln for ln in lines[1:] if not ln.startswith("  … ")]
            assert len(errors) == 1, died.stderr
            assert errors[0].startswith("spaces: postgres store failed")
            assert f"spaces resume {thread_id}" in errors[0]
            # The next command starts Postgres again; the run is found and finished.
            listed = cli("runs", "killed", "--status", "interrupted", "--json")
            assert listed.returncode == 0, listed.stderr
            assert [r["thread_id"] for r in json.loads(listed.stdout)] == [thread_id]
            done = cli("resume", "--last", "killed", "--json")
            assert done.returncode == 0, done.stderr
            final = json.loads(done.stdout)
            assert final["status"] == "completed" and final["thread_id"] == thread_id
    finally:
        stop_graph_server(settings)
        stop_postgres(settings)


@pytest.mark.slow  # the graph driver retries its connection for about half a minute
def test_graph_store_down_at_save_is_one_line_and_resumable(settings, space) -> None:
    """The graph server unreachable when the approved run saves: exit 1, one line, resumable."""
    waiting = run_cli(settings, "run", space.space_id, "How are ledger blocks final?", "--json")
    thread_id = json.loads(waiting.stdout)["thread_id"]
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = run_cli(
        settings, "resume", thread_id, "--approve", "--json", NEO4J_URI=f"bolt://127.0.0.1:{closed}"
    )
    assert down.returncode == 1, down.stderr
    assert json.loads(down.stdout)["status"] == "interrupted"
    errors = [ln for ln in down.stderr.splitlines()[1:] if not ln.startswith("  … ")]
    assert len(errors) == 1 and errors[0].startswith("spaces: graph store failed")
    assert f"spaces resume {thread_id} continues it" in errors[0]
    done = run_cli(settings, "resume", thread_id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
