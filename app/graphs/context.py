"""The typed runtime context every graph run carries: who runs it, and how.

The space is part of the run's input (``space_id``), checked against this
context's user by every node (see ``scope.py``). A served ``chat`` run may
instead take it from here: an assistant made for a space (and an agent)
carries them in its context, so a stock UI that only knows the assistant
works inside that space (``app/server/assistants.py``). Under the
LangGraph server the user is set by the auth handler, never by the caller.
Nothing process-wide travels here: settings and connections are the graph's
dependencies, given to its factory (``deps.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInput


@dataclass(frozen=True)
class RunContext:
    """Per-run values: the user, an optional model override, an optional admission hold.

    ``space_id`` and ``agent`` are defaults an assistant carries; the run's
    input wins over them, and every node checks the space against the user.

    ``model`` wins over the space's ``preferred_model``, which wins over
    ``SPACES_MODEL``. ``token_reserve``: the tokens a run holds when it is
    admitted; ``None`` holds the run's own estimate (``estimate.py``), which
    is what a run should do unless a caller has a policy of its own.
    """

    user_id: str = ""  # under the server, set from authentication (see admission.run_context)
    model: str | None = None
    token_reserve: int | None = None
    space_id: str | None = None  # the space a run without ``space_id`` in its input works on
    agent: str | None = None  # chat: the agent a message without ``@name`` goes to

    def __post_init__(self) -> None:
        if self.token_reserve is not None and (
            isinstance(self.token_reserve, bool)
            or not isinstance(self.token_reserve, int)
            or self.token_reserve < 0
        ):
            raise InvalidInput("token_reserve must be a whole number of at least 0")
