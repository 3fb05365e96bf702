"""Agents and chat through the real LangGraph server: REST, SSE, approvals by id, isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.support.devserver import served
from tests.support.served import ENVELOPE, SECRET, bearer


def _json(answer: httpx.Response, status: int = 200) -> dict | list:
    assert answer.status_code == status, (answer.status_code, answer.text)
    return answer.json()


def test_agents_and_sessions_over_rest(server) -> None:
    alice, bob = bearer("alice2"), bearer("bob2")
    base = f"{server}/my/spaces"
    _json(httpx.post(base, json={"space_id": "alice_team", "name": "Team"}, headers=alice,
                     timeout=60), 201)  # fmt: skip
    for name in ("researcher", "writer"):
        body = {"name": name, "system_prompt": f"You are a {name}.", "model": "offline"}
        _json(httpx.post(f"{base}/alice_team/agents", json=body, headers=alice, timeout=30), 201)
    change = {"system_prompt": "You write reports."}
    updated = _json(httpx.put(f"{base}/alice_team/agents/writer", json=change, headers=alice))
    assert (updated["version"], updated["agent_id"]) == (2, "alice_team_writer_2")
    first = _json(httpx.get(f"{base}/alice_team/agents/writer?version=1", headers=alice))
    assert first["system_prompt"] == "You are a writer."
    bad = httpx.post(f"{base}/alice_team/agents", json={"name": "x", "model": "gpt"}, headers=alice)
    assert bad.status_code == 400 and "\n" not in bad.json()["detail"]

    session = _json(httpx.post(f"{base}/alice_team/sessions", headers=alice, timeout=30), 201)
    sid = session["session_id"]
    path = f"{base}/alice_team/sessions/{sid}"
    direct = _json(httpx.post(f"{path}/messages?wait=true", json={"text": "@writer a haiku"},
                              headers=alice, timeout=120), 202)  # fmt: skip
    assert (direct["status"], direct["mode"]) == ("completed", "direct")
    assert direct["reply"].startswith("[offline model] @writer on: a haiku")

    asked = _json(httpx.post(f"{path}/messages?wait=true", json={"text": "research a; write b"},
                             headers=alice, timeout=120), 202)  # fmt: skip
    assert asked["status"] == "awaiting_approval"
    (pending,) = asked["interrupts"]
    assert pending["request"]["type"] == "plan_approval" and pending["request"]["expires_at"]
    busy = httpx.post(f"{path}/messages", json={"text": "@writer hi"}, headers=alice, timeout=30)
    assert busy.status_code == 400 and "waits for an approval" in busy.json()["detail"]
    listed = _json(httpx.get(f"{base}/alice_team/approvals", headers=alice, timeout=30))
    assert [(a["session_id"], a["interrupt_id"]) for a in listed] == [
        (sid, pending["interrupt_id"])
    ]
    assert httpx.get(f"{base}/alice_team/approvals", headers=bob, timeout=30).status_code == 404
    # bob can neither see nor answer alice's approval
    denied = httpx.post(f"{server}/my/approvals/{pending['interrupt_id']}",
                        json={"action": "approve"}, headers=bob, timeout=30)  # fmt: skip
    assert denied.status_code == 404
    answered = _json(httpx.post(f"{server}/my/approvals/{pending['interrupt_id']}",
                                json={"action": "approve"}, headers=alice, timeout=30))  # fmt: skip
    with httpx.stream("GET", f"{path}/events?run_id={answered['run_id']}", headers=alice,
                      timeout=120) as sse:  # fmt: skip
        events = [json.loads(line[6:]) for line in sse.iter_lines() if line.startswith("data: ")]
    types = [e["event_type"] for e in events]
    assert types[-1] == "run.completed" and types.count("task.completed") == 2
    for event in events:
        assert set(event) == ENVELOPE and event["actor"] == "alice2"
        assert event["space_id"] == "alice_team" and event["thread_id"] == sid
    detail = _json(httpx.get(f"{path}/messages", headers=alice))
    assert [(m["turn"], m["role"]) for m in detail["messages"]] == [
        (1, "user"), (1, "assistant"), (2, "user"), (2, "assistant"),
    ]  # fmt: skip
    assert "[t1] @researcher" in detail["messages"][-1]["content"]
    assert {t["task_id"] for t in detail["tasks"] if t["turn"] == 2} == {"t1", "t2"}
    listed = _json(httpx.get(f"{base}/alice_team/sessions", headers=alice))
    assert [s["session_id"] for s in listed] == [sid]

    # bob: every path to alice's team is "not found", through REST and the LangGraph API
    for url in (f"{base}/alice_team/agents", f"{base}/alice_team/agents/writer",
                f"{base}/alice_team/sessions", f"{path}/messages", f"{path}/events"):  # fmt: skip
        assert httpx.get(url, headers=bob, timeout=30).status_code == 404, url
    for method, url, body in (
        ("POST", f"{path}/messages", {"text": "@writer hi"}),
        ("PUT", f"{base}/alice_team/agents/writer", {"model": "offline"}),
        ("DELETE", f"{base}/alice_team/agents/writer", None),
        ("POST", f"{base}/alice_team/sessions", None),
    ):
        answer = httpx.request(method, url, json=body, headers=bob, timeout=30)
        assert answer.status_code == 404, (method, url, answer.status_code)
    sdk_bob = get_sync_client(url=server, headers=bob)
    assert sid not in {t["thread_id"] for t in sdk_bob.threads.search(limit=100)}
    with pytest.raises(Exception, match=r"404|not found"):
        sdk_bob.threads.get_state(sid)
    with pytest.raises(Exception, match=r"404|not found"):
        sdk_bob.runs.wait(sid, "chat", input={"space_id": "alice_team", "message": "@writer x"})
    own = sdk_bob.threads.create()
    with pytest.raises(Exception, match="no space 'alice_team'"):
        sdk_bob.runs.wait(own["thread_id"], "chat",
                          input={"space_id": "alice_team", "message": "@writer hi"})  # fmt: skip
    assert sdk_bob.runs.list(own["thread_id"])[0]["status"] == "error"
    assert _json(httpx.get(f"{base}/alice_team/agents", headers=alice))[1]["version"] == 2


def test_the_chat_graph_through_the_langgraph_api(server) -> None:
    carol = bearer("carol2")
    _json(httpx.post(f"{server}/my/spaces", json={"space_id": "carol_team", "name": "T"},
                     headers=carol, timeout=60), 201)  # fmt: skip
    _json(httpx.post(f"{server}/my/spaces/carol_team/agents", headers=carol, timeout=30,
                     json={"name": "poet", "system_prompt": "You rhyme.", "model": "offline"}),
          201)  # fmt: skip
    client = get_sync_client(url=server, headers=carol)
    thread = client.threads.create()
    message = {"space_id": "carol_team", "message": "@poet the sea"}
    out = client.runs.wait(thread["thread_id"], "chat", input=message)
    assert out["status"] == "completed" and "@poet on: the sea" in out["reply"]
    listed = _json(httpx.get(f"{server}/my/spaces/carol_team/sessions", headers=carol))
    assert [s["session_id"] for s in listed] == [thread["thread_id"]]


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server whose chat plans expire after one second."""
    with served(
        tmp_path_factory.mktemp("served-quick"), SECRET, SPACES_APPROVAL_TIMEOUT_S="1"
    ) as url:
        yield url


def test_the_server_declines_expired_plan_approvals_on_its_own(quick_server) -> None:
    dana = bearer("dana2")
    base = f"{quick_server}/my/spaces"
    _json(httpx.post(base, json={"space_id": "dana_team", "name": "T"}, headers=dana,
                     timeout=60), 201)  # fmt: skip
    agent = {"name": "writer", "system_prompt": "You write.", "model": "offline"}
    _json(httpx.post(f"{base}/dana_team/agents", json=agent, headers=dana, timeout=30), 201)
    sid = _json(httpx.post(f"{base}/dana_team/sessions", headers=dana, timeout=30), 201)[
        "session_id"
    ]
    asked = _json(httpx.post(f"{base}/dana_team/sessions/{sid}/messages?wait=true",
                             json={"text": "writer drafts a note"}, headers=dana, timeout=120),
                  202)  # fmt: skip
    assert asked["status"] == "awaiting_approval"
    client = get_sync_client(url=quick_server, headers=dana)
    deadline = time.monotonic() + 90
    values: dict = {}
    while time.monotonic() < deadline:
        values = client.threads.get_state(sid)["values"]
        if values.get("status") == "rejected":
            break
        time.sleep(1)
    assert (values.get("status"), values.get("error")) == ("rejected", "approval timed out")
    (latest,) = client.runs.list(sid, limit=1)
    replay = client.runs.join_stream(
        sid, latest["run_id"], stream_mode="custom", last_event_id="-1"
    )
    events = [p.data for p in replay if p.event.startswith("custom")]
    types = [e["event_type"] for e in events]
    assert "approval.expired" in types and types[-1] == "run.completed"
    assert all(e["actor"] == "dana2" for e in events)  # the owner's run, through auth


def test_events_of_an_unknown_or_foreign_run_are_404_and_message_is_accepted(server) -> None:
    """Issue 20: ``?run_id=`` not of this session answered 200 and cut the stream."""
    erin, fred = bearer("erin2"), bearer("fred2")
    base = f"{server}/my/spaces"
    paths = {}
    for user, headers in (("erin", erin), ("fred", fred)):
        _json(httpx.post(base, json={"space_id": f"{user}_ev", "name": "E"}, headers=headers,
                         timeout=60), 201)  # fmt: skip
        body = {"name": "poet", "system_prompt": "You rhyme.", "model": "offline"}
        _json(httpx.post(f"{base}/{user}_ev/agents", json=body, headers=headers, timeout=30), 201)
        sid = _json(httpx.post(f"{base}/{user}_ev/sessions", headers=headers, timeout=30),
                    201)["session_id"]  # fmt: skip
        paths[user] = f"{base}/{user}_ev/sessions/{sid}"
    # The graph's own name for the text, ``message``, is accepted as well as ``text``.
    turn = _json(httpx.post(f"{paths['fred']}/messages?wait=true", json={"message": "@poet x"},
                            headers=fred, timeout=120), 202)  # fmt: skip
    assert turn["status"] == "completed"
    mine = _json(httpx.post(f"{paths['erin']}/messages?wait=true", json={"text": "@poet y"},
                            headers=erin, timeout=120), 202)  # fmt: skip
    for run_id in (turn["run_id"], "00000000-0000-4000-8000-000000000000", "not-a-run"):
        answer = httpx.get(f"{paths['erin']}/events?run_id={run_id}", headers=erin, timeout=30)
        assert answer.status_code == 404, (run_id, answer.status_code, answer.text)
        assert "no run" in answer.json()["detail"]
    answer = httpx.get(f"{paths['erin']}/events?run_id={mine['run_id']}", headers=erin, timeout=60)
    assert answer.status_code == 200  # the session's own run still streams
