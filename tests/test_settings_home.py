"""One default home: every entry point finds the same spaces, whatever folder it starts in."""

from __future__ import annotations

import os
import subprocess
import sys

from app import settings as settings_module
from app.settings import Settings, ensure_home
from tests.support.settings import ROOT

PRINT_HOME = (
    "from app.settings import Settings; s = Settings.from_env(); print(s.home, s.vaults_dir)"
)


def _without_home_vars() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPACES_HOME", "SPACES_VAULTS_DIR")}
    return {**env, "PYTHONPATH": str(ROOT)}


def test_the_default_home_does_not_depend_on_the_working_folder(tmp_path) -> None:
    """``langgraph dev`` started elsewhere, or the notebook run from ``notebooks/``, used
    ``./.spaces`` of its own folder and saw no spaces (issue 20 item 8)."""
    expected = f"{ROOT / '.spaces'} {ROOT / 'vaults'}"
    for folder in (tmp_path, ROOT / "notebooks", ROOT):
        shown = subprocess.run(
            [sys.executable, "-c", PRINT_HOME], cwd=folder, env=_without_home_vars(),
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert shown.stdout.strip() == expected, folder
    assert not (tmp_path / ".spaces").exists()
    # SPACES_HOME still wins; a relative one is the caller's choice, read against cwd.
    chosen = Settings.from_env({"SPACES_HOME": "h", "SPACES_VAULTS_DIR": "v"}, cwd=tmp_path)
    assert (chosen.home, chosen.vaults_dir) == (tmp_path / "h", tmp_path / "v")


def test_an_installed_package_keeps_state_in_the_users_data_folder(tmp_path, monkeypatch):
    """Outside a checkout (a wheel in site-packages) the home is ``$XDG_DATA_HOME/spaces``."""
    monkeypatch.setattr(settings_module, "_PACKAGE_ROOT", tmp_path / "site-packages")
    found = Settings.from_env({"XDG_DATA_HOME": str(tmp_path / "data")}, cwd=tmp_path / "x")
    assert found.home == tmp_path / "data" / "spaces"
    assert found.vaults_dir == tmp_path / "data" / "spaces" / "vaults"


def test_the_home_is_announced_once_when_it_is_created(tmp_path, capsys) -> None:
    settings = Settings.from_env({"SPACES_HOME": str(tmp_path / "new" / "home")})
    ensure_home(settings)
    ensure_home(settings)
    err = capsys.readouterr().err
    assert err == (
        f"spaces: created the spaces home {tmp_path / 'new' / 'home'} "
        "(set SPACES_HOME to use another)\n"
    )
    assert settings.home.is_dir()
