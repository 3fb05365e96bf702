"""Documents: objects with append-only versions, bad input, and what the model receives."""

from __future__ import annotations

import dataclasses
import json
import os
import threading

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from app.errors import InvalidInput
from app.spaces.model.space_model import SpaceConfig
from app.spaces.stores.documents import DocumentStore, open_documents_section
from tests.support.cli import run_cli
from tests.support.deps import node_scope_for
from tests.support.fake_openai import FakeOpenAI, completion


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (built by hand: no PDF writer needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def store(manager) -> DocumentStore:
    return DocumentStore(manager)


def test_objects_versions_and_the_prompt_documents(store, space, tmp_path, manager) -> None:
    first = tmp_path / "v1" / "design.md"
    first.parent.mkdir()
    first.write_text("# Design\n\nThe ledger uses Raft.")
    obj, v1 = store.create_object(space.space_id, first)
    assert obj.name == "design.md" and obj.object_type == "text_file" and obj.active
    assert v1.status == "active" and v1.original_path == str(first) and v1.chunks == 1
    second = tmp_path / "v2" / "design.md"
    second.parent.mkdir()
    second.write_text("# Design\n\nThe ledger uses Raft with five servers.")
    v2 = store.add_version(space.space_id, "design.md", second)
    assert [v.id for v in store.list_versions(space.space_id, str(obj.id))] == [v1.id, v2.id]
    docs = store.get_active_documents_for_prompt(space.space_id)
    assert docs == [{"name": "design.md", "text": second.read_text(), "version_id": v2.id}]
    store.set_version_status(space.space_id, v2.id, "inactive")  # back to the older one
    assert store.get_active_documents_for_prompt(space.space_id)[0]["version_id"] == v1.id
    store.set_object_active(space.space_id, "design.md", False)
    assert store.get_active_documents_for_prompt(space.space_id) == []
    store.set_object_active(space.space_id, "design.md", True)
    with manager.open_space(space.space_id).memory() as memory:
        chunks = [m for m in memory.all() if m.metadata.get("object_id") == obj.id]
    assert {m.metadata["version_id"] for m in chunks} == {v1.id, v2.id}
    meta = chunks[0].metadata
    assert meta["object_name"] == "design.md" and meta["type"] == "document"
    assert f"space:{space.space_id}" in meta["tags"] and f"object:{obj.id}" in meta["tags"]
    manager.archive_space(space.space_id)
    assert store.get_active_documents_for_prompt(space.space_id) == []


def test_pdf_text_is_ingested(store, space, tmp_path) -> None:
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(minimal_pdf("Raft elects a leader"))
    obj, version = store.create_object(space.space_id, pdf)
    assert obj.object_type == "pdf_file" and version.status == "active"
    assert (
        "Raft elects a leader" in store.get_active_documents_for_prompt(space.space_id)[0]["text"]
    )


def test_bad_input_is_refused_and_changes_nothing(store, space, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="no file"):
        store.create_object(space.space_id, tmp_path / "missing.md")
    with pytest.raises(InvalidInput, match="is a directory"):
        store.create_object(space.space_id, tmp_path)
    huge = tmp_path / "huge.md"
    with huge.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # 100 MB, sparse
    with pytest.raises(InvalidInput, match="the limit is 20,000,000"):
        store.create_object(space.space_id, huge)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x00\x00")
    with pytest.raises(InvalidInput, match="only text and PDF"):
        store.create_object(space.space_id, exe)
    hidden = tmp_path / ".env.md"
    hidden.write_text("secret")
    with pytest.raises(InvalidInput, match="cannot name an object"):
        store.create_object(space.space_id, hidden)
    for hostile in ("../../etc/passwd", "design.md'; DROP TABLE objects; --", "x" * 500):
        with pytest.raises(InvalidInput):
            store.list_versions(space.space_id, hostile)
    assert store.list_objects(space.space_id) == []


def test_binary_content_leaves_a_version_in_error(store, space, tmp_path) -> None:
    fake = tmp_path / "notes.md"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    obj, version = store.create_object(space.space_id, fake)
    assert version.status == "error" and "binary" in version.error
    assert version.chunks == 0
    assert store.get_active_documents_for_prompt(space.space_id) == []
    with pytest.raises(InvalidInput, match="stays in error"):
        store.set_version_status(space.space_id, version.id, "active")
    assert [v.status for v in store.list_versions(space.space_id, obj.name)] == ["error"]


def test_collisions_and_mismatched_names(store, space, tmp_path) -> None:
    one = tmp_path / "a" / "spec.md"
    one.parent.mkdir()
    one.write_text("spec")
    store.create_object(space.space_id, one)
    with pytest.raises(InvalidInput, match=r"An object named spec\.md already exists"):
        store.create_object(space.space_id, one)
    other = tmp_path / "spec-v2.md"
    other.write_text("renamed")
    mismatch = r"tracks files named spec\.md\. You selected spec-v2\.md"
    with pytest.raises(InvalidInput, match=mismatch):
        store.add_version(space.space_id, "spec.md", other)
    assert len(store.list_versions(space.space_id, "spec.md")) == 1


def test_two_versions_added_at_once(store, space, tmp_path) -> None:
    base = tmp_path / "base" / "log.md"
    base.parent.mkdir()
    base.write_text("start")
    store.create_object(space.space_id, base)
    copies = []
    for n in range(2):
        path = tmp_path / f"c{n}" / "log.md"
        path.parent.mkdir()
        path.write_text(f"copy {n}")
        copies.append(path)
    results: list = [None, None]

    def add(n: int) -> None:
        results[n] = store.add_version(space.space_id, "log.md", copies[n])

    threads = [threading.Thread(target=add, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None and r.status == "active" for r in results)
    versions = store.list_versions(space.space_id, "log.md")
    assert len(versions) == 3 and len({v.id for v in versions}) == 3
    latest = store.get_active_documents_for_prompt(space.space_id)[0]
    assert latest["version_id"] == max(v.id for v in versions)


def test_the_model_receives_the_open_documents(store, space, tmp_path, settings) -> None:
    small = tmp_path / "small.md"
    small.write_text("Small document about Raft.")
    big = tmp_path / "big.md"
    big.write_text("Big document. " + "x" * 40_000)
    off = tmp_path / "off.md"
    off.write_text("This object is switched off.")
    for path in (small, big, off):
        store.create_object(space.space_id, path)
    store.set_object_active(space.space_id, "off.md", False)
    with FakeOpenAI(lambda body: (200, completion("ok"))) as server:
        wired = dataclasses.replace(settings, openai_base_url=server.base_url, openai_api_key="k")
        scope = node_scope_for(wired, space.space_id, "docs")
        scope.ask(
            [SystemMessage("You help."), HumanMessage("What is in my documents?")],
            model="openai:gpt-4o-mini",
        )
    sent = server.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "system", "user"]
    section = sent[1]["content"]
    assert section.startswith("OPEN DOCUMENTS")
    assert "Small document about Raft." in section  # small documents are kept whole
    assert "[… truncated: " in section and "of 40,014 characters shown]" in section
    assert "cut to fit a 4,000-token cap, largest first" in section
    assert "switched off" not in section
    assert len(section) < 4_000 * 4 + 1_000


def test_open_documents_section_cuts_largest_first() -> None:
    docs = [
        {"name": "a", "text": "a" * 100, "version_id": 1},
        {"name": "b", "text": "b" * 10_000, "version_id": 2},
        {"name": "c", "text": "c" * 6_000, "version_id": 3},
    ]
    section = open_documents_section(docs, cap_tokens=1_000)  # 4,000 characters
    assert "a" * 100 in section
    assert section.count("[… truncated:") == 2
    assert open_documents_section([]) == ""


def test_cli_objects(settings, space, tmp_path) -> None:
    note = tmp_path / "plan.md"
    note.write_text("The plan.")
    added = run_cli(settings, "objects", "add", space.space_id, str(note), "--json")
    assert added.returncode == 0, added.stderr
    doc = json.loads(added.stdout)
    assert doc["object"]["name"] == "plan.md" and doc["version"]["status"] == "active"
    listed = json.loads(run_cli(settings, "objects", "list", space.space_id, "--json").stdout)
    assert [o["name"] for o in listed] == ["plan.md"]
    again = run_cli(settings, "objects", "add", space.space_id, str(note))
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    missing = run_cli(settings, "objects", "add", space.space_id, str(tmp_path / "nope.md"))
    assert missing.returncode == 2 and "no file" in missing.stderr
    vid = str(doc["version"]["id"])
    off = run_cli(settings, "objects", "set-version", space.space_id, vid, "inactive", "--json")
    assert json.loads(off.stdout)["status"] == "inactive"
    versions = run_cli(settings, "objects", "versions", space.space_id, "plan.md", "--json")
    assert [v["status"] for v in json.loads(versions.stdout)] == ["inactive"]
    other = run_cli(settings, "objects", "list", "nosuch_space_x")
    assert other.returncode == 2 and "no space" in other.stderr
    assert os.path.exists(note)  # the source file is left alone


def test_documents_of_one_space_never_reach_another(store, manager, new_id, tmp_path) -> None:
    a = manager.create_space(SpaceConfig(new_id("da"), "A", "alice"))
    b = manager.create_space(SpaceConfig(new_id("db"), "B", "bob"))
    secret = tmp_path / "secret.md"
    secret.write_text("alice's secret")
    store.create_object(a.space_id, secret)
    assert store.list_objects(b.space_id) == []
    assert store.get_active_documents_for_prompt(b.space_id) == []
    with pytest.raises(InvalidInput, match="no object"):
        store.list_versions(b.space_id, "secret.md")


def test_late_nul_bytes_damaged_pdfs_and_symlinks(store, space, tmp_path, manager) -> None:
    late = tmp_path / "late.md"
    late.write_bytes(b"x" * 9_000 + b"\x00tail")
    _, version = store.create_object(space.space_id, late)
    assert version.status == "error" and "binary" in version.error and version.chunks == 0
    broken = tmp_path / "broken.pdf"
    pdf = bytearray(minimal_pdf("Raft"))
    pdf[pdf.index(b"/Resources") : pdf.index(b"/Resources") + 10] = b"/Resources"[::-1]
    broken.write_bytes(bytes(pdf[:200]) + b"garbage" + bytes(pdf[200:]))
    _, damaged = store.create_object(space.space_id, broken)
    assert damaged.status == "error"
    link = tmp_path / "link.md"
    link.symlink_to("/etc/hostname")
    with pytest.raises(InvalidInput, match="symbolic link"):
        store.create_object(space.space_id, link)
    with manager.open_space(space.space_id).memory() as memory:
        assert [m for m in memory.all() if m.metadata.get("type") == "document"] == []
