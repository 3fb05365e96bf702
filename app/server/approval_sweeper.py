"""Under the LangGraph server: decline chat plan approvals left unanswered past ``expires_at``.

Every few seconds the sweeper lists the server's interrupted threads (through
the in-process client, which sees every user's) and answers each expired
``plan_approval`` as its owner, with a short-lived token for that owner sent
through the server's own auth handler: the run is the owner's, like any
other. The graph then ends the turn ``rejected`` with ``approval timed out``
and emits ``approval.expired`` (``app/graphs/chat/graph.py``), exactly as
for a late answer. Plans of other graphs carry no ``expires_at`` and are
left alone.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from langgraph_sdk import get_client

from app.server.loopback import RUN_STREAM
from app.server.tokens import issue_token

SWEEP_S = 5.0
log = logging.getLogger(__name__)


def expired(thread: dict[str, Any], now: datetime) -> list[str]:
    """Ids of the thread's plan-approval interrupts whose deadline has passed."""
    found = []
    for items in (thread.get("interrupts") or {}).values():
        for item in items:
            value = item.get("value") if isinstance(item.get("value"), dict) else {}
            deadline = value.get("expires_at")
            due = bool(deadline) and datetime.fromisoformat(deadline) <= now
            if value.get("type") == "plan_approval" and due:
                found.append(item["id"])
    return found


async def sweep_once(server: Any) -> int:
    """Decline every expired plan approval once; return how many were declined."""
    threads = await get_client().threads.search(status="interrupted", limit=100)
    now = datetime.now(UTC)
    declined = 0
    transport = httpx.ASGITransport(app=server)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for thread in threads:
            owner = (thread.get("metadata") or {}).get("owner")
            for interrupt_id in expired(thread, now) if owner else []:
                token = issue_token(owner, ttl_s=60)
                answer = await http.post(
                    f"/threads/{thread['thread_id']}/runs",
                    json={
                        "assistant_id": "chat", "stream_mode": RUN_STREAM,
                        "stream_resumable": True, "multitask_strategy": "reject",
                        "command": {"resume": {interrupt_id: {"action": "expired"}}},
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
                if answer.status_code < 300:
                    declined += 1
                else:  # another instance got there first, or the thread moved on
                    log.info("approval %s not declined: %s", interrupt_id, answer.status_code)
    return declined


async def sweep_forever() -> None:
    """Run ``sweep_once`` every ``SWEEP_S`` seconds for the life of the server."""
    from langgraph_api.server import app as server  # the server this app is mounted in

    while True:
        await asyncio.sleep(SWEEP_S)
        try:
            await sweep_once(server)
        except httpx.HTTPError as exc:  # the next pass tries again
            log.warning("approval sweep failed: %s", exc)
