"""Errors that carry a message meant for a person.

Every error a user can cause is a ``SpacesError`` whose text is one line that
says what was wrong. Entry points (CLI, API) print that line and nothing else;
any other exception is a bug and keeps its traceback. Each class carries both
of its answers: ``exit_code`` for the CLI and ``http_status`` for ``/my/`` and
the console, so the two cannot drift apart.
"""

from __future__ import annotations


class SpacesError(Exception):
    """Base class: the message is shown to the user as is.

    ``thread_id`` is set when the error escaped a run that has a thread (the
    runner sets it), so the one line a person sees names the run to resume.
    """

    exit_code = 2
    http_status = 400
    thread_id: str | None = None
    thread_kind: str = "run"  # "session" for a chat session: it continues differently

    def line(self) -> str:
        """The one line shown to a person: the message, and the run's thread if any."""
        text = str(self)
        if self.thread_id is None:
            return text
        if self.thread_kind == "session":
            if self.exit_code == 1:  # the turn stopped mid-way: an empty message continues it
                return (
                    f"{text} (session {self.thread_id}: an empty message to it continues the turn)"
                )
            return f"{text} (session {self.thread_id})"
        if self.exit_code == 1:  # a store or the model failed: the run resumes later
            return f"{text} (thread {self.thread_id}: spaces resume {self.thread_id} continues it)"
        return f"{text} (thread {self.thread_id})"

    def public_detail(self) -> str:
        """What an HTTP answer says: the line, unless it would tell a stranger too much."""
        return str(self)

    def __str__(self) -> str:
        # LangGraph appends "During task with name ..." lines to errors raised in
        # nodes; the message a person sees stays one line.
        return super().__str__().split("\n", 1)[0]


class InvalidInput(SpacesError):
    """Malformed ids, oversized text, bad numbers, unsafe paths."""


class ContextTooSmall(InvalidInput):
    """A prompt that cannot fit the model's context window with room for an answer."""


class SpaceNotFound(SpacesError):
    """The space does not exist (or is not visible to the caller)."""

    http_status = 404


class SpaceExists(SpacesError):
    """A space with this id already exists."""

    http_status = 409

    def public_detail(self) -> str:
        """Space ids are global, so a taken id cannot be hidden; say only that."""
        return "that space id is not available"


class SpaceArchived(SpacesError):
    """The space is archived: it can be read but refuses runs and writes."""

    http_status = 423


class PermissionDenied(SpacesError):
    """The caller is a member of the space, but their role does not allow this action."""

    http_status = 403


class BudgetExceeded(SpacesError):
    """The space's monthly budget cannot cover the work asked for."""


class ModelUnavailable(SpacesError):
    """The model provider failed after its retries and fallbacks; the run can resume later."""

    exit_code = 1
    http_status = 503

    def __init__(self, detail: str):
        super().__init__("model failed: " + " ".join(str(detail).split())[:300])


class StoreUnavailable(SpacesError):
    """A backing store failed or cannot be reached; ``store`` names which one."""

    exit_code = 1
    http_status = 503

    def __init__(self, store: str, detail: str):
        self.store = store
        self.detail = " ".join(str(detail).split())[:300]
        super().__init__(f"{store} store failed: {self.detail}")


class RunFailed(SpacesError, ValueError):
    """A served run ended failed: raised out of the graph so the server's run status is ``error``.

    The thread's state keeps ``status: failed`` (or ``budget_exceeded``) and
    the one-line ``error``; this carries the same line to the SDK
    (``runs.wait`` raises it, a stream ends with an ``error`` event), so a
    UI shows a failure, not a success. It is a ``ValueError`` too because
    ``langgraph dev`` shows the message of those only (others become "An
    internal error occurred"); the line is already one a person may read.
    """
