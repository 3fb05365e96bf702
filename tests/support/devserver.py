"""Start ``langgraph dev`` for tests and benchmarks, isolated in a temporary home.

The dev server keeps its threads in ``./.langgraph_api``, so it runs in the
temporary home, with the project's own ``langgraph.json`` given by absolute
path (or a copy with the extra graphs a benchmark registers).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.settings import ROOT


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dev_server(
    home: Path,
    secret: str,
    extra_graphs: dict[str, str] | None = None,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[str, subprocess.Popen]:
    """Start the server; return its URL and process once ``/ok`` answers."""
    config_path = ROOT / "langgraph.json"
    if extra_graphs:
        # A copy with the extra graphs; the project's graphs, auth and http
        # name modules, so they resolve wherever the copy lives.
        config = json.loads(config_path.read_text())
        config["dependencies"] = [str(ROOT)]
        config["graphs"].update(extra_graphs)
        config_path = home / "langgraph.json"
        config_path.write_text(json.dumps(config))
    port = free_port()
    env = {
        **os.environ,
        "SPACES_HOME": str(home),
        "SPACES_VAULTS_DIR": str(home / "vaults"),
        "SPACES_JWT_SECRET": secret,
        # The checkout under test, before an editable install of another one.
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        **(env or {}),
    }
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload",
         "--host", "127.0.0.1", "--port", str(port), "--config", str(config_path),
         *args],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("langgraph dev did not start:\n" + (home / "server.log").read_text()[-3000:])


@contextmanager
def served(home: Path, secret: str, **env: str) -> Iterator[str]:
    """A server in ``home`` for the block; then it and its embedded services stop."""
    from app.services.falkordb import stop_graph_server
    from app.services.postgres import stop_postgres
    from app.settings import Settings

    url, proc = start_dev_server(home, secret, env=env)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        settings = Settings.from_env(
            {"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "vaults")}
        )
        stop_graph_server(settings)
        stop_postgres(settings)
