"""Space graph: entities and relations in one space's partition of a Cypher graph.

Partitioning: one shared database, with a ``space_id`` property on every node
and relationship, and fixed labels (``Entity``, ``SpacePartition``) and one
relationship type (``RELATES``, with the relation's name in ``type``).
One database per space is not used: Neo4j Community has a single database,
and FalkorDB ignores the driver's database argument (verified-facts.md). Every
query below binds ``$space_id`` on every node it matches, and no method takes
raw Cypher, so nothing outside this module can forget the partition.

Cypher is kept to what Neo4j 5 and FalkorDB both accept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from app.errors import InvalidInput, SpaceArchived
from app.spaces.infra.graph_conn import GraphConnection

NAME_MAX = 200
MAX_HOPS = 3
_PROP_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_RELATION = re.compile(r"[A-Za-z][A-Za-z0-9_ -]{0,63}")
_RESERVED = {"space_id", "name", "kind", "type"}
Primitive = str | int | float | bool


def _name(label: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{label} must be non-empty text")
    if len(value) > NAME_MAX:
        raise InvalidInput(f"{label} is too long: {len(value)} characters, at most {NAME_MAX}")
    return value.strip()


def _props(props: dict[str, Any] | None) -> dict[str, Primitive]:
    out: dict[str, Primitive] = {}
    for key, value in (props or {}).items():
        if not isinstance(key, str) or not _PROP_KEY.fullmatch(key) or key in _RESERVED:
            raise InvalidInput(f"invalid graph property name {key!r}")
        if not isinstance(value, Primitive) or (isinstance(value, str) and len(value) > 4000):
            raise InvalidInput(f"graph property {key!r} must be a short string, number or bool")
        out[key] = value
    return out


def _run(
    conn: GraphConnection, query: str, _raw_errors: bool = False, **params: Any
) -> list[dict[str, Any]]:
    """Run one query on whichever wire ``conn`` is (``graph_conn.py``)."""
    return conn.run(query, params, raw_errors=_raw_errors)


def provision_graph(driver: GraphConnection, space_id: str, graph_name: str) -> None:
    """Create the space's partition marker (idempotent)."""
    _run(
        driver,
        "MERGE (p:SpacePartition {space_id: $space_id}) "
        "ON CREATE SET p.graph_name = $graph_name, p.created_at = timestamp()",
        space_id=space_id,
        graph_name=graph_name,
    )


def drop_graph_partition(driver: GraphConnection, space_id: str) -> None:
    """Remove everything in a partition; used only to undo a failed space creation."""
    _run(driver, "MATCH (e:Entity {space_id: $space_id}) DETACH DELETE e", space_id=space_id)
    _run(driver, "MATCH (p:SpacePartition {space_id: $space_id}) DELETE p", space_id=space_id)


def ensure_graph_indexes(conn: GraphConnection) -> None:
    """Index the partition key once per server.

    Neo4j 5 has ``IF NOT EXISTS``; FalkorDB does not, and refuses a duplicate
    with an error, so there we look before creating.
    """
    if not conn.falkordb:
        _run(conn, "CREATE INDEX entity_space IF NOT EXISTS FOR (e:Entity) ON (e.space_id)")
        return
    indexes = _run(conn, "CALL db.indexes()")
    if not any(
        i.get("label") == "Entity" and "space_id" in i.get("properties", []) for i in indexes
    ):
        _run(conn, "CREATE INDEX FOR (e:Entity) ON (e.space_id)")


def _batches(rows: list[dict[str, Any]], bytes_max: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive slices of ``rows`` of at most about ``bytes_max`` bytes of JSON each."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        weight = len(json.dumps(row, default=str))
        if chunk and size + weight > bytes_max:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += weight
    if chunk:
        yield chunk


class SpaceGraph:
    """Entities and relations of one space; see the module docstring for the partitioning."""

    def __init__(self, driver: GraphConnection, space_id: str, *, writable: bool):
        self._driver = driver
        self.space_id = space_id
        self.writable = writable

    def _write_check(self) -> None:
        if not self.writable:
            raise SpaceArchived(f"space {self.space_id!r} is archived: its graph is read-only")

    def merge_entity(
        self, name: str, kind: str = "concept", properties: dict[str, Any] | None = None
    ) -> None:
        """Create the entity if new, else update its kind and properties (idempotent)."""
        self._write_check()
        _run(
            self._driver,
            "MERGE (e:Entity {space_id: $space_id, name: $name}) "
            "ON CREATE SET e.created_at = timestamp() "
            "SET e.kind = $kind SET e += $props",
            space_id=self.space_id,
            name=_name("entity name", name),
            kind=_name("entity kind", kind),
            props=_props(properties),
        )

    def merge_relation(
        self, source: str, relation: str, target: str, properties: dict[str, Any] | None = None
    ) -> None:
        """Link two entities of this space, creating missing ones (idempotent)."""
        self._write_check()
        if not isinstance(relation, str) or not _RELATION.fullmatch(relation):
            raise InvalidInput(f"invalid relation name {relation!r}")
        _run(
            self._driver,
            "MERGE (a:Entity {space_id: $space_id, name: $source}) "
            "ON CREATE SET a.kind = 'concept', a.created_at = timestamp() "
            "MERGE (b:Entity {space_id: $space_id, name: $target}) "
            "ON CREATE SET b.kind = 'concept', b.created_at = timestamp() "
            "MERGE (a)-[r:RELATES {space_id: $space_id, type: $relation}]->(b) "
            "SET r += $props",
            space_id=self.space_id,
            source=_name("source entity", source),
            target=_name("target entity", target),
            relation=relation,
            props=_props(properties),
        )

    def merge_facts(
        self, entities: list[tuple[str, str]], relations: list[tuple[str, str, str]]
    ) -> None:
        """``merge_entity`` and ``merge_relation`` for many facts in two queries.

        A round trip over Bolt to FalkorDB costs about 44 ms here (docs/stores.md
        "The graph server"), so a run's facts go in one batch rather than one by one.
        """
        self._write_check()
        items = [
            {"name": _name("entity name", n), "kind": _name("entity kind", k)} for n, k in entities
        ]
        links = []
        for source, relation, target in relations:
            if not isinstance(relation, str) or not _RELATION.fullmatch(relation):
                raise InvalidInput(f"invalid relation name {relation!r}")
            links.append(
                {
                    "source": _name("source entity", source),
                    "relation": relation,
                    "target": _name("target entity", target),
                }
            )
        if items:
            _run(
                self._driver,
                "UNWIND $items AS item "
                "MERGE (e:Entity {space_id: $space_id, name: item.name}) "
                "ON CREATE SET e.created_at = timestamp() SET e.kind = item.kind",
                space_id=self.space_id,
                items=items,
            )
        if links:
            _run(
                self._driver,
                "UNWIND $links AS link "
                "MERGE (a:Entity {space_id: $space_id, name: link.source}) "
                "ON CREATE SET a.kind = 'concept', a.created_at = timestamp() "
                "MERGE (b:Entity {space_id: $space_id, name: link.target}) "
                "ON CREATE SET b.kind = 'concept', b.created_at = timestamp() "
                "MERGE (a)-[r:RELATES {space_id: $space_id, type: link.relation}]->(b)",
                space_id=self.space_id,
                links=links,
            )

    def make_durable(self) -> None:
        """Return once this space's graph writes so far survive a crash of the server.

        The embedded FalkorDB otherwise snapshots once a second; a run calls
        this before it records its graph facts as saved.
        """
        self._driver.make_durable()

    def search(self, words: list[str], limit: int = 10) -> list[dict[str, Any]]:
        """Entities whose name contains any of ``words``, each with its relations.

        Two queries whatever the number of words (see ``merge_facts``).
        """
        terms = [_name("search word", w).lower() for w in words[:20]]
        if not terms:
            return []
        found = _run(
            self._driver,
            "UNWIND $terms AS term MATCH (e:Entity {space_id: $space_id}) "
            "WHERE toLower(e.name) CONTAINS term "
            "RETURN DISTINCT e.name AS name, e.kind AS kind ORDER BY name LIMIT $limit",
            space_id=self.space_id,
            terms=terms,
            limit=max(1, min(int(limit), 1000)),
        )
        names = [row["name"] for row in found]
        if not names:
            return []
        triples = _run(
            self._driver,
            "MATCH (a:Entity {space_id: $space_id})-[r:RELATES {space_id: $space_id}]->"
            "(b:Entity {space_id: $space_id}) WHERE a.name IN $names OR b.name IN $names "
            "RETURN a.name AS a, r.type AS t, b.name AS b ORDER BY a, t, b LIMIT 500",
            space_id=self.space_id,
            names=names,
        )
        for row in found:
            row["relations"] = [
                (t["a"], t["t"], t["b"]) for t in triples if row["name"] in (t["a"], t["b"])
            ]
        return found

    def get_entity(self, name: str) -> dict[str, Any] | None:
        """The entity's properties, or ``None`` if this space has no such entity."""
        rows = _run(
            self._driver,
            "MATCH (e:Entity {space_id: $space_id, name: $name}) RETURN properties(e) AS p",
            space_id=self.space_id,
            name=_name("entity name", name),
        )
        return rows[0]["p"] if rows else None

    def find_entities(self, text: str, limit: int = 10) -> list[dict[str, Any]]:
        """Entities whose name contains ``text`` (case-insensitive)."""
        return [
            r["p"]
            for r in _run(
                self._driver,
                "MATCH (e:Entity {space_id: $space_id}) "
                "WHERE toLower(e.name) CONTAINS toLower($text) "
                "RETURN properties(e) AS p ORDER BY e.name LIMIT $limit",
                space_id=self.space_id,
                text=_name("search text", text),
                limit=max(1, min(int(limit), 1000)),
            )
        ]

    def neighbours(self, name: str, hops: int = 1, limit: int = 100) -> list[dict[str, Any]]:
        """Entities within ``hops`` relations of ``name``, all inside this space."""
        if isinstance(hops, bool) or not isinstance(hops, int) or not 1 <= hops <= MAX_HOPS:
            raise InvalidInput(f"hops must be a whole number from 1 to {MAX_HOPS}")
        # A path length cannot be a parameter in Cypher; ``hops`` is a checked int.
        query = (
            "MATCH p = (a:Entity {space_id: $space_id, name: $name})"
            f"-[*1..{hops}]-(b:Entity {{space_id: $space_id}}) "
            "WHERE all(n IN nodes(p) WHERE n.space_id = $space_id) AND b.name <> $name "
            "RETURN DISTINCT b.name AS name, b.kind AS kind ORDER BY name LIMIT $limit"
        )
        return _run(
            self._driver,
            query,
            space_id=self.space_id,
            name=_name("entity name", name),
            limit=max(1, min(int(limit), 1000)),
        )

    def relations(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """``(source, relation, target)`` triples of this space."""
        rows = _run(
            self._driver,
            "MATCH (a:Entity {space_id: $space_id})-[r:RELATES {space_id: $space_id}]->"
            "(b:Entity {space_id: $space_id}) "
            "RETURN a.name AS a, r.type AS t, b.name AS b ORDER BY a, t, b LIMIT $limit",
            space_id=self.space_id,
            limit=max(1, min(int(limit), 10000)),
        )
        return [(r["a"], r["t"], r["b"]) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many entities and relations the space holds."""
        entities = _run(
            self._driver,
            "MATCH (e:Entity {space_id: $space_id}) RETURN count(e) AS n",
            space_id=self.space_id,
        )[0]["n"]
        relations = _run(
            self._driver,
            "MATCH (:Entity {space_id: $space_id})-[r:RELATES {space_id: $space_id}]->"
            "(:Entity {space_id: $space_id}) RETURN count(r) AS n",
            space_id=self.space_id,
        )[0]["n"]
        return {"entities": entities, "relations": relations}

    # -- whole-partition reads and loads (export and import of a space) ---------------------
    def partition(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every entity (its properties) and relation (ends, type, properties) of the space.

        Two queries; the space id is left out, so the result can be loaded
        into a partition of another id (``load_partition``).
        """
        entities = _run(
            self._driver,
            "MATCH (e:Entity {space_id: $space_id}) RETURN properties(e) AS p ORDER BY e.name",
            space_id=self.space_id,
        )
        relations = _run(
            self._driver,
            "MATCH (a:Entity {space_id: $space_id})-[r:RELATES {space_id: $space_id}]->"
            "(b:Entity {space_id: $space_id}) "
            "RETURN a.name AS source, r.type AS type, b.name AS target, properties(r) AS p "
            "ORDER BY source, type, target",
            space_id=self.space_id,
        )
        drop = ("space_id", "type")
        return (
            [{k: v for k, v in row["p"].items() if k != "space_id"} for row in entities],
            [
                {
                    "source": r["source"], "type": r["type"], "target": r["target"],
                    "properties": {k: v for k, v in r["p"].items() if k not in drop},
                }
                for r in relations
            ],
        )  # fmt: skip

    def load_partition(
        self,
        entities: list[dict[str, Any]],
        relations: list[dict[str, Any]],
        batch_bytes: int = 2_000,
    ) -> None:
        """Write what ``partition`` read (of any space) into this one, in batches (MERGEs).

        Entities go first (relation ends included) and relations only MATCH
        them, in batches of about ``batch_bytes`` bytes: FalkorDB (which pastes
        parameters into the query text) aborted here on queries of a few
        kilobytes of parameters, and handled thousands of rows in 2 kB batches.
        """
        self._write_check()
        items = [
            {
                "name": _name("entity name", e.get("name")),
                "kind": _name("entity kind", e.get("kind") or "concept"),
                "props": _props({k: v for k, v in e.items() if k not in ("name", "kind")}),
            }
            for e in entities
        ]
        links = []
        for r in relations:
            if not isinstance(r.get("type"), str) or not _RELATION.fullmatch(r["type"]):
                raise InvalidInput(f"invalid relation name {str(r.get('type'))[:40]!r}")
            links.append(
                {
                    "source": _name("source entity", r.get("source")),
                    "type": r["type"],
                    "target": _name("target entity", r.get("target")),
                    "props": _props(r.get("properties")),
                }
            )
        named = {item["name"] for item in items}
        for link in links:  # endpoints first, so relations only MATCH them
            for end in (link["source"], link["target"]):
                if end not in named:
                    named.add(end)
                    items.append({"name": end, "kind": "concept", "props": {}})
        for chunk in _batches(items, batch_bytes):
            _run(
                self._driver,
                "UNWIND $items AS item MERGE (e:Entity {space_id: $space_id, name: item.name}) "
                "SET e += item.props SET e.kind = item.kind",
                space_id=self.space_id,
                items=chunk,
            )
        for chunk in _batches(links, batch_bytes):
            _run(
                self._driver,
                "UNWIND $links AS link "
                "MATCH (a:Entity {space_id: $space_id, name: link.source}) "
                "MATCH (b:Entity {space_id: $space_id, name: link.target}) "
                "MERGE (a)-[r:RELATES {space_id: $space_id, type: link.type}]->(b) "
                "SET r += link.props",
                space_id=self.space_id,
                links=chunk,
            )
