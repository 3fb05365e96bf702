"""Export and import: a round trip item for item, rpi on the copy, hostile bundles refused."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest
import zstandard
from psycopg import sql

from app.errors import InvalidInput
from app.runner import Runner
from app.spaces.access import members
from app.spaces.model.space_model import SpaceConfig
from app.spaces.portability import portable_stores as stores
from app.spaces.portability.bundle_format import read_bundle, write_bundle
from app.spaces.portability.transfer import export_space, import_space
from app.spaces.stores import audit
from app.spaces.stores.documents import DocumentStore
from tests.support.cli import run_cli
from tests.support.deps import graph_deps
from tests.support.rpi import seed


def _memories(manager, config, tmp_path: Path) -> list[tuple]:
    """Every memory of the space (id, payload but the space's id, vector), through the store."""
    out = tmp_path / f"{config.space_id}.jsonl"
    stores.dump_memories(manager.backends, config, out)
    rows = []
    for r in stores.read_memories(out):
        payload = {k: v for k, v in r["payload"].items() if k not in ("user_id", "space_id")}
        vector = [round(x, 6) for x in r["vector"]]
        rows.append((r["id"], json.dumps(payload, sort_keys=True), vector))
    return sorted(rows)


def _tables(manager, config) -> dict[str, list[tuple]]:
    with manager.backends.pool.connection() as conn:
        names = stores.table_order(conn, config.postgres_schema)
        return {
            t: conn.execute(
                sql.SQL("SELECT * FROM {}.{} ORDER BY 1").format(
                    sql.Identifier(config.postgres_schema), sql.Identifier(t)
                )
            ).fetchall()
            for t in names
        }


def _vault(manager, config) -> dict[str, bytes]:
    root = manager.vault_root(config)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _registry(manager, config) -> dict:
    rows = stores.dump_registry(manager.backends.pool, config.space_id)
    rows["space_usage_events"] = [
        {**r, "idempotency_key": r["idempotency_key"].split("/", 1)[-1]}
        for r in rows["space_usage_events"]
    ]
    return rows


@pytest.fixture
def filled(manager, new_id, settings, tmp_path) -> SpaceConfig:
    """A space with notes, memories, graph facts, an object, a member and a finished run."""
    config = manager.create_space(SpaceConfig(new_id("src"), "Source", "alice"))
    seed(manager, config.space_id)
    doc = tmp_path / "charter.md"
    doc.write_text("The zebra ledger charter says blocks are final after two rounds.\n")
    DocumentStore(manager).create_object(config.space_id, doc)
    members.add_member(manager, config.space_id, "alice", "olga", "operator")
    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", config.space_id, "How does Raft make ledger blocks final?")
    assert runner.resume(waiting.thread_id, {"action": "approve"}).status == "completed"
    return config


def test_round_trip_item_for_item_and_rpi_finds_the_old_knowledge(
    manager, filled, new_id, settings, tmp_path
) -> None:
    bundle = tmp_path / "space.tar.zst"
    done = export_space(manager, filled.space_id, "alice", bundle)
    assert done.counts["memories"] >= 2 and done.counts["relations"] >= 1
    copy_id = new_id("copy")
    imported = import_space(manager, bundle, new_id=copy_id, owner="bert")
    assert imported.space_id == copy_id
    copy = manager.get_space(copy_id)
    assert copy.owner_id == "bert" and copy.name == filled.name
    assert copy.monthly_token_budget == filled.monthly_token_budget

    before, after = _tables(manager, filled), _tables(manager, copy)
    assert set(before) == set(after) and {"runs", "artifacts", "objects", "versions"} <= set(before)
    for table in before:
        if table == "audit_log":  # the copy adds its import; the source added its export
            assert after[table][: len(before[table]) - 1] == before[table][:-1]
            assert after[table][-1][3] == "space.import"
        else:
            assert after[table] == before[table], table
    assert _vault(manager, copy) == _vault(manager, filled)
    assert _memories(manager, copy, tmp_path) == _memories(manager, filled, tmp_path)
    src_graph = manager.handle(filled).graph.partition()
    assert manager.handle(copy).graph.partition() == src_graph
    old, new = _registry(manager, filled), _registry(manager, copy)
    assert new["space_usage"] == old["space_usage"]
    assert new["space_usage_events"] == old["space_usage_events"]
    roles = {m["user_id"]: m["role"] for m in new["space_members"]}
    assert roles == {"alice": "admin", "olga": "operator", "bert": "admin"}

    runner = Runner(settings, graph_deps(settings))
    waiting = runner.start("rpi", copy_id, "Raft ledger zebra charter final", user_id="bert")
    done = runner.resume(waiting.thread_id, {"action": "reject"}, user_id="bert")
    research = manager.handle(copy).vault.read_note(done.artifacts["research"]).text
    assert "[[Ledger]]" in research  # an old note, by its unique name
    assert "graph node Raft FINALISES Ledger" in research  # an old graph fact
    old_ids = {m[0][:8] for m in _memories(manager, filled, tmp_path)}
    cited = set(re.findall(r"memory ([0-9a-f]{8})", research))
    assert cited and cited <= old_ids  # old memories, under their ids


def _bundle(tmp_path: Path, members_: list[tuple[tarfile.TarInfo, bytes]], name="x") -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members_:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path = tmp_path / f"{name}.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _manifest(files: dict) -> tuple[tarfile.TarInfo, bytes]:
    doc = {"format": "spaces-bundle", "format_version": 1, "files": files}
    return _file("manifest.json", json.dumps(doc).encode())


@pytest.fixture
def good(manager, filled, tmp_path) -> Path:
    bundle = tmp_path / "good.tar.zst"
    export_space(manager, filled.space_id, "alice", bundle)
    return bundle


def _hostile(tmp_path: Path, good: Path) -> dict[str, Path]:
    link = tarfile.TarInfo("vault/evil.md")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    data = good.read_bytes()
    unpacked = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    tampered = bytearray(unpacked)
    at = tampered.find(b"The team chose Raft")
    tampered[at] = ord("t")
    bomb = _file("manifest.json", b" " * (64 * 1024 * 1024))
    return {
        "traversal": _bundle(tmp_path, [_manifest({"../evil": {}}), _file("../evil", b"x")], "t"),
        "absolute": _bundle(tmp_path, [_manifest({}), _file("/tmp/evil", b"x")], "a"),
        "symlink": _bundle(tmp_path, [_manifest({}), (link, b"")], "s"),
        "unlisted": _bundle(tmp_path, [_manifest({}), _file("vault/x.md", b"x")], "u"),
        "bomb": _bundle(tmp_path, [bomb], "b"),
        "truncated": _write(tmp_path / "trunc.tar.zst", data[: len(data) // 2]),
        "checksum": _write(
            tmp_path / "sum.tar.zst", zstandard.ZstdCompressor().compress(bytes(tampered))
        ),
        "not zstd": _write(tmp_path / "junk.tar.zst", b"this is not a bundle"),
        # Well-formed bundles whose registry.json lies (issue 20): resealed with fresh sums.
        "bad member": _resealed(tmp_path, good, "m", _evil_member),
        "negative tokens": _resealed(tmp_path, good, "n", _negative_tokens),
    }


def _evil_member(registry: dict) -> None:
    row = dict(registry["space_members"][0], user_id="x\u001b[31m\nevil", role="admin")
    registry["space_members"].append(row)


def _negative_tokens(registry: dict) -> None:
    registry["space_usage"] = [
        {"month": "2026-12", "tokens_used": -(10**15), "api_calls_used": 0, "cost_usd": "0"}
    ]


def _resealed(tmp_path: Path, good: Path, name: str, edit) -> Path:
    """``good`` with its registry.json edited by ``edit``, packed again with valid checksums."""
    parts = tmp_path / f"parts-{name}"
    parts.mkdir()
    manifest = read_bundle(good, parts)
    registry = json.loads((parts / "registry.json").read_text())
    edit(registry)
    (parts / "registry.json").write_text(json.dumps(registry))
    inner = {k: v for k, v in manifest.items() if k not in ("format", "format_version", "files")}
    return write_bundle(parts, inner, tmp_path / f"{name}.tar.zst") and tmp_path / f"{name}.tar.zst"


WHY = {
    "traversal": "unsafe member path",
    "absolute": "unsafe member path",
    "symlink": "not a regular file",
    "unlisted": "not in its manifest",
    "bomb": "more than the allowed size",
    "truncated": "truncated",
    "checksum": "wrong checksum",
    "not zstd": "damaged",
    "bad member": "space_members row 3: user_id: invalid user id",
    "negative tokens": "tokens_used must be a whole number",
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_hostile_bundles_are_refused_and_change_nothing(
    manager, good, new_id, tmp_path, settings
) -> None:
    before = [c.space_id for c in manager.list_spaces()]
    for kind, bundle in _hostile(tmp_path, good).items():
        sid = new_id("hostile")
        with pytest.raises(InvalidInput, match="bundle refused") as caught:
            import_space(manager, bundle, new_id=sid, max_bytes=32 * 1024 * 1024)
        assert "\n" not in str(caught.value), kind
        assert WHY[kind] in str(caught.value), (kind, str(caught.value))
        assert [c.space_id for c in manager.list_spaces()] == before, kind
        assert not (settings.vaults_dir / sid).exists(), kind
    assert not (tmp_path / "evil").exists() and list((settings.home / "tmp").iterdir()) == []


def test_members_list_escapes_control_characters(manager, new_id, settings) -> None:
    """A member id with terminal escapes (as old bundles could add) prints escaped, one line."""
    config = manager.create_space(SpaceConfig(new_id("esc"), "Escapes", "alice"))
    with manager.backends.pool.connection() as conn:
        conn.execute(
            "INSERT INTO spaces_registry.space_members (space_id, user_id, role, added_by) "
            "VALUES (%s, %s, 'member', 'alice')",
            [config.space_id, "x\u001b[31m\nevil"],
        )
    result = run_cli(settings, "members", "list", config.space_id)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "x\\x1b[31m\\x0aevil" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 2


def test_the_cli_refuses_with_one_line_and_exit_2(good, settings, new_id, tmp_path) -> None:
    broken = _write(tmp_path / "broken.tar.zst", good.read_bytes()[:-100])
    result = run_cli(settings, "import", str(broken), "--as", new_id("cli"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "bundle refused" in result.stderr and "Traceback" not in result.stderr


def test_another_embedder_is_refused_or_reembedded(manager, good, new_id, tmp_path) -> None:
    parts = tmp_path / "parts"
    manifest = read_bundle(good, parts)
    manifest["embedder"] = {"name": "openai:text-embedding-3-small", "dims": 1536}
    for row_file in [parts / "memories.jsonl"]:
        rows = [json.loads(line) for line in row_file.read_text().splitlines()]
        for row in rows:
            row["vector"] = [0.0] * 1536
        row_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from app.spaces.portability.bundle_format import write_bundle

    manifest.pop("files")
    other = tmp_path / "other.tar.zst"
    write_bundle(parts, manifest, other)
    sid = new_id("emb")
    with pytest.raises(InvalidInput, match="--reembed"):
        import_space(manager, other, new_id=sid)
    with pytest.raises(Exception):  # noqa: B017 - nothing was made
        manager.get_space(sid)
    import_space(manager, other, new_id=sid, reembed=True)
    with manager.open_space(sid).memory() as memory:
        hits = memory.search("Raft over Paxos", limit=1)
    assert hits and "Paxos" in hits[0].text


def test_export_is_for_admins_and_audited(manager, filled, tmp_path) -> None:
    from app.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        export_space(manager, filled.space_id, "olga", tmp_path / "x.tar.zst")
    assert not (tmp_path / "x.tar.zst").exists()
    export_space(manager, filled.space_id, "alice", tmp_path / "y.tar.zst")
    last = audit.read(manager.backends.pool, filled.postgres_schema)[-1]
    assert (last.actor, last.action) == ("alice", "space.export")


def test_a_failure_half_way_leaves_no_trace(manager, good, new_id, settings, monkeypatch) -> None:
    from app.errors import StoreUnavailable
    from app.spaces.infra.migrations import REGISTRY_SCHEMA
    from app.spaces.stores.graph import SpaceGraph

    def down(*args, **kwargs):
        raise StoreUnavailable("graph", "simulated outage during the import")

    monkeypatch.setattr(SpaceGraph, "load_partition", down)
    sid = new_id("half")
    with pytest.raises(StoreUnavailable):
        import_space(manager, good, new_id=sid)
    with manager.backends.pool.connection() as conn:
        schemas = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            [f"space_{sid}"],
        ).fetchone()[0]
        left = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.space_members WHERE space_id = %s").format(
                sql.Identifier(REGISTRY_SCHEMA)
            ),
            [sid],
        ).fetchone()[0]
    assert (schemas, left) == (0, 0)
    assert sid not in [c.space_id for c in manager.list_spaces()]
    assert not (settings.vaults_dir / sid).exists()
    monkeypatch.undo()
    assert import_space(manager, good, new_id=sid).space_id == sid  # the id is free again


def test_memories_in_a_pgvector_table_travel_too(manager, new_id, tmp_path) -> None:
    """Memory lives in the space's schema (pgvector): rows travel with their vectors, exactly."""
    source = manager.create_space(SpaceConfig(new_id("pgv"), "P", "alice"))
    target = manager.create_space(SpaceConfig(new_id("pgw"), "Q", "alice"))
    dims = manager.backends.embedder().dims
    rows = [
        {"id": f"00000000-0000-0000-0000-00000000000{n}",
         "vector": [0.5, float(n), -1.0] + [0.0] * (dims - 3),
         "payload": {"data": f"fact {n}", "user_id": source.space_id}}
        for n in range(3)
    ]  # fmt: skip
    stores.load_memories(manager.backends, source, [dict(r) for r in rows], source.space_id)
    out = tmp_path / "m.jsonl"
    assert stores.dump_memories(manager.backends, source, out) == 3
    dumped = list(stores.read_memories(out))
    assert [(r["id"], r["vector"], r["payload"]["data"]) for r in dumped] == [
        (r["id"], r["vector"], r["payload"]["data"]) for r in rows
    ]
    stores.load_memories(manager.backends, target, dumped, source.space_id)
    again = tmp_path / "n.jsonl"
    stores.dump_memories(manager.backends, target, again)
    copied = list(stores.read_memories(again))
    assert [(r["id"], r["vector"], r["created_at"]) for r in copied] == [
        (r["id"], r["vector"], r["created_at"]) for r in dumped
    ]
    assert {r["payload"]["user_id"] for r in copied} == {target.space_id}
    with manager.backends.pool.connection() as conn:
        tables = stores.table_order(conn, source.postgres_schema)
    assert source.mem0_collection_name not in tables  # travels as memories.jsonl only


def test_an_imported_space_lists_the_runs_its_bundle_carried(
    manager, filled, new_id, settings, tmp_path
) -> None:
    """Run records travel in the bundle, but ``spaces runs`` of the copy listed none."""
    from app.spaces.stores.run_records import space_runs

    bundle = tmp_path / "runs.tar.zst"
    assert run_cli(settings, "export", filled.space_id, str(bundle)).returncode == 0
    copy_id = new_id("copy")
    made = run_cli(settings, "import", str(bundle), "--as", copy_id, "--owner", "bert")
    assert made.returncode == 0, made.stderr
    source = json.loads(run_cli(settings, "runs", filled.space_id, "--json").stdout)
    listed = run_cli(settings, "runs", copy_id, "--json")
    assert listed.returncode == 0, listed.stderr
    copied = json.loads(listed.stdout)
    assert len(source) == 1 and [(r["thread_id"], r["status"], r["user_id"]) for r in copied] == [
        (source[0]["thread_id"], "completed", "alice")
    ]
    assert copied[0]["query"] == "How does Raft make ledger blocks final?"
    assert copied[0]["space_id"] == copy_id
    # The REST listing reads the same records.
    schema = manager.get_space(copy_id).postgres_schema
    rest = space_runs(manager.backends.pool, schema, copy_id, 50)
    assert [(r.thread_id, r.status) for r in rest] == [(source[0]["thread_id"], "completed")]
    # Nothing to resume there: the checkpoints did not travel.
    last = run_cli(settings, "resume", "--last", copy_id)
    assert last.returncode == 2 and "no run waiting" in last.stderr
