"""Langfuse tracing of whole runs, when (and only when) its keys are set.

With ``LANGFUSE_PUBLIC_KEY`` and ``LANGFUSE_SECRET_KEY`` unset, nothing is
imported or attempted, so nothing is printed either. With them set, each run
gets Langfuse's LangChain callback, with the space id and user as tags, the
user as the trace's user and the thread as its session.
"""

from __future__ import annotations

from typing import Any

from app.settings import Settings


def tracing_enabled(settings: Settings) -> bool:
    """Whether Langfuse keys are configured."""
    return bool(settings.langfuse_public_key and settings.langfuse_secret_key)


def run_config(settings: Settings, *, space_id: str, user_id: str, thread_id: str) -> dict:
    """Callbacks and metadata to add to a run's config (empty without Langfuse)."""
    if not tracing_enabled(settings):
        return {}
    from langfuse import Langfuse
    from langfuse.langchain import CallbackHandler

    # One client per public key, kept by Langfuse itself; the handler finds it by key.
    Langfuse(
        public_key=settings.langfuse_public_key,
        secret_key=settings.langfuse_secret_key,
        host=settings.langfuse_host,
    )
    handler: Any = CallbackHandler(public_key=settings.langfuse_public_key)
    return {
        "callbacks": [handler],
        "metadata": {
            "langfuse_user_id": user_id,
            "langfuse_session_id": thread_id,
            "langfuse_tags": [f"space:{space_id}", f"user:{user_id}"],
        },
    }


def flush(settings: Settings) -> None:
    """Send buffered traces now (a CLI process is about to exit)."""
    if tracing_enabled(settings):
        from langfuse import get_client

        get_client(public_key=settings.langfuse_public_key).flush()
