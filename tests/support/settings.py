"""Where the project is, and test settings for a home: the base every other helper builds on.

Not a fixture because subprocess helpers, benchmarks and module-scoped
servers need settings for a home of their own, outside the session's.
"""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def make_settings(home: Path, **env: str) -> Settings:
    """Settings for ``home`` with no external URLs, plus ``env`` overrides."""
    base = {"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "vaults")}
    return Settings.from_env({**base, **env})
