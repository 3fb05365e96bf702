"""Through both real servers (``langgraph dev`` and Aegra): auth, isolation, REST, SSE events."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid

import httpx
import jwt
import pytest
from langgraph_sdk import get_sync_client

from app.server.tokens import issue_token
from tests.support.served import ENVELOPE, SECRET, bearer


@pytest.fixture(scope="module")
def alice_run(server: str) -> dict:
    """Alice creates a space through REST and runs rpi up to the plan approval."""
    created = httpx.post(
        f"{server}/my/spaces", json={"space_id": "alice_lab", "name": "Lab"},
        headers=bearer("alice"), timeout=60,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == "alice"
    client = get_sync_client(url=server, headers=bearer("alice"))
    thread = client.threads.create()
    chunks = list(
        client.runs.stream(
            thread["thread_id"], "rpi",
            input={"space_id": "alice_lab", "query": "How does Raft elect a leader?"},
            stream_mode=["custom", "updates"],
        )
    )  # fmt: skip
    return {"client": client, "thread_id": thread["thread_id"], "chunks": chunks}


def events_of(chunks: list) -> list[dict]:
    return [c.data for c in chunks if c.event.startswith("custom")]


def test_alice_runs_rpi_stops_for_approval_and_completes(server, alice_run) -> None:
    client, thread_id = alice_run["client"], alice_run["thread_id"]
    state = client.threads.get_state(thread_id)
    asked = [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]
    assert asked and asked[0]["type"] == "plan_approval" and asked[0]["space_id"] == "alice_lab"
    pending = httpx.get(f"{server}/my/approvals", headers=bearer("alice"), timeout=30).json()
    assert [p["thread_id"] for p in pending] == [thread_id]
    assert httpx.get(f"{server}/my/approvals", headers=bearer("bob"), timeout=30).json() == []
    resumed = list(
        client.runs.stream(
            thread_id, "rpi", command={"resume": {"action": "approve"}},
            stream_mode=["custom", "values"],
        )
    )  # fmt: skip
    final = [c.data for c in resumed if c.event == "values"][-1]
    assert final["status"] == "completed"
    assert set(final["artifacts"]) == {"research", "plan", "implementation"}
    # The approving node runs again from its start, so its "approval.required" is
    # sent again with the same idempotency key: a client drops it as a duplicate.
    seen = {e["idempotency_key"] for e in events_of(alice_run["chunks"])}
    again = events_of(resumed)
    assert again[0]["event_type"] == "approval.required"
    assert again[0]["idempotency_key"] in seen
    types = [e["event_type"] for e in again if e["idempotency_key"] not in seen]
    assert types[0] == "approval.resolved" and types[-1] == "run.completed"
    assert "memory.saved" in types and "usage.updated" in types


def test_events_arrive_in_order_with_the_full_envelope(alice_run) -> None:
    events = events_of(alice_run["chunks"])
    types = [e["event_type"] for e in events]
    assert types[0] == "run.started" and types[-1] == "approval.required"
    assert {"phase.completed", "usage.updated"} <= set(types)
    for event in events:
        assert set(event) == ENVELOPE
        assert event["space_id"] == "alice_lab" and event["actor"] == "alice"
        assert event["thread_id"] == alice_run["thread_id"]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len({e["idempotency_key"] for e in events}) == len(events)


def test_bob_sees_nothing_of_alice(server, alice_run) -> None:
    bob = get_sync_client(url=server, headers=bearer("bob"))
    thread_id = alice_run["thread_id"]
    assert thread_id not in {t["thread_id"] for t in bob.threads.search(limit=100)}
    with pytest.raises(Exception, match=r"404|not found"):
        bob.threads.get(thread_id)
    with pytest.raises(Exception, match=r"404|not found"):
        bob.runs.wait(thread_id, "rpi", command={"resume": {"action": "reject"}})
    with pytest.raises(Exception, match=r"404|not found"):
        bob.threads.get_state(thread_id)
    own = bob.threads.create()
    # A refused run ends with an error the SDK raises (run status "error"), not a success.
    with pytest.raises(Exception, match="no space 'alice_lab'"):
        bob.runs.wait(own["thread_id"], "rpi", input={"space_id": "alice_lab", "query": "hi"})
    assert bob.runs.list(own["thread_id"])[0]["status"] == "error"
    state = bob.threads.get_state(own["thread_id"])["values"]
    assert state["status"] == "failed" and state["error"] == "no space 'alice_lab'"
    for path in ("/my/spaces/alice_lab", "/my/spaces/alice_lab/usage",
                 "/my/spaces/alice_lab/objects"):  # fmt: skip
        answer = httpx.get(f"{server}{path}", headers=bearer("bob"), timeout=30)
        assert answer.status_code == 404 and "alice" not in answer.text.replace("alice_lab", "")
    assert httpx.get(f"{server}/my/spaces", headers=bearer("bob"), timeout=30).json() == []
    archived = httpx.post(f"{server}/my/spaces/alice_lab/archive", headers=bearer("bob"))
    assert archived.status_code == 404


def test_forged_expired_and_missing_tokens_are_refused(server) -> None:
    forged = jwt.encode({"sub": "alice", "exp": time.time() + 60}, "y" * 40, algorithm="HS256")
    expired = issue_token("alice", ttl_s=-10, secret=SECRET)
    cases = {
        "forged": {"Authorization": f"Bearer {forged}"},
        "expired": {"Authorization": f"Bearer {expired}"},
        "missing": {},
        "not bearer": {"Authorization": "Basic YWxpY2U6eA=="},
    }
    for name, headers in cases.items():
        for method, path in (("POST", "/threads/search"), ("GET", "/my/spaces"),
                             ("GET", "/my/approvals"), ("POST", "/my/spaces")):  # fmt: skip
            answer = httpx.request(method, f"{server}{path}", headers=headers, json={}, timeout=30)
            assert answer.status_code == 401, (name, path, answer.status_code)


def test_rest_rate_limit_and_swagger(server) -> None:
    headers = bearer("carol")
    codes = [
        httpx.get(f"{server}/my/spaces", headers=headers, timeout=30).status_code
        for _ in range(101)
    ]
    assert codes[:100] == [200] * 100 and codes[100] == 429
    limited = httpx.get(f"{server}/my/spaces", headers=headers, timeout=30)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert httpx.get(f"{server}/my/spaces", headers=bearer("dave"), timeout=30).status_code == 200
    docs = httpx.get(f"{server}/my/openapi.json", headers=bearer("dave"), timeout=30).json()
    assert "/my/spaces" in docs["paths"]
    assert httpx.get(f"{server}/my/docs", headers=bearer("dave"), timeout=30).status_code == 200


def test_studio_header_does_not_bypass_auth_and_schemes_are_case_insensitive(server) -> None:
    studio = {"x-auth-scheme": "langsmith"}
    for method, path in (("POST", "/threads"), ("POST", "/threads/search"),
                         ("PUT", "/store/items")):  # fmt: skip
        body = {"namespace": ["x"], "key": "k", "value": {}} if path == "/store/items" else {}
        answer = httpx.request(method, f"{server}{path}", headers=studio, json=body, timeout=30)
        assert answer.status_code == 401, (path, answer.status_code)
    token = issue_token("erin", secret=SECRET)
    lower = httpx.get(f"{server}/my/spaces", headers={"Authorization": f"bearer {token}"})
    assert lower.status_code == 200


def test_rest_uploads_refuse_bad_names(server) -> None:
    created = httpx.post(
        f"{server}/my/spaces", json={"space_id": "frank_docs", "name": "F"},
        headers=bearer("frank"), timeout=60,
    )  # fmt: skip
    assert created.status_code == 201
    for name in ("..", ".", "a/b.md", "é" * 150 + ".md"):
        answer = httpx.post(
            f"{server}/my/spaces/frank_docs/objects", json={"filename": name, "text": "x"},
            headers=bearer("frank"), timeout=30,
        )  # fmt: skip
        assert answer.status_code == 400, (name, answer.status_code, answer.text)
    taken = httpx.post(
        f"{server}/my/spaces", json={"space_id": "frank_docs", "name": "again"},
        headers=bearer("gina"), timeout=30,
    )  # fmt: skip
    assert taken.status_code == 409 and "frank" not in taken.text


def test_bob_gets_the_same_answer_for_alices_thread_as_for_a_missing_one(server, alice_run):
    """Thread ids are global: nothing Bob sends may tell him that Alice's exists."""
    theirs, missing = alice_run["thread_id"], str(uuid.uuid4())
    # langgraph dev's own fresh ids (uuid7, under 2 s old) pass the hook; Alice's is older.
    minted = uuid.UUID(theirs).int >> 80 if uuid.UUID(theirs).version == 7 else 0
    time.sleep(max(0.0, minted / 1000 + 2.5 - time.time()))
    requests = [
        ("POST", "/threads", {"thread_id": "{id}", "if_exists": "do_nothing"}),
        ("POST", "/threads", {"thread_id": "{id}"}),
        ("GET", "/threads/{id}", None),
        ("GET", "/threads/{id}/state", None),
        ("POST", "/threads/{id}/history", {}),
        ("PATCH", "/threads/{id}", {"metadata": {"owner": "bob"}}),
        ("POST", "/threads/{id}/runs", {"assistant_id": "rpi", "input": {}}),
        ("POST", "/threads/{id}/runs/wait", {"assistant_id": "rpi", "input": {}}),
        ("POST", "/threads/{id}/runs", {"assistant_id": "rpi", "if_not_exists": "create"}),
        (
            "POST",
            "/threads/{id}/runs",
            {"assistant_id": "rpi", "input": {}, "if_not_exists": "create"},
        ),
        ("GET", "/threads/{id}/runs", None),
        ("DELETE", "/threads/{id}", None),
    ]
    for method, path, body in requests:
        answers = []
        for thread_id in (theirs, missing):
            sent = json.loads(json.dumps(body).replace("{id}", thread_id))
            answer = httpx.request(
                method, server + path.replace("{id}", thread_id), json=sent,
                headers=bearer("bob"), timeout=60,
            )  # fmt: skip
            answers.append((answer.status_code, answer.text.replace(thread_id, "ID")))
        assert answers[0] == answers[1], (method, path, answers)
        assert answers[0][0] in (400, 403, 404, 422) or answers[0][1] == "[]", answers
    assert alice_run["client"].threads.get(theirs)["metadata"]["owner"] == "alice"


def test_only_the_owner_copies_a_thread_and_the_copy_is_theirs(request, server, alice_run):
    """``threads.copy`` (Studio, the SDK): the copy's id is the server's; strangers get nothing.

    Aegra 0.11 has no ``POST /threads/{id}/copy`` route at all (aegra_api/api/threads.py),
    so there it answers 404 to everyone.
    """
    theirs, missing = alice_run["thread_id"], str(uuid.uuid4())
    copied = httpx.post(f"{server}/threads/{theirs}/copy", headers=bearer("alice"), timeout=60)
    if request.node.callspec.params["server"] == "aegra":
        assert copied.status_code == 404, copied.text
        return
    assert copied.status_code == 200, copied.text
    copy = copied.json()
    assert copy["thread_id"] != theirs and copy["metadata"]["owner"] == "alice"
    client = alice_run["client"]
    assert client.threads.get_state(copy["thread_id"])["values"]["space_id"] == "alice_lab"
    strangers = [
        httpx.post(f"{server}/threads/{tid}/copy", headers=bearer("bob"), timeout=60)
        for tid in (theirs, missing)
    ]
    assert [s.status_code for s in strangers] == [strangers[1].status_code] * 2
    assert strangers[0].status_code in (403, 404, 409), strangers[0].text
    assert strangers[0].text.replace(theirs, "ID") == strangers[1].text.replace(missing, "ID")
    seen = httpx.get(f"{server}/threads/{copy['thread_id']}", headers=bearer("bob"), timeout=60)
    assert seen.status_code == 404
    bobs = httpx.post(f"{server}/threads/search", json={}, headers=bearer("bob"), timeout=60)
    assert copy["thread_id"] not in bobs.text


def test_a_second_run_on_a_busy_thread_is_refused_with_409(server: str) -> None:
    """Runs on one thread are serialised on both servers: never two at once."""
    created = httpx.post(
        f"{server}/my/spaces", json={"space_id": "hana_lab", "name": "H"},
        headers=bearer("hana"), timeout=60,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    client = get_sync_client(url=server, headers=bearer("hana"))
    thread_id = client.threads.create()["thread_id"]
    run = {"assistant_id": "rpi", "input": {"space_id": "hana_lab", "query": "Raft?"}}
    first = httpx.post(f"{server}/threads/{thread_id}/runs", json=run, headers=bearer("hana"))
    assert first.status_code == 200, first.text
    second = httpx.post(f"{server}/threads/{thread_id}/runs", json=run, headers=bearer("hana"))
    assert second.status_code == 409, second.text
    client.runs.join(thread_id, first.json()["run_id"])
    for _ in range(100):  # Aegra settles the thread's status just after the join
        if client.threads.get(thread_id)["status"] == "interrupted":
            break
        time.sleep(0.1)
    # Five resumes of the one approval at the same moment: exactly one runs.
    resume = {"assistant_id": "rpi", "command": {"resume": {"action": "approve"}}}

    async def race() -> list[int]:
        async with httpx.AsyncClient(headers=bearer("hana"), timeout=60) as http:
            answers = await asyncio.gather(
                *(http.post(f"{server}/threads/{thread_id}/runs", json=resume) for _ in range(5))
            )
        return sorted(a.status_code for a in answers)

    codes = asyncio.run(race())
    assert codes == [200, 409, 409, 409, 409], codes
    runs = client.runs.list(thread_id)
    assert len(runs) == 2
    for r in runs:
        client.runs.join(thread_id, r["run_id"])
    assert client.threads.get_state(thread_id)["values"]["status"] == "completed"
    # A resume that comes after the answered approval's run has finished (as
    # the last of five did on a loaded machine) finds nothing waiting: 409.
    late = httpx.post(f"{server}/threads/{thread_id}/runs", json=resume, headers=bearer("hana"))
    assert late.status_code == 409 and "not waiting" in late.text, late.text
    assert len(client.runs.list(thread_id)) == 2


def test_members_see_every_run_of_a_shared_space_and_nobody_else_does(server: str) -> None:
    """``/my/spaces/{id}/runs`` on both servers: members see all runs, others 404.

    The Agent Server's thread API stays owner-only (Aegra filters threads by
    owner in SQL), so Bob reads Ivy's thread through the space, never directly.
    """
    created = httpx.post(
        f"{server}/my/spaces", json={"space_id": "ivy_team", "name": "T"},
        headers=bearer("ivy"), timeout=60,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    added = httpx.post(
        f"{server}/my/spaces/ivy_team/members", json={"user_id": "bob", "role": "member"},
        headers=bearer("ivy"), timeout=30,
    )  # fmt: skip
    assert added.status_code == 201, added.text
    client = get_sync_client(url=server, headers=bearer("ivy"))
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(
        thread_id, "rpi", input={"space_id": "ivy_team", "query": "How does Raft elect?"}
    )
    client.runs.join(thread_id, run["run_id"])

    def runs_seen_by(user: str) -> httpx.Response:
        return httpx.get(f"{server}/my/spaces/ivy_team/runs", headers=bearer(user), timeout=30)

    for _ in range(100):  # Aegra settles the thread's status just after the join
        seen = runs_seen_by("bob")
        assert seen.status_code == 200, seen.text
        if seen.json()[0]["status"] == "awaiting_approval":
            break
        time.sleep(0.1)
    assert [(r["thread_id"], r["user_id"], r["graph"], r["status"]) for r in seen.json()] == [
        (thread_id, "ivy", "rpi", "awaiting_approval")
    ]
    # Not a member: the same 404 as a space that does not exist.
    stranger = runs_seen_by("mallory")
    missing = httpx.get(f"{server}/my/spaces/no_such/runs", headers=bearer("mallory"), timeout=30)
    assert stranger.status_code == missing.status_code == 404
    assert "ivy_team" in stranger.text and "no_such" in missing.text
    # The thread itself stays the owner's: Bob gets what a missing thread gives.
    assert httpx.get(f"{server}/threads/{thread_id}", headers=bearer("bob")).status_code == 404
    # Any member reads what the run waits for: the plan to approve.
    detail = httpx.get(f"{server}/my/spaces/ivy_team/runs/{thread_id}", headers=bearer("bob"))
    assert detail.status_code == 200, detail.text
    assert detail.json()["status"] == "awaiting_approval"
    assert [w["request"]["type"] for w in detail.json()["waiting_for"]] == ["plan_approval"]
    hidden = httpx.get(f"{server}/my/spaces/ivy_team/runs/{thread_id}", headers=bearer("mallory"))
    assert hidden.status_code == 404
    # The owner's token goes to this server's own socket, never to the Host a client names.
    with socket.socket() as trap:
        trap.bind(("127.0.0.1", 0))
        trap.listen(1)
        trap.settimeout(0.5)
        lured = httpx.get(
            f"{server}/my/spaces/ivy_team/runs/{thread_id}",
            headers={**bearer("bob"), "Host": f"127.0.0.1:{trap.getsockname()[1]}"},
        )
        with pytest.raises(TimeoutError):
            trap.accept()
    assert lured.status_code == 200, lured.text
    # Answering is for operators and admins; the run checks the answer as theirs.
    answer_url = f"{server}/my/spaces/ivy_team/runs/{thread_id}/answer"
    refused = httpx.post(answer_url, json={"action": "approve"}, headers=bearer("bob"))
    assert refused.status_code == 403, refused.text
    assert (
        httpx.post(answer_url, json={"action": "approve"}, headers=bearer("mallory")).status_code
        == 404
    )
    # Resume is for a run stopped mid-way: a waiting one is answered instead (409);
    # another's run needs an operator (403), and a stranger finds none (404).
    resume_url = f"{server}/my/spaces/ivy_team/runs/{thread_id}/resume"
    codes = [httpx.post(resume_url, headers=bearer(u), timeout=30).status_code
             for u in ("ivy", "bob", "mallory")]  # fmt: skip
    assert codes == [409, 403, 404], codes
    httpx.post(
        f"{server}/my/spaces/ivy_team/members", json={"user_id": "oscar", "role": "operator"},
        headers=bearer("ivy"), timeout=30,
    ).raise_for_status()  # fmt: skip
    answered = httpx.post(answer_url, json={"action": "approve"}, headers=bearer("oscar"))
    assert answered.status_code == 200, answered.text
    assert answered.json()["answered_by"] == "oscar"
    client.runs.join(thread_id, answered.json()["run_id"])
    for _ in range(100):
        if runs_seen_by("bob").json()[0]["status"] == "completed":
            break
        time.sleep(0.1)
    assert runs_seen_by("bob").json()[0]["status"] == "completed"
    again = httpx.post(answer_url, json={"action": "approve"}, headers=bearer("oscar"))
    assert again.status_code == 409, again.text
    log = httpx.get(f"{server}/my/spaces/ivy_team/audit", headers=bearer("ivy")).json()
    assert [(e["actor"], e["outcome"]) for e in log if e["action"] == "approval.plan"] == [
        ("oscar", "ok")
    ]
    # The delegated token is the server's alone: a client cannot use it on /my/.
    delegated = {"Authorization": f"Bearer {issue_token('ivy', secret=SECRET, actor='oscar')}"}
    assert httpx.get(f"{server}/my/spaces", headers=delegated).status_code == 401
    # Removed, Bob loses the space's runs at once.
    gone = httpx.delete(
        f"{server}/my/spaces/ivy_team/members/bob", headers=bearer("ivy"), timeout=30
    )
    assert gone.status_code == 200, gone.text
    assert runs_seen_by("bob").status_code == 404
