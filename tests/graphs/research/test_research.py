"""The research graph on its own: sub-agents, citations, isolation, contained failures."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from app.errors import InvalidInput
from app.graphs.context import RunContext
from app.graphs.research import build_research
from app.graphs.research.spec import parse_spec
from app.spaces.model.space_model import SpaceConfig
from tests.support.deps import graph_deps


def _run(settings, space_id: str, query: str, spec=None, user="alice") -> dict:
    graph = build_research(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"research-{space_id}-{abs(hash(query))}"}}
    graph.invoke(
        {"space_id": space_id, "query": query, "context_spec": spec},
        config,
        context=RunContext(user_id=user),
    )
    return graph.get_state(config).values


def _fill(manager, space_id: str, word: str) -> None:
    space = manager.open_space(space_id, write=True)
    space.vault.write_note(f"Learning/{word}.md", f"The {word} protocol is documented here.")
    with space.memory() as memory:
        memory.add(f"The {word} protocol was chosen last year.", key=f"{word}-m")
    space.graph.merge_relation(f"{word} protocol", "PART_OF", f"{word} system")


def test_each_source_is_cited_and_other_spaces_never_appear(manager, new_id, settings) -> None:
    mine = manager.create_space(SpaceConfig(new_id("mine"), "Mine", "alice"))
    theirs = manager.create_space(SpaceConfig(new_id("theirs"), "Theirs", "bob"))
    _fill(manager, mine.space_id, "falcon")
    _fill(manager, theirs.space_id, "heron")
    state = _run(settings, mine.space_id, "falcon heron protocol")
    assert state["status"] == "completed"
    kinds = {f["citation"]["kind"] for f in state["findings"]}
    assert kinds == {"vault", "memory", "graph"}
    blob = repr(state["findings"]) + state["research"]
    assert "heron" not in blob.replace("falcon heron protocol", "")
    assert "[[falcon]]" in state["research"]  # its name is unique: the shortest form
    assert "## Sources" in state["research"]


def test_a_failing_sub_agent_is_reported_and_the_others_go_on(manager, space, settings) -> None:
    _fill(manager, space.space_id, "osprey")
    bad = settings.vaults_dir / space.space_id / "Learning" / "broken.md"
    bad.write_bytes(b"\xff\xfe\x00\x81 not text osprey")
    state = _run(settings, space.space_id, "osprey protocol")
    assert state["status"] == "completed"
    errors = [f for f in state["findings"] if f.get("error")]
    assert [f["agent"] for f in errors] == ["files"]
    assert "broken.md" in errors[0]["error"] and "not UTF-8" in errors[0]["error"]
    kinds = {f["citation"]["kind"] for f in state["findings"] if not f.get("error")}
    assert kinds == {"vault", "memory", "graph"}  # the other notes and agents went on
    assert "## What failed" in state["research"] and "files:" in state["research"]


def test_context_spec_is_checked_and_bounds_the_sources(manager, space, settings) -> None:
    _fill(manager, space.space_id, "kestrel")
    state = _run(settings, space.space_id, "kestrel protocol", {"graph": {"top_k": 1}})
    assert {f["agent"] for f in state["findings"]} == {"graph"} and len(state["findings"]) == 1
    with pytest.raises(InvalidInput, match=r"context_spec\.urls\.seeds: Field required"):
        parse_spec({"urls": {}})
    with pytest.raises(InvalidInput, match=r"context_spec\.memory\.top_k"):
        parse_spec({"memory": {"top_k": 0}})
    with pytest.raises(InvalidInput, match=r"context_spec\.files: Extra inputs"):
        parse_spec({"files": True})
    with pytest.raises(InvalidInput, match="names no source"):
        parse_spec({})
    refused = _run(settings, space.space_id, "kestrel", {"urls": {"seeds": [], "max_pages": 5}})
    assert refused["status"] == "failed" and "context_spec.urls.seeds" in refused["error"]


def test_research_refuses_another_users_space(space, settings) -> None:
    state = _run(settings, space.space_id, "anything at all", user="bob")
    assert state["status"] == "failed" and state["error"] == f"no space '{space.space_id}'"
    assert "findings" not in state or not state["findings"]


def test_file_explorer_reads_the_space_documents(manager, space, settings, tmp_path) -> None:
    from app.spaces.stores.documents import DocumentStore

    doc = tmp_path / "runbook.md"
    doc.write_text("The failover runbook: promote the follower with the longest log.")
    _, version = DocumentStore(manager).create_object(space.space_id, doc)
    state = _run(
        settings, space.space_id, "How does failover promote a follower?", {"documents": {}}
    )
    cited = [f["citation"] for f in state["findings"] if not f.get("error")]
    assert cited == [
        {
            "kind": "document",
            "ref": f"runbook.md#v{version.id}",
            "label": f"document runbook.md (version {version.id})",
        }
    ]
    assert f"document runbook.md (version {version.id})" in state["research"]


def test_each_run_sees_notes_edited_renamed_or_deleted_in_obsidian(manager, space, settings):
    """Runs re-index what changed first: no stale note is cited, a new one is found."""
    vault = settings.vaults_dir / space.space_id
    (vault / "Learning").mkdir(exist_ok=True)
    (vault / "Learning" / "kestrel.md").write_text("The kestrel protocol hovers before it votes.")
    first = _run(settings, space.space_id, "kestrel protocol")
    refs = {f["citation"]["ref"] for f in first["findings"] if f.get("citation")}
    assert "Learning/kestrel.md" in refs
    # Edited and renamed outside the project, as Obsidian would, between two runs.
    (vault / "Learning" / "kestrel.md").rename(vault / "Learning" / "kite.md")
    (vault / "Learning" / "kite.md").write_text("The kestrel protocol now dives instead.")
    second = _run(settings, space.space_id, "kestrel protocol dives")
    refs = {f["citation"]["ref"] for f in second["findings"] if f.get("citation")}
    assert "Learning/kite.md" in refs and "Learning/kestrel.md" not in refs
    (vault / "Learning" / "kite.md").unlink()
    third = _run(settings, space.space_id, "kestrel protocol dives again")
    refs = {f["citation"]["ref"] for f in third["findings"] if f.get("citation")}
    assert not {"Learning/kite.md", "Learning/kestrel.md"} & refs


def test_words_keep_codes_and_numbers_and_meet_across_plurals() -> None:
    from app.text import words

    assert words("What pressure does P7 run at?") == {"pressure", "p7", "run"}
    assert words("Pump P7 runs at 42 bar.") == {"pump", "p7", "run", "42", "bar"}
    assert words("the pumps' batteries") == {"pump", "battery"}
    assert words("status of the analysis pass, gas at 5 bar") == {
        "status", "analysis", "pass", "gas", "bar"
    }  # fmt: skip


def test_research_finds_what_recall_finds(manager, space, settings) -> None:
    """Issue 20 item 6: "P7" and "42" are words, "runs" is "run", and a table's rows answer."""
    from app.spaces.stores.recall import recall

    handle = manager.open_space(space.space_id, write=True)
    handle.vault.write_note("Plant/p7.md", "Pump P7 runs at 42 bar.")
    (settings.vaults_dir / space.space_id / "Plant" / "pressures.csv").write_text(
        "pump,bar\nP7,42\nP8,38\n"
    )
    query = "What pressure does P7 run at?"
    handle.vault_index.refresh()  # as `spaces recall` does
    assert recall(handle, query, k=1, sources="vault")[0].citation["ref"] == "Plant/p7.md"
    state = _run(settings, space.space_id, query)
    refs = [f["citation"]["ref"] for f in state["findings"] if not f.get("error")]
    assert refs == ["Plant/p7.md"]
    assert "> Pump P7 runs at 42 bar. [1]" in state["research"]
    tables = _run(settings, space.space_id, "What pressure do the pumps run at?", {"data": {}})
    [found] = tables["findings"]
    assert found["citation"]["ref"] == "Plant/pressures.csv#rows 1-2"
    assert "row 1: pump=P7, bar=42" in found["text"] and "row 2: pump=P8, bar=38" in found["text"]
    assert "row 1: pump=P7, bar=42" in tables["research"]
