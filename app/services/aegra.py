"""N Aegra instances (``aegra serve``) on consecutive loopback ports: ``spaces serve``.

Aegra serves the LangGraph Agent Server API from Postgres, with Redis as
the job queue its instances share, so any instance can answer for, join
or take over a run started on another. This module only starts and stops
the processes; Aegra does the rest (migrations, leases, takeover).

Every instance gets the project's ``aegra.json`` (``langgraph.json`` with the
graphs as files, since Aegra loads no graph by module name), ``DATABASE_URL``
(the registry's own Postgres, so the CLI, the routes and the graphs see the
same spaces) and ``REDIS_URL``. Aegra
serves everyone as one anonymous user when it cannot load the auth handler,
so each instance must refuse a request without a token before it is
reported as up; otherwise all of them are stopped.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
from filelock import FileLock

from app.errors import InvalidInput, StoreUnavailable
from app.services.falkordb import _pid_alive
from app.services.postgres import ensure_postgres
from app.services.redis import ensure_redis
from app.settings import Settings, ensure_home

PROJECT = Path(__file__).resolve().parent.parent.parent
CONFIG = PROJECT / "aegra.json"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def _dir(settings: Settings) -> Path:
    return settings.home / "aegra"


def _state_file(settings: Settings) -> Path:
    return _dir(settings) / "instances.json"


def _lock(settings: Settings) -> FileLock:
    ensure_home(settings)
    return FileLock(str(settings.home / "aegra.lock"))


def _instances(settings: Settings) -> dict[int, int]:
    """Port -> pid of the instances started from this home that still run."""
    try:
        raw = json.loads(_state_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {int(port): int(pid) for port, pid in raw.items() if _pid_alive(int(pid))}


def _save(settings: Settings, instances: Mapping[int, int]) -> None:
    _dir(settings).mkdir(parents=True, exist_ok=True)
    _state_file(settings).write_text(json.dumps({str(p): pid for p, pid in instances.items()}))


def instance_env(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of an instance: ours plus the stores Aegra needs."""
    return {
        **environ,
        "SPACES_HOME": str(settings.home.resolve()),
        "SPACES_VAULTS_DIR": str(settings.vaults_dir.resolve()),
        "DATABASE_URL": ensure_postgres(settings),
        "REDIS_BROKER_ENABLED": "true",
        "REDIS_URL": ensure_redis(settings),
        # http.app is imported before langgraph.json's dependencies join sys.path.
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT), environ.get("PYTHONPATH")) if p),
    }


def _spawn(settings: Settings, port: int, env: Mapping[str, str], config: Path) -> int:
    _dir(settings).mkdir(parents=True, exist_ok=True)
    log = (_dir(settings) / f"instance-{port}.log").open("ab")
    aegra = Path(sys.executable).parent / "aegra"
    proc = subprocess.Popen(
        [str(aegra), "serve", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
        cwd=_dir(settings), env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    log.close()
    return proc.pid


def _wait_up(settings: Settings, port: int, pid: int) -> None:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            break
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                anonymous = httpx.post(f"{url}/threads/search", json={}, timeout=10)
                if anonymous.status_code != 401:
                    raise StoreUnavailable(
                        "aegra", f"{url} answered {anonymous.status_code} without a token: "
                        "its auth handler did not load; see its log",
                    )  # fmt: skip
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    log = _dir(settings) / f"instance-{port}.log"
    raise StoreUnavailable("aegra", f"the instance on port {port} did not start; see {log}")


def check_ports(port: int, instances: int) -> None:
    """Refuse ports the instances cannot have, saying which rule they break."""
    if port < 1024:
        raise InvalidInput(
            f"--port {port} is a privileged port (below 1024, for system services): "
            "choose one from 1024 up, e.g. the default 2026"
        )
    if port + instances - 1 > 65535:
        last = port + instances - 1
        raise InvalidInput(
            f"--port {port} with {instances} instance(s) would need port {last}, "
            "above the highest, 65535: choose a lower --port"
        )


def _bind_problem(port: int) -> str | None:
    """Why this process could not listen on ``port`` now, or ``None`` if it could."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a listener does
        try:
            s.bind(("127.0.0.1", port))
        except PermissionError:
            return f"no permission to listen on port {port}: choose another --port"
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is in use by another program: choose another --port"
            return f"cannot listen on port {port} ({exc.strerror}): choose another --port"
    return None


def serve(
    settings: Settings,
    instances: int,
    port: int,
    environ: Mapping[str, str],
    config: Path = CONFIG,
) -> list[str]:
    """Start the missing ones of ``instances`` instances from ``port`` on; return their URLs.

    Instances already running from this home are kept, so calling it again
    after one died brings that one back. ``config`` is the project's
    ``aegra.json`` unless a benchmark registers graphs of its own. The first new instance starts
    alone (it runs Aegra's migrations), the rest together.
    """
    if not 1 <= instances <= 32:
        raise InvalidInput("--instances must be between 1 and 32")
    check_ports(port, instances)
    if len(environ.get("SPACES_JWT_SECRET", "").encode()) < 32:
        raise InvalidInput("set SPACES_JWT_SECRET (at least 32 bytes) before serving")
    ports = list(range(port, port + instances))
    with _lock(settings):
        running = _instances(settings)
        missing = [p for p in ports if p not in running]
        for p in missing:
            if (problem := _bind_problem(p)) is not None:
                raise InvalidInput(problem)
        env = instance_env(settings, environ)
        started: dict[int, int] = {}
        try:
            for group in (missing[:1], missing[1:]):
                for p in group:
                    started[p] = _spawn(settings, p, env, config)
                    _save(settings, {**running, **started})
                for p in group:
                    _wait_up(settings, p, started[p])
        except BaseException:
            for pid in started.values():
                _terminate(pid)
            _save(settings, running)
            raise
    return [f"http://127.0.0.1:{p}" for p in ports]


def _terminate(pid: int, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


def running_instances(settings: Settings) -> dict[int, int]:
    """Port -> pid of this home's running instances."""
    return _instances(settings)


def stop_instances(settings: Settings) -> bool:
    """Stop every instance started from this home; return whether any ran."""
    with _lock(settings):
        instances = _instances(settings)
        for pid in instances.values():
            _terminate(pid)
        _state_file(settings).unlink(missing_ok=True)
        return bool(instances)
