"""The ``spaces`` command line: JSON documents, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from app.spaces.model.space_model import SpaceConfig
from tests.support.cli import run_cli
from tests.support.settings import ROOT


def test_create_show_list_usage_archive(settings, new_id) -> None:
    sid = new_id("cli")
    created = run_cli(
        settings, "create", sid, "--name", "CLI", "--owner", "carol",
        "--description", "via cli", "--token-budget", "5000", "--model", "offline", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    shown = json.loads(run_cli(settings, "show", sid, "--json").stdout)
    fields = set(SpaceConfig.__dataclass_fields__) | {"status", "created_at"}
    assert fields <= set(shown)
    assert shown["monthly_token_budget"] == 5000
    assert shown["preferred_model"] == "offline"
    assert shown["status"] == "active"
    listed = json.loads(run_cli(settings, "list", "--owner", "carol", "--json").stdout)
    assert sid in [s["space_id"] for s in listed]
    usage = json.loads(run_cli(settings, "usage", sid, "--json").stdout)
    assert usage["tokens_remaining"] == 5000 and usage["over_budget"] is False
    archived = run_cli(settings, "archive", sid)
    assert archived.returncode == 0 and "archived" in archived.stdout
    assert json.loads(run_cli(settings, "show", sid, "--json").stdout)["status"] == "archived"
    assert run_cli(settings, "activate", sid).returncode == 0


def test_user_errors_exit_2_with_one_line(settings) -> None:
    for args in (
        ("show", "nope_not_here"),
        ("show", "../etc"),
        ("create", "ok_id", "--name", "x", "--owner", "o", "--token-budget", "-1"),
        ("create", "ok_id", "--name", "", "--owner", "o"),
        ("create", "ok_id", "--name", "x" * 10_000, "--owner", "o"),
        ("usage", "x", "--owner", "o"),
        ("bogus-command",),
        ("create", "missing_flags"),
    ):
        result = run_cli(settings, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert run_cli(settings, "show", "ok_id").returncode == 2  # nothing was created


def test_a_reader_that_leaves_early_is_no_error(settings, manager, space) -> None:
    """``spaces ... | head -1``: a closed pipe ends the command quietly, without a traceback."""
    for n in range(30):
        manager.open_space(space.space_id, write=True).vault.write_note(
            f"Learning/n{n}.md", f"Raft note {n}: the leader replicates the log."
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "recall", space.space_id, "raft leader", "--k", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "SPACES_HOME": str(settings.home),
             "SPACES_VAULTS_DIR": str(settings.vaults_dir)},
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
