"""Process settings, read once from the environment and then passed explicitly.

Nothing in the code base reads ``os.environ`` after start-up except through
``Settings.from_env``: the CLI, notebooks and tests build one ``Settings`` and
hand it down. Per-run values (the space, the user) never come from here; they
travel with the run as its runtime context.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import InvalidInput

DEFAULT_EMBEDDINGS = "wordllama"
DEFAULT_JWT_MAX_LIFETIME_S = 24 * 3600


def number(env: Mapping[str, str], name: str, default: float, kind: type = int) -> Any:
    """``env[name]`` as a number of ``kind``, ``default`` when unset; one line naming it if bad.

    A misspelt setting must stop the process with the variable's name, not a
    ``ValueError`` traceback from deep inside a later call.
    """
    raw = (env.get(name) or "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InvalidInput(f"{name} must be {what}, not {raw[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise InvalidInput(f"{name} must be a finite number >= 0, not {raw[:40]!r}")
    return value


# The checkout this package was imported from: it holds these files, an
# installed wheel (site-packages) does not.
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_CHECKOUT_MARKERS = ("pyproject.toml", "langgraph.json")


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """Where state lives when ``SPACES_HOME`` is not set: one place, whatever the working folder.

    In a checkout (the package imported from a folder with ``pyproject.toml``
    and ``langgraph.json``, as ``pip install -e .`` and ``langgraph dev`` do)
    it is the checkout's ``.spaces/``: the CLI, ``make demo``, ``langgraph
    dev`` and the notebooks in ``notebooks/`` all find the same spaces, as
    they did when started from the checkout's root, and two checkouts keep
    apart. An installed package has no checkout, so it uses the user's data
    folder, ``$XDG_DATA_HOME/spaces`` (default ``~/.local/share/spaces``).
    Tests set ``SPACES_HOME`` to a temporary folder.
    """
    if all((_PACKAGE_ROOT / name).is_file() for name in _CHECKOUT_MARKERS):
        return _PACKAGE_ROOT / ".spaces"
    env = os.environ if environ is None else environ
    data = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return data / "spaces"


def default_vaults_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The vaults without ``SPACES_VAULTS_DIR``: the checkout's ``vaults/``, else the home's."""
    home = default_home(environ)
    return _PACKAGE_ROOT / "vaults" if home == _PACKAGE_ROOT / ".spaces" else home / "vaults"


def ensure_home(settings: Settings) -> Path:
    """Create the home folder if it is missing, and say so once, on stderr.

    Only the process whose ``mkdir`` made it prints, so a person learns where
    their spaces live the first time, and a second process started at the
    same moment stays quiet.
    """
    home = settings.home
    if home.is_dir():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    try:
        home.mkdir()
    except FileExistsError:
        return home
    print(
        f"spaces: created the spaces home {home} (set SPACES_HOME to use another)",
        file=sys.stderr,
        flush=True,
    )
    return home


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
    # Bearer tokens (app/server/tokens.py): the HS256 secret, the longest lifetime a token
    # may claim, and the issuer/audience it must name when set.
    jwt_secret: str = field(default="", repr=False)
    jwt_max_lifetime_s: int = DEFAULT_JWT_MAX_LIFETIME_S
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Test-only: ``scripted:<name>`` models, each built by its factory (see app/llm/resolve.py).
    # Never read from the environment, so a served or CLI run cannot name one.
    scripted_models: tuple[tuple[str, Callable[[], Any]], ...] = field(default=(), repr=False)

    @staticmethod
    @functools.cache
    def served() -> Settings:
        """The settings of a server process, read from its environment once.

        The auth handler and the REST app read them when they are imported, so
        a request never reads the environment (or the working folder, which
        the dev server's event loop refuses as a blocking call).
        """
        return Settings.from_env()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Settings:
        """Build settings from environment variables (see docs/settings.md).

        Without ``SPACES_HOME`` and ``SPACES_VAULTS_DIR`` the folders do not
        depend on the working folder (:func:`default_home`). Relative paths
        given in them are resolved against ``cwd`` now, so that a later
        ``chdir`` cannot move a space's data.
        """
        env = os.environ if environ is None else environ
        base = (cwd or Path.cwd()).resolve()

        def path(name: str, default: Path) -> Path:
            raw = env.get(name)
            p = Path(raw).expanduser() if raw else default
            return (p if p.is_absolute() else base / p).resolve()

        api_key = env.get("OPENAI_API_KEY") or None
        return cls(
            home=path("SPACES_HOME", default_home(env)),
            vaults_dir=path("SPACES_VAULTS_DIR", default_vaults_dir(env)),
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
            approval_timeout_s=number(env, "SPACES_APPROVAL_TIMEOUT_S", 300),
            chat_context_tokens=number(env, "SPACES_CHAT_CONTEXT_TOKENS", 16_000),
            compact_at=number(env, "SPACES_COMPACT_AT", 0.8, float),
            truncate_at=number(env, "SPACES_TRUNCATE_AT", 0.95, float),
            jwt_secret=env.get("SPACES_JWT_SECRET") or "",
            jwt_max_lifetime_s=number(env, "SPACES_JWT_MAX_LIFETIME_S", DEFAULT_JWT_MAX_LIFETIME_S),
            jwt_issuer=env.get("SPACES_JWT_ISSUER") or None,
            jwt_audience=env.get("SPACES_JWT_AUDIENCE") or None,
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
