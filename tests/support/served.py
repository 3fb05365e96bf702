"""What the tests of the served app share: its secret, bearer tokens, the event envelope."""

from __future__ import annotations

from app.server.tokens import issue_token

SECRET = "test-secret-" + "x" * 32
ENVELOPE = {
    "event_id",
    "event_type",
    "space_id",
    "thread_id",
    "run_id",
    "actor",
    "timestamp",
    "idempotency_key",
    "payload",
}


def bearer(user: str, **claims: object) -> dict[str, str]:
    """An ``Authorization`` header for ``user``, signed with :data:`SECRET`."""
    return {"Authorization": f"Bearer {issue_token(user, secret=SECRET, **claims)}"}
