"""Progress events that nodes stream (``stream_mode="custom"``), in one envelope.

The envelope is ``{event_id, event_type, space_id, thread_id, run_id, actor,
timestamp, idempotency_key, payload}``. The idempotency key is derived from
the node's checkpoint position, the event type and its payload, so a node
re-run after a crash emits the same keys and a client drops the repeats.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig

Writer = Callable[[Any], None]


def emit(
    writer: Writer | None,
    config: RunnableConfig,
    event_type: str,
    space_id: str,
    *,
    actor: str | None,
    key: str | None = None,
    **payload: Any,
) -> dict[str, Any]:
    """Stream one event to whoever watches the run (``writer``); return the envelope.

    ``key`` replaces the payload in the idempotency key, for events whose
    payload may differ when a node runs again (``usage.updated``). Nodes call
    this through ``Scope.emit``, which fills in the writer, space and actor.
    """
    meta = config.get("metadata") or {}
    configurable = config.get("configurable") or {}
    thread_id = configurable.get("thread_id")
    body = key if key is not None else json.dumps(payload, sort_keys=True, default=str)
    where = f"{meta.get('langgraph_checkpoint_ns', '')}|{meta.get('langgraph_step', '')}"
    key = hashlib.sha256(f"{thread_id}|{where}|{event_type}|{body}".encode()).hexdigest()[:32]
    envelope = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "space_id": space_id,
        "thread_id": thread_id,
        "run_id": str(meta.get("run_id") or configurable.get("run_id") or ""),
        "actor": actor,
        "timestamp": datetime.now(UTC).isoformat(),
        "idempotency_key": key,
        "payload": payload,
    }
    if writer is not None:
        writer(envelope)
    return envelope
