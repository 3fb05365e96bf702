"""Process settings, read once from the environment and then passed explicitly.

Nothing in the code base reads ``os.environ`` after start-up except through
``Settings.from_env``: the CLI, notebooks and tests build one ``Settings`` and
hand it down. Per-run values (the space, the user) never come from here; they
travel with the run as its runtime context.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import InvalidInput

DEFAULT_EMBEDDINGS = "wordllama"


@dataclass(frozen=True)
class Settings:
    """Where state lives and which external services to use instead of embedded ones.

    A URL left as ``None`` means "start the embedded service on demand":
    embedded PostgreSQL for ``database_url``, qdrant-client's local mode for
    ``qdrant_url`` and FalkorDB (spoken to natively) for ``neo4j_uri``.
    """

    home: Path
    vaults_dir: Path
    database_url: str | None = None
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    neo4j_uri: str | None = None
    neo4j_username: str = "neo4j"
    neo4j_password: str = ""
    model: str = "offline"
    embeddings: str = DEFAULT_EMBEDDINGS
    openai_base_url: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    # Context windows by model name, ``*`` any other: ``SPACES_MODEL_CONTEXT`` (app/llm/window.py).
    model_context: tuple[tuple[str, int], ...] = ()
    langfuse_public_key: str | None = None
    langfuse_secret_key: str | None = field(default=None, repr=False)
    langfuse_host: str | None = None
    allow_private_urls: bool = False
    redis_url: str | None = None  # Aegra's job queue (`spaces serve`); None: embedded Redis
    approval_timeout_s: int = 300  # chat plans: an answer after this counts as declined
    chat_context_tokens: int = 16_000  # a chat session's history budget (compaction)
    compact_at: float = 0.8  # summarise older turns above this share of the budget
    truncate_at: float = 0.95  # drop the oldest turns, without the model, above this
    # Test-only: ``scripted:<name>`` models, each built by its factory (see app/llm/resolve.py).
    # Never read from the environment, so a served or CLI run cannot name one.
    scripted_models: tuple[tuple[str, Callable[[], Any]], ...] = field(default=(), repr=False)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Settings:
        """Build settings from environment variables (see README, "Settings").

        Relative paths are resolved against ``cwd`` now, so that a later
        ``chdir`` cannot move a space's data.
        """
        env = os.environ if environ is None else environ
        base = (cwd or Path.cwd()).resolve()

        def path(name: str, default: str) -> Path:
            raw = env.get(name) or default
            p = Path(raw).expanduser()
            return (p if p.is_absolute() else base / p).resolve()

        api_key = env.get("OPENAI_API_KEY") or None
        return cls(
            home=path("SPACES_HOME", ".spaces"),
            vaults_dir=path("SPACES_VAULTS_DIR", "vaults"),
            database_url=env.get("DATABASE_URL") or None,
            qdrant_url=env.get("QDRANT_URL") or None,
            qdrant_api_key=env.get("QDRANT_API_KEY") or None,
            neo4j_uri=env.get("NEO4J_URI") or None,
            neo4j_username=env.get("NEO4J_USERNAME") or "neo4j",
            neo4j_password=env.get("NEO4J_PASSWORD") or "",
            model=env.get("SPACES_MODEL") or ("openai:gpt-4o-mini" if api_key else "offline"),
            embeddings=env.get("SPACES_EMBEDDINGS") or DEFAULT_EMBEDDINGS,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_api_key=api_key,
            model_context=parse_model_context(env.get("SPACES_MODEL_CONTEXT") or ""),
            langfuse_public_key=env.get("LANGFUSE_PUBLIC_KEY") or None,
            langfuse_secret_key=env.get("LANGFUSE_SECRET_KEY") or None,
            langfuse_host=env.get("LANGFUSE_HOST") or env.get("LANGFUSE_BASE_URL") or None,
            allow_private_urls=(env.get("SPACES_ALLOW_PRIVATE_URLS") or "").lower()
            in ("1", "true", "yes"),
            redis_url=env.get("REDIS_URL") or None,
            approval_timeout_s=int(env.get("SPACES_APPROVAL_TIMEOUT_S") or 300),
            chat_context_tokens=int(env.get("SPACES_CHAT_CONTEXT_TOKENS") or 16_000),
            compact_at=float(env.get("SPACES_COMPACT_AT") or 0.8),
            truncate_at=float(env.get("SPACES_TRUNCATE_AT") or 0.95),
        )


def parse_model_context(raw: str) -> tuple[tuple[str, int], ...]:
    """``"smollm2=4096,*=16000"`` -> ``(("smollm2", 4096), ("*", 16000))``; one line if bad."""
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, tokens = item.rpartition("=")
        if not sep or not name.strip() or not tokens.strip().isdigit() or int(tokens) < 256:
            raise InvalidInput(f"SPACES_MODEL_CONTEXT: {item!r} is not name=tokens (tokens >= 256)")
        pairs.append((name.strip(), int(tokens)))
    return tuple(pairs)
