"""``spaces serve`` refuses bad input with one line and starts nothing."""

from __future__ import annotations

from pathlib import Path

from tests.aegraserver import spaces

SECRET = "serve-secret-" + "q" * 32


def test_serve_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    cases = [
        ("", ["serve"], "SPACES_JWT_SECRET"),
        ("short", ["serve"], "SPACES_JWT_SECRET"),
        (SECRET, ["serve", "--instances", "0"], "--instances"),
        (SECRET, ["serve", "--instances", "x"], "invalid int"),
        (SECRET, ["serve", "--port", "80"], "--port"),
    ]
    for secret, args, words in cases:
        done = spaces(tmp_path, secret, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stdout == ""
    assert not (tmp_path / "aegra").exists() and not (tmp_path / "postgres").exists()
    assert "nothing was running" in spaces(tmp_path, SECRET, "down").stdout
