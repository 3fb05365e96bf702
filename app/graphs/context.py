"""The typed runtime context every graph run carries: who runs it, and how.

The space is not here: it is part of the run's input (``space_id``), checked
against this context's user at admission. Under the LangGraph server the
user is set by the auth handler, never by the caller's input. ``settings``
is for embedding (tests, notebooks); left ``None`` it is read from the
environment once per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic.json_schema import SkipJsonSchema

from app.errors import InvalidInput
from app.settings import Settings

DEFAULT_TOKEN_RESERVE = 10_000


@dataclass(frozen=True)
class RunContext:
    """Per-run values: the user, an optional model override, the admission reserve.

    ``model`` wins over the space's ``preferred_model``, which wins over
    ``SPACES_MODEL``. ``token_reserve``: a run is refused when the space has
    fewer tokens left this month (seed 000's 10,000).
    """

    user_id: str = ""  # under the server, set from authentication (see admission.run_context)
    model: str | None = None
    token_reserve: int = DEFAULT_TOKEN_RESERVE
    # Hidden from the context schema Studio and the server show: only Python
    # callers can hand over a real ``Settings``; JSON from a caller is refused.
    settings: SkipJsonSchema[Settings | None] = None

    def __post_init__(self) -> None:
        if self.settings is not None and not isinstance(self.settings, Settings):
            raise InvalidInput("settings cannot be set by the caller of a run")
        if (
            isinstance(self.token_reserve, bool)
            or not isinstance(self.token_reserve, int)
            or self.token_reserve < 0
        ):
            raise InvalidInput("token_reserve must be a whole number of at least 0")
