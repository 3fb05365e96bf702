"""Durable serving through two real Aegra instances (``spaces serve --instances 2``).

One home, one Postgres, one Redis, two instances with short leases. An
instance is SIGKILLed, and everything is restarted, in the middle of
Alice's work: nothing may be lost, nothing done twice, and Bob sees none
of it through either instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client

from app.server.tokens import issue_token
from tests.support.aegraserver import FAST_TAKEOVER, kill_instance, start_aegra, stop_aegra
from tests.support.served import ENVELOPE

pytestmark = pytest.mark.slow

SECRET = "aegra-secret-" + "y" * 32
QUERY = "How does Raft elect a leader?"


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, secret=SECRET)}"}


class Served:
    """The two instances of one home, restartable on the same ports."""

    def __init__(self, home: Path):
        self.home = home
        self.urls = start_aegra(home, SECRET, 2, **FAST_TAKEOVER)

    def restart_missing(self) -> None:
        port = int(self.urls[0].rsplit(":", 1)[1])
        assert start_aegra(self.home, SECRET, 2, port, **FAST_TAKEOVER) == self.urls

    def client(self, index: int, user: str = "alice"):
        return get_sync_client(url=self.urls[index], headers=bearer(user))

    def space(self, space_id: str, index: int = 0) -> None:
        created = httpx.post(
            f"{self.urls[index]}/my/spaces", json={"space_id": space_id, "name": space_id},
            headers=bearer("alice"), timeout=60,
        )  # fmt: skip
        assert created.status_code == 201, created.text

    def to_approval(self, space_id: str, index: int = 0) -> str:
        """Alice's rpi run on ``space_id`` up to the plan approval; its thread id."""
        client = self.client(index)
        thread_id = client.threads.create()["thread_id"]
        client.runs.wait(thread_id, "rpi", input={"space_id": space_id, "query": QUERY})
        return thread_id

    def approvals(self, index: int, user: str = "alice") -> list[str]:
        answer = httpx.get(f"{self.urls[index]}/my/approvals", headers=bearer(user), timeout=60)
        assert answer.status_code == 200, answer.text
        return [p["thread_id"] for p in answer.json()]

    def notes(self, space_id: str) -> list[str]:
        vault = self.home / "vaults" / space_id
        return sorted(str(p.relative_to(vault)) for p in vault.rglob("*.md"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("aegra")
    served = Served(home)
    yield served
    stop_aegra(home, SECRET)


def test_resumed_on_instance_2_after_instance_1_is_killed(served: Served) -> None:
    served.space("alice_ref")
    reference = served.to_approval("alice_ref")
    served.client(0).runs.wait(reference, "rpi", command={"resume": {"action": "approve"}})

    served.space("alice_kill")
    thread_id = served.to_approval("alice_kill", 0)
    kill_instance(served.home, served.urls[0])
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{served.urls[0]}/health", timeout=2)
    assert served.approvals(1) == [thread_id]
    final = served.client(1).runs.wait(thread_id, "rpi", command={"resume": {"action": "approve"}})
    assert final["status"] == "completed"
    assert set(final["artifacts"]) == {"research", "plan", "implementation"}
    assert served.approvals(1) == []
    # The same notes as the run nobody interrupted: nothing written twice.
    ref_notes = served.notes("alice_ref")
    assert ref_notes and len(served.notes("alice_kill")) == len(ref_notes)
    served.restart_missing()
    assert httpx.get(f"{served.urls[0]}/health", timeout=10).status_code == 200


def test_a_restart_of_everything_loses_no_thread_and_no_approval(served: Served) -> None:
    served.space("alice_restart")
    waiting = served.to_approval("alice_restart")
    before = {t["thread_id"] for t in served.client(0).threads.search(limit=1000)}
    stop_aegra(served.home, SECRET)
    served.restart_missing()
    for index in (0, 1):
        after = {t["thread_id"] for t in served.client(index).threads.search(limit=1000)}
        assert after == before
        assert waiting in served.approvals(index)
    final = served.client(1).runs.wait(waiting, "rpi", command={"resume": {"action": "approve"}})
    assert final["status"] == "completed"


def test_bob_sees_nothing_of_alice_on_either_instance(served: Served) -> None:
    served.space("alice_private")
    thread_id = served.to_approval("alice_private")
    for index, url in enumerate(served.urls):
        bob = served.client(index, "bob")
        assert thread_id not in {t["thread_id"] for t in bob.threads.search(limit=1000)}
        assert served.approvals(index, "bob") == []
        for method, path in (("GET", f"/threads/{thread_id}"),
                             ("GET", f"/threads/{thread_id}/state"),
                             ("GET", "/my/spaces/alice_private"),
                             ("GET", "/my/spaces/alice_private/usage")):  # fmt: skip
            answer = httpx.request(method, url + path, headers=bearer("bob"), timeout=60)
            assert answer.status_code == 404, (url, path, answer.status_code)
        resumed = httpx.post(
            f"{url}/threads/{thread_id}/runs", headers=bearer("bob"), timeout=60,
            json={"assistant_id": "rpi", "command": {"resume": {"action": "reject"}}},
        )  # fmt: skip
        assert resumed.status_code == 404
    assert thread_id in served.approvals(0)


def test_events_joined_from_the_other_instance_arrive_in_order(served: Served) -> None:
    served.space("alice_join")
    thread_id = served.client(0).threads.create()["thread_id"]
    run = served.client(0).runs.create(
        thread_id, "rpi", input={"space_id": "alice_join", "query": QUERY},
        stream_mode=["custom"], stream_resumable=True,
    )  # fmt: skip
    chunks = list(
        served.client(1).runs.join_stream(
            thread_id, run["run_id"], stream_mode=["custom"], last_event_id="-1"
        )
    )
    events = [c.data for c in chunks if c.event.startswith("custom")]
    types = [e["event_type"] for e in events]
    assert types[0] == "run.started" and types[-1] == "approval.required"
    for event in events:
        assert set(event) == ENVELOPE
        assert event["thread_id"] == thread_id and event["actor"] == "alice"
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len({e["idempotency_key"] for e in events}) == len(events)
