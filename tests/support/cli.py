"""The ``spaces`` command line as tests drive it: in a subprocess, or in process.

A subprocess is what a user runs (exit code, stdout, stderr, no terminal);
in process is for the role matrices, which run hundreds of commands.
"""

from __future__ import annotations

import os
import subprocess
import sys

from app.settings import Settings
from tests.support.settings import ROOT


def run_cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``spaces`` in a subprocess against ``settings``' home."""
    full_env = {
        **os.environ,
        "SPACES_HOME": str(settings.home),
        "SPACES_VAULTS_DIR": str(settings.vaults_dir),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,  # never a terminal: the CLI must not prompt
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=120,
    )


def run_main(monkeypatch, capsys, settings: Settings, *args: str) -> tuple[int, str, str]:
    """Run ``spaces`` in this process against ``settings``' home: exit code, stdout, stderr."""
    from app.cli import main  # only the in-process callers load the CLI

    monkeypatch.setenv("SPACES_HOME", str(settings.home))
    monkeypatch.setenv("SPACES_VAULTS_DIR", str(settings.vaults_dir))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
