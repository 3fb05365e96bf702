"""Recall over a space and the incremental vault index, on the real stores."""

from __future__ import annotations

import os

import pytest

from app.errors import InvalidInput
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager


def _bump(path) -> None:
    """Move a file's mtime forward (two writes within one clock tick look unchanged)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_recall_cites_every_source(manager: SpaceManager, space: SpaceConfig) -> None:
    handle = manager.open_space(space.space_id, write=True)
    handle.vault.write_note("Projects/pump.md", "The pump P7 operates at 42 bar of pressure.")
    handle.vault.write_note("Learning/bread.md", "Banana bread needs ripe bananas.")
    with handle.memory() as memory:
        mem_id = memory.add("Kestrel telemetry arrives every minute from the turbines")
    handle.graph.merge_relation("Kestrel", "monitors", "Turbine")
    assert handle.reindex_changed().changed == 2
    for mode in ("hybrid", "vector", "text"):
        hits = handle.recall("pump pressure bar", k=3, mode=mode)
        assert hits[0].citation == {
            "kind": "vault",
            "ref": "Projects/pump.md",
            "label": "Projects/pump",
            "path": "Projects/pump.md",
            "chunk": 0,
        }, mode
    hits = handle.recall("Kestrel telemetry", k=5, sources="memory,graph")
    kinds = {h.citation["kind"]: h.citation["ref"] for h in hits}
    assert kinds["memory"] == mem_id
    assert kinds["graph"] in {"Kestrel", "Turbine"}
    assert all(h.source in {"memory", "graph"} for h in hits)
    only_vault = handle.recall("pump", sources=["vault"])
    assert {h.source for h in only_vault} == {"vault"}
    assert only_vault[0].citation["path"] == "Projects/pump.md"


def test_recall_refuses_bad_input(manager: SpaceManager, space: SpaceConfig) -> None:
    handle = manager.open_space(space.space_id)
    for kwargs in (
        {"k": 0},
        {"k": 101},
        {"mode": "fuzzy"},
        {"sources": "memory,web"},
        {"sources": ""},
    ):
        with pytest.raises(InvalidInput):
            handle.recall("anything", **kwargs)
    with pytest.raises(InvalidInput):
        handle.recall("   ")


def test_vault_index_follows_edits_deletes_and_renames(
    manager: SpaceManager, space: SpaceConfig
) -> None:
    handle = manager.open_space(space.space_id, write=True)
    root = handle.vault.root
    for n in range(20):
        handle.vault.write_note(f"Learning/n{n}.md", f"Note {n} about ordinary things.")
    assert handle.reindex_changed().changed == 20
    assert handle.reindex_changed().changed == 0  # nothing changed: nothing re-read
    (root / "Learning/n3.md").write_text("Note 3 now explains the zirconium crucible.")
    _bump(root / "Learning/n3.md")
    report = handle.reindex_changed()
    assert (report.scanned, report.changed, report.removed) == (20, 1, 0)
    assert handle.recall("zirconium crucible", k=1)[0].citation["path"] == "Learning/n3.md"
    (root / "Learning/n3.md").rename(root / "Projects/moved.md")
    report = handle.reindex_changed()
    assert (report.changed, report.removed) == (1, 1)
    assert handle.recall("zirconium crucible", k=1)[0].citation["path"] == "Projects/moved.md"
    (root / "Projects/moved.md").unlink()
    assert handle.reindex_changed().removed == 1
    paths = {h.citation.get("path") for h in handle.recall("zirconium crucible", k=20)}
    assert "Projects/moved.md" not in paths and "Learning/n3.md" not in paths
    # A touched but unchanged note is not re-embedded.
    _bump(root / "Learning/n4.md")
    assert handle.reindex_changed().changed == 0


def test_recall_never_crosses_spaces(manager: SpaceManager, new_id) -> None:
    secret = "zebra-quartz payroll of project Aurora"
    a = manager.open_space(manager.create_space(SpaceConfig(new_id("ra"), "A", "alice")).space_id)
    b = manager.open_space(manager.create_space(SpaceConfig(new_id("rb"), "B", "bob")).space_id)
    a.vault.write_note("Projects/secret.md", secret)
    with a.memory() as memory:
        memory.add(secret)
    a.graph.merge_relation("Aurora", "pays", "Zebra")
    a.reindex_changed()
    assert {h.source for h in a.recall("Aurora payroll zebra", k=10)} >= {"vault", "memory"}
    b.reindex_changed()
    for mode in ("hybrid", "vector", "text"):
        assert b.recall("Aurora payroll zebra quartz", k=50, mode=mode) == []
    # A hostile folder prefix cannot reach another space's notes either.
    assert a.vault_index.text_search("zebra", 10, ["%"]) == []
    assert b.vault_index.text_search("zebra", 10, [f"../{a.config.space_id}/"]) == []


def test_documents_recall_only_open_versions(manager: SpaceManager, space, tmp_path) -> None:
    from app.spaces.stores.documents import DocumentStore

    store = DocumentStore(manager)
    first = tmp_path / "a" / "spec.md"
    first.parent.mkdir()
    first.write_text("The osprey pump is rated for 30 bar.")
    obj, v1 = store.create_object(space.space_id, first)
    second = tmp_path / "b" / "spec.md"
    second.parent.mkdir()
    second.write_text("The osprey pump is rated for 55 bar after the upgrade.")
    v2 = store.add_version(space.space_id, obj.name, second)
    hits = manager.open_space(space.space_id).recall("osprey pump rated bar", k=5)
    docs = [h for h in hits if h.source == "documents"]
    assert [h.citation["version_id"] for h in docs] == [v2.id]
    assert docs[0].citation["ref"] == f"spec.md#v{v2.id}" and "55 bar" in docs[0].text
    assert v1.id != v2.id
