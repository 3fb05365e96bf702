"""``spaces serve`` refuses bad input with one line and starts nothing."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.aegraserver import spaces

SECRET = "serve-secret-" + "q" * 32


def test_serve_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    cases = [
        ("", ["serve"], "SPACES_JWT_SECRET"),
        ("short", ["serve"], "SPACES_JWT_SECRET"),
        (SECRET, ["serve", "--instances", "0"], "--instances"),
        (SECRET, ["serve", "--instances", "x"], "invalid int"),
        (SECRET, ["serve", "--port", "80"], "--port 80 is a privileged port (below 1024"),
        (SECRET, ["serve", "--port", "65535", "--instances", "2"], "above the highest, 65535"),
    ]
    for secret, args, words in cases:
        done = spaces(tmp_path, secret, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stdout == ""
    assert not (tmp_path / "aegra").exists() and not (tmp_path / "postgres").exists()
    assert "nothing was running" in spaces(tmp_path, SECRET, "down").stdout


def test_serve_says_a_port_is_in_use(tmp_path: Path) -> None:
    """``--port`` taken by another program: that, not a rule about room below 65536."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = spaces(tmp_path, SECRET, "serve", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"spaces: port {port} is in use by another program: choose another --port"
    )
    assert not (tmp_path / "postgres").exists()
