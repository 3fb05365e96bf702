"""Start Aegra for tests and benchmarks through ``spaces serve``, isolated in a temporary home.

The instances, their Postgres and their Redis all live in the home and
stop with ``spaces down``; :func:`kill_instance` SIGKILLs one of them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from app.services.aegra import running_instances
from tests.support.settings import ROOT, make_settings

FAST_TAKEOVER = {
    "LEASE_DURATION_SECONDS": "9",
    "HEARTBEAT_INTERVAL_SECONDS": "3",
    "REAPER_INTERVAL_SECONDS": "3",
}


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + count < 65536 and all(_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _env(home: Path, secret: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "SPACES_HOME": str(home),
        "SPACES_VAULTS_DIR": str(home / "vaults"),
        "SPACES_JWT_SECRET": secret,
        "LOG_LEVEL": "WARNING",
        # The venv's editable install points `app` at one checkout; the
        # server must import this one's (a worktree's) code.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    }


def spaces(home: Path, secret: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``spaces`` CLI against ``home``."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
        env=_env(home, secret, env), cwd=ROOT, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip


def start_aegra(
    home: Path, secret: str, instances: int = 1, port: int | None = None, **env: str
) -> list[str]:
    """``spaces serve --instances N``; return the URLs it printed."""
    port = port or free_ports(instances)
    done = spaces(home, secret, "serve", "--instances", str(instances), "--port", str(port), **env)
    if done.returncode != 0:
        raise RuntimeError(f"spaces serve failed: {done.stderr}")
    return done.stdout.split()


def stop_aegra(home: Path, secret: str) -> str:
    """``spaces down``: the instances, Redis, Postgres and FalkorDB of ``home``."""
    return spaces(home, secret, "down").stdout


def kill_instance(home: Path, url: str) -> None:
    """SIGKILL the instance serving ``url`` (and its process group)."""
    port = int(url.rsplit(":", 1)[1])
    pid = running_instances(make_settings(home))[port]
    os.killpg(pid, signal.SIGKILL)
