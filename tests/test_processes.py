"""Several processes at once, and data surviving a restart of the embedded services."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from app.spaces.space_manager import SpaceManager
from tests.support.cli import run_cli
from tests.support.settings import ROOT, make_settings


def test_two_processes_create_at_once(settings, new_id) -> None:
    same = new_id("race")
    distinct = [new_id("par"), new_id("par")]
    jobs = [
        ("create", same, "--name", "Race", "--owner", "p1"),
        ("create", same, "--name", "Race", "--owner", "p2"),
        ("create", distinct[0], "--name", "P", "--owner", "p1"),
        ("create", distinct[1], "--name", "P", "--owner", "p2"),
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda args: run_cli(settings, *args), jobs))
    race = results[:2]
    assert sorted(r.returncode for r in race) == [0, 2]
    loser = next(r for r in race if r.returncode == 2)
    assert "already exists" in loser.stderr
    assert [r.returncode for r in results[2:]] == [0, 0], [r.stderr for r in results]
    with SpaceManager(settings) as manager:
        assert manager.get_space(same).owner_id in {"p1", "p2"}
        for sid in distinct:
            assert manager.open_space(sid).graph.counts() == {"entities": 0, "relations": 0}


def test_data_intact_after_services_restart(tmp_path) -> None:
    settings = make_settings(tmp_path / "home")
    created = run_cli(settings, "create", "durable", "--name", "D", "--owner", "alice")
    assert created.returncode == 0, created.stderr
    with SpaceManager(settings) as manager:
        space = manager.open_space("durable", write=True)
        space.vault.write_note("Projects/keep.md", "kept")
        space.graph.merge_relation("Disk", "holds", "Data")
        with space.memory() as memory:
            memory.add("Snapshots keep the graph across restarts")
        manager.record_usage("durable", 1234)
    down = run_cli(settings, "down")
    assert down.returncode == 0 and "postgres" in down.stdout and "falkordb" in down.stdout
    shown = run_cli(settings, "show", "durable", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["owner_id"] == "alice"
    try:
        with SpaceManager(settings) as manager:
            space = manager.open_space("durable")
            assert space.graph.relations() == [("Disk", "holds", "Data")]
            with space.memory() as memory:
                assert memory.search("restarts")[0].text.startswith("Snapshots")
            assert manager.get_usage("durable").tokens_used == 1234
            assert space.vault.read_note("Projects/keep.md").text.strip() == "kept"
    finally:
        run_cli(settings, "down")


def test_second_call_finds_services_running(settings) -> None:
    """A warm CLI call connects to the running server instead of starting one."""
    code = (
        "import time, sys; t = time.perf_counter();"
        "from app.services.postgres import ensure_postgres, running_uri;"
        "from app.settings import Settings; s = Settings.from_env();"
        "assert running_uri(s) is not None; ensure_postgres(s);"
        "print(time.perf_counter() - t)"
    )
    env = {"SPACES_HOME": str(settings.home), "SPACES_VAULTS_DIR": str(settings.vaults_dir)}
    with SpaceManager(settings) as manager:
        manager.list_spaces()  # make sure it is up
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert float(out.stdout) < 0.5  # a cold start takes over a second
