"""Stock UIs against both servers: assistants per space, late joins, cancelling a waiting run.

A stock UI knows a server URL and an assistant id; the assistant's context
carries the space (and agent), so ``{messages}`` alone runs inside it.
"""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.support.served import SECRET, bearer

assert SECRET


def _json(answer: httpx.Response, status: int = 200) -> dict | list:
    assert answer.status_code == status, (answer.status_code, answer.text)
    return answer.json()


def test_assistants_per_space_and_agent(server) -> None:
    alice, bob = bearer("ann3"), bearer("ben3")
    base = f"{server}/my/spaces"
    _json(httpx.post(base, json={"space_id": "ann_ui", "name": "UI"}, headers=alice,
                     timeout=60), 201)  # fmt: skip
    _json(httpx.post(f"{base}/ann_ui/agents", headers=alice, timeout=60,
                     json={"name": "writer", "system_prompt": "You write.", "model": "offline"}),
          201)  # fmt: skip
    made = _json(httpx.get(f"{base}/ann_ui/assistants", headers=alice, timeout=60))
    by_name = {a["name"]: a for a in made}
    assert set(by_name) == {"ann_ui chat", "ann_ui rpi", "ann_ui research", "ann_ui @writer"}
    assert by_name["ann_ui @writer"]["context"] == {"space_id": "ann_ui", "agent": "writer"}
    again = _json(httpx.get(f"{base}/ann_ui/assistants", headers=alice, timeout=60))
    assert {a["assistant_id"] for a in again} == {a["assistant_id"] for a in made}  # no copies

    sdk_alice, sdk_bob = (get_sync_client(url=server, headers=h) for h in (alice, bob))
    # a UI that can only send an API key (X-Api-Key) sends the same JWT there
    keyed = get_sync_client(url=server, api_key=alice["Authorization"].split()[1])
    assert {a["assistant_id"] for a in made} <= {
        a["assistant_id"] for a in keyed.assistants.search(limit=100)
    }
    with pytest.raises(httpx.HTTPStatusError) as refused:
        get_sync_client(url=server, api_key="not-a-jwt").assistants.search()
    assert refused.value.response.status_code == 401
    mine = {a["assistant_id"] for a in sdk_alice.assistants.search(limit=100)}
    assert {a["assistant_id"] for a in made} <= mine
    seen = {a["assistant_id"] for a in sdk_bob.assistants.search(limit=100)}
    assert not seen & {a["assistant_id"] for a in made}  # a stranger sees none of them
    writer = by_name["ann_ui @writer"]["assistant_id"]
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sdk_bob.assistants.get(writer)
    assert refused.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sdk_bob.assistants.create("chat", context={"space_id": "ann_ui"},
                                  metadata={"space_id": "ann_ui"})  # fmt: skip
    assert refused.value.response.status_code == 403
    assert httpx.get(f"{base}/ann_ui/assistants", headers=bob, timeout=30).status_code == 404

    # the assistant alone puts a {messages} turn in the space, with the agent
    thread = sdk_alice.threads.create()
    sdk_alice.runs.wait(thread["thread_id"], writer,
                        input={"messages": [{"type": "human", "content": "a haiku"}]})  # fmt: skip
    values = sdk_alice.threads.get_state(thread["thread_id"])["values"]
    assert values["status"] == "completed" and values["space_id"] == "ann_ui"
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]
    assert values["messages"][-1]["content"].startswith("[offline model] @writer on: a haiku")

    # a member gets the space's assistants (Aegra: their own copies) and runs with them
    _json(httpx.post(f"{base}/ann_ui/members", json={"user_id": "ben3", "role": "member"},
                     headers=alice, timeout=30), 201)  # fmt: skip
    theirs = {a["name"]: a for a in _json(httpx.get(f"{base}/ann_ui/assistants", headers=bob,
                                                     timeout=60))}  # fmt: skip
    assert set(theirs) == set(by_name)
    own = sdk_bob.threads.create()
    sdk_bob.runs.wait(own["thread_id"], theirs["ann_ui @writer"]["assistant_id"],
                      input={"messages": [{"type": "human", "content": "hi"}]})  # fmt: skip
    assert sdk_bob.threads.get_state(own["thread_id"])["values"]["status"] == "completed"
    _json(httpx.delete(f"{base}/ann_ui/members/ben3", headers=alice, timeout=30))
    gone = sdk_bob.threads.create()
    # langgraph dev: the assistant is no longer visible (404); Aegra: bob's copy refuses the run
    with pytest.raises(Exception, match=r"no space 'ann_ui'|404"):
        sdk_bob.runs.wait(gone["thread_id"], theirs["ann_ui @writer"]["assistant_id"],
                          input={"messages": [{"type": "human", "content": "hi"}]})  # fmt: skip


def test_a_late_join_replays_values_and_a_waiting_run_cancels_alike(server) -> None:
    carl, dora = bearer("carl3"), bearer("dora3")
    base = f"{server}/my/spaces"
    _json(httpx.post(base, json={"space_id": "carl_ui", "name": "UI"}, headers=carl,
                     timeout=60), 201)  # fmt: skip
    for name in ("researcher", "writer"):
        agent = {"name": name, "system_prompt": "p", "model": "offline"}
        _json(httpx.post(f"{base}/carl_ui/agents", json=agent, headers=carl, timeout=60), 201)
    sid = _json(httpx.post(f"{base}/carl_ui/sessions", headers=carl, timeout=30), 201)
    sid = sid["session_id"]
    asked = _json(httpx.post(f"{base}/carl_ui/sessions/{sid}/messages?wait=true", headers=carl,
                             json={"text": "research a; write b"}, timeout=120), 202)  # fmt: skip
    assert asked["status"] == "awaiting_approval"
    sdk = get_sync_client(url=server, headers=carl)
    # joined after it stopped, from the start (useStream's joinStream with Last-Event-ID)
    parts = list(sdk.runs.join_stream(sid, asked["run_id"], last_event_id="-1"))
    values = [p.data for p in parts if p.event == "values"]
    assert values and "__interrupt__" in values[-1], {p.event for p in parts}
    (hitl,) = values[-1]["__interrupt__"]
    assert hitl["value"]["action_requests"][0]["name"] == "approve_task_plan"
    assert [m["type"] for m in values[-1]["messages"]] == ["human"]

    cancel = f"{server}/my/spaces/carl_ui/runs/{sid}/cancel"
    assert httpx.post(cancel, headers=dora, timeout=30).status_code == 404
    done = _json(httpx.post(cancel, headers=carl, timeout=60))
    assert done["declined"] == 1
    sdk.runs.join(sid, done["run_id"])
    state = sdk.threads.get_state(sid)
    assert state["values"]["status"] == "rejected" and state["values"]["error"] == "cancelled"
    assert not state["next"]
    assert httpx.post(cancel, headers=carl, timeout=30).status_code == 409

    # the REST answer routes take the standard decisions too (one of the two forms)
    asked = _json(httpx.post(f"{base}/carl_ui/sessions/{sid}/messages?wait=true", headers=carl,
                             json={"text": "research c; write d"}, timeout=120), 202)  # fmt: skip
    answer = f"{server}/my/approvals/{asked['interrupts'][0]['interrupt_id']}"
    both = {"action": "approve", "decisions": [{"type": "approve"}]}
    for bad in ({}, both, {"decisions": [{"type": "maybe"}]}):
        assert httpx.post(answer, json=bad, headers=carl, timeout=30).status_code in (400, 422)
    run = _json(httpx.post(answer, json={"decisions": [{"type": "approve"}]}, headers=carl,
                           timeout=60))  # fmt: skip
    sdk.runs.join(sid, run["run_id"])
    assert sdk.threads.get_state(sid)["values"]["status"] == "completed"

    # the graph by assistant id works on both servers (by graph id: langgraph dev only)
    chat = next(a for a in sdk.assistants.search(metadata={"created_by": "system"}, limit=10)
                if a["graph_id"] == "chat")  # fmt: skip
    assert {"nodes", "edges"} <= set(sdk.assistants.get_graph(chat["assistant_id"]))
