"""The interrupts a thread waits on, read the same way on both servers.

``langgraph dev`` returns a thread's interrupts in search results (a map of
task ids to lists); Aegra leaves them out, so they are read from the
thread's state there. Listing and answering approvals by interrupt id both
go through here.
"""

from __future__ import annotations

from typing import Any


async def thread_interrupts(client: Any, thread: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pending interrupt of ``thread`` (each with its ``id`` and ``value``)."""
    interrupts = thread.get("interrupts") or {}
    if not interrupts:
        state = await client.threads.get_state(thread["thread_id"])
        interrupts = {t["id"]: t.get("interrupts") or [] for t in state.get("tasks") or []}
    if isinstance(interrupts, dict):
        return [i for task in interrupts.values() for i in task]
    return list(interrupts)
