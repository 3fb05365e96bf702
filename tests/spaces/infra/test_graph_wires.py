"""The graph code over both wires: FalkorDB's native protocol and Bolt (Neo4j's path).

Embedded FalkorDB is reached natively by default; a ``NEO4J_URI`` server goes
through the ``neo4j`` driver. The Bolt path is tested against the embedded
server's own Bolt port, so both wires run the same queries on real servers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from collections.abc import Iterator

import pytest

from app.spaces.infra.backends import Backends
from app.spaces.infra.graph_conn import BoltConnection, GraphConnection, NativeConnection
from app.spaces.stores.graph import SpaceGraph

HOSTILE = ["it's", 'say "hi"', "back\\slash", "new\nline", "x\\'); MATCH (n) DETACH DELETE n //"]


@pytest.fixture(scope="module", params=["native", "bolt"])
def wire(request, manager, settings) -> Iterator[GraphConnection]:
    """A connection of each kind to the session's embedded FalkorDB."""
    native = manager.backends.graph()
    if request.param == "native":
        yield native
        return
    state = json.loads((settings.home / "falkordb" / "server.json").read_text())
    bolt = Backends(
        dataclasses.replace(settings, neo4j_uri=f"bolt://127.0.0.1:{state['bolt_port']}")
    )
    try:
        yield bolt.graph()
    finally:
        bolt.close()


def test_each_wire_is_the_expected_kind(wire, request) -> None:
    expected = {"native": NativeConnection, "bolt": BoltConnection}
    assert type(wire) is expected[request.node.callspec.params["wire"]]
    assert wire.falkordb  # the Bolt probe recognised FalkorDB behind the port


def test_partitions_and_batches_hold_on_both_wires(wire, new_id) -> None:
    a = SpaceGraph(wire, new_id("wa"), writable=True)
    b = SpaceGraph(wire, new_id("wb"), writable=True)
    a.merge_facts([("Ledger", "system")], [("Ledger", "uses", "Raft"), ("Raft", "by", "Ongaro")])
    b.merge_relation("Ledger", "owned by", "Bob")
    assert a.relations() == [("Ledger", "uses", "Raft"), ("Raft", "by", "Ongaro")]
    assert b.relations() == [("Ledger", "owned by", "Bob")]
    assert {n["name"] for n in a.neighbours("Ledger", hops=2)} == {"Raft", "Ongaro"}
    found = a.search(["ledg"])
    assert found[0]["name"] == "Ledger" and found[0]["kind"] == "system"
    assert found[0]["relations"] == [("Ledger", "uses", "Raft")]
    assert a.counts() == {"entities": 3, "relations": 2}
    assert b.get_entity("Raft") is None


@pytest.mark.parametrize("name", HOSTILE)
def test_injection_shaped_names_round_trip_on_both_wires(wire, new_id, name) -> None:
    graph = SpaceGraph(wire, new_id("wi"), writable=True)
    graph.merge_entity(name, properties={"note": name})
    graph.merge_relation(name, "is", "safe")
    entity = graph.get_entity(name)
    assert entity["name"] == name and entity["note"] == name
    assert graph.relations() == [(name, "is", "safe")]
    assert graph.counts() == {"entities": 2, "relations": 1}


def test_a_durable_write_survives_kill_9_right_after_it(manager, settings, new_id) -> None:
    """Issue 11 item 5: the server snapshots once a second; ``make_durable`` saves now."""
    graph = manager.open_space(manager_space(manager, new_id), write=True).graph
    graph.merge_facts([("Durable", "concept")], [("Durable", "written", "before kill")])
    graph.make_durable()
    state = json.loads((settings.home / "falkordb" / "server.json").read_text())
    os.kill(state["pid"], signal.SIGKILL)
    # The next query revives the server from its snapshot.
    assert graph.relations() == [("Durable", "written", "before kill")]
    revived = json.loads((settings.home / "falkordb" / "server.json").read_text())
    assert revived["pid"] != state["pid"]


def manager_space(manager, new_id) -> str:
    """A new space of alice's; returns its id."""
    from app.spaces.model.space_model import SpaceConfig

    return manager.create_space(SpaceConfig(new_id("dur"), "Durable", "alice")).space_id
