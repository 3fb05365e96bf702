"""Each hostile CLI input in ``hostile_cases.yaml``: one line, the right exit code, no change.

The inputs are data, so the next one is one line in ``hostile_cases.yaml``. Each
case runs ``app.cli.main`` in this process (against the session's embedded
services), under an alarm: an input that makes the CLI read forever (a FIFO,
``/dev/zero``) fails the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main
from app.spaces.model.space_model import SpaceConfig

HERE = Path(__file__).resolve().parent
TABLE = yaml.safe_load((HERE / "hostile_cases.yaml").read_text(encoding="utf-8"))
CASE_TIMEOUT_S = 60
_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _make(path: Path, spec: dict[str, Any]) -> None:
    """Create one fixture file of ``hostile_cases.yaml``'s ``files``."""
    if spec.get("fifo"):
        os.mkfifo(path)
    elif spec.get("dir"):
        path.mkdir()
    elif "symlink" in spec:
        path.symlink_to(spec["symlink"])
    elif "sparse" in spec:
        with path.open("wb") as f:
            f.truncate(spec["sparse"])
    elif "bytes" in spec:
        path.write_bytes(bytes.fromhex(spec["bytes"]))
    elif "repeat" in spec:
        opening, closing = spec["repeat"]
        depth = spec["depth"]
        path.write_text(opening * depth + spec.get("inner", "") + closing * depth)
    else:
        text = spec["text"]
        path.write_text(text * (spec.get("size", len(text)) // len(text)))


@pytest.fixture(scope="module")
def world(manager, tmp_path_factory) -> dict[str, str]:
    """The spaces and files the placeholders of ``hostile_cases.yaml`` name."""
    tmp = tmp_path_factory.mktemp("hostile")
    for name, spec in TABLE["files"].items():
        _make(tmp / name, spec)
    pid = os.getpid()
    space = manager.create_space(SpaceConfig(f"hostile_{pid}", "Hostile", "alice"))
    other = manager.create_space(SpaceConfig(f"hostile_bob_{pid}", "Bob's", "bob"))
    archived = manager.create_space(SpaceConfig(f"hostile_arch_{pid}", "Archived", "alice"))
    manager.archive_space(archived.space_id)
    poor = manager.create_space(
        SpaceConfig(f"hostile_poor_{pid}", "Poor", "alice", monthly_token_budget=50)
    )
    return {
        "space": space.space_id,
        "other": other.space_id,
        "archived": archived.space_id,
        "poor": poor.space_id,
        "tmp": str(tmp),
        "thread": str(uuid.uuid4()),
        "long_query": "x" * 5_000,
        "long_thread": "t" * 100,
    }


def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"the CLI did not return within {CASE_TIMEOUT_S} s")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                code = int(exc.code or 0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["id"] for c in TABLE["cases"]])
def test_hostile_input(case: dict[str, Any], world: dict[str, str], manager, monkeypatch) -> None:
    monkeypatch.setenv("SPACES_HOME", str(manager.settings.home))
    monkeypatch.setenv("SPACES_VAULTS_DIR", str(manager.settings.vaults_dir))
    argv = [arg.format(**world) for arg in case["argv"]]
    code, out, err = _run(argv)
    lines = err.splitlines()
    assert code == case["exit"], err
    assert "Traceback" not in err
    assert not _RAW_CONTROL.search(err) and not _RAW_CONTROL.search(out), err
    errors = [ln for ln in lines if ln.startswith("spaces:") and not ln.endswith("…")]
    assert len(errors) == 1, err  # one line says what was wrong
    assert re.search(case["err"], errors[0]), errors[0]
    assert lines[-1] == errors[0]
    # Nothing changed: alice's space has no objects and no runs.
    handle = manager.open_space(world["space"])
    with handle.postgres.connection() as conn:
        assert conn.execute("SELECT count(*) FROM objects").fetchone()[0] == 0
    with manager.backends.pool.connection() as conn:
        threads = conn.execute(
            "SELECT count(*) FROM spaces_registry.threads WHERE space_id = %s", [world["space"]]
        ).fetchone()[0]
    assert threads == 0
