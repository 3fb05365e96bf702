"""Store failures that arrive as a driver's own exception, turned into one user-facing error.

Our store code raises ``StoreUnavailable`` where it expects trouble, but a
store can die anywhere: Postgres killed between two statements of a run
surfaces as ``psycopg.OperationalError`` from LangGraph's checkpointer, or
as a pool timeout. Entry points catch ``STORE_ERRORS`` and show the one line
of ``store_failure`` instead of a traceback; the run stays resumable from
its last checkpoint.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import PoolTimeout

from app.errors import StoreUnavailable

STORE_ERRORS: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)


def store_failure(exc: BaseException, thread_id: str | None = None) -> StoreUnavailable:
    """``StoreUnavailable`` for a Postgres failure, carrying the run's thread if there is one."""
    error = StoreUnavailable("postgres", str(exc) or type(exc).__name__)
    error.thread_id = thread_id
    return error


# When the server dies under a pipeline (LangGraph's checkpointer uses one),
# psycopg logs a second "error ignored terminating ..." warning on top of the
# error that is raised; the person gets the raised one, as one line.
logging.getLogger("psycopg").setLevel(logging.ERROR)
