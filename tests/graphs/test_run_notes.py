"""The notes runs leave in a vault: not taken for sources, and linked as Obsidian links.

Issue 20 item 7: a second run quoted the first run's boilerplate instead of
the notes a person wrote; a rejected or waiting run left "Related" links to
a plan and an implementation that were never written; links were written
as paths where Obsidian (and obsidiantools) use the bare unique name.
"""

from __future__ import annotations

import re

import obsidiantools.api as otools
import pytest

from app.runner import Runner
from tests.support.deps import graph_deps
from tests.support.rpi import QUERY, seed


@pytest.fixture
def runner(settings) -> Runner:
    return Runner(settings, graph_deps(settings))


def _sources(manager, space_id: str, path: str) -> list[str]:
    """The wikilinks of a research note's source list."""
    text = manager.open_space(space_id).vault.read_note(path).text
    listed = text.split("## Sources", 1)[1].split("\nRelated:", 1)[0]
    return re.findall(r"\[\[([^\]]+)\]\]", listed)


def _broken(manager, space_id: str) -> list[str]:
    """Links obsidiantools cannot resolve to a note of the vault, as Obsidian would not."""
    vault = otools.Vault(manager.open_space(space_id).vault.root).connect()
    return sorted(vault.nonexistent_notes)


def test_a_second_run_cites_the_notes_a_person_wrote(manager, space, runner) -> None:
    seed(manager, space.space_id)
    first = runner.resume(
        runner.start("rpi", space.space_id, QUERY).thread_id, {"action": "approve"}
    )
    assert first.status == "completed", first.error
    second = runner.start("rpi", space.space_id, QUERY)  # the same question again, as a demo does
    second = runner.resume(second.thread_id, {"action": "approve"})
    cited = _sources(manager, space.space_id, second.artifacts["research"])
    assert cited and set(cited) <= {"Raft", "Ledger"}  # never the first run's notes
    text = manager.open_space(space.space_id).vault.read_note(second.artifacts["research"]).text
    assert "> A ledger block is final once the Raft log commits it. [" in text
    assert "Research: How does Raft" not in text.split("\n", 3)[-1]  # no quoted boilerplate
    # Asked for, the earlier run's notes are sources again.
    asked = runner.start("research", space.space_id, "What did the previous run find about Raft?")
    assert any(
        c.startswith("Projects/")
        for c in _sources(manager, space.space_id, asked.artifacts["research"])
    )
    by_tag = runner.start(
        "research", space.space_id, "Raft ledger", context_spec={"vault": {"tags": ["spaces/plan"]}}
    )
    assert {
        c.rsplit("/", 1)[-1]
        for c in _sources(manager, space.space_id, by_tag.artifacts["research"])
    } == {"plan"}
    folder = first.artifacts["plan"].rsplit("/", 1)[0]
    in_folder = runner.start(
        "research", space.space_id, "Raft ledger", context_spec={"vault": {"folders": [folder]}}
    )
    cited = _sources(manager, space.space_id, in_folder.artifacts["research"])
    assert cited and all(c.startswith(folder + "/") for c in cited)


def test_links_resolve_after_rejected_waiting_and_completed_runs(manager, space, runner) -> None:
    seed(manager, space.space_id)
    vault = manager.open_space(space.space_id).vault
    rejected = runner.start("rpi", space.space_id, "Plan a Raft ledger migration")
    done = runner.resume(rejected.thread_id, {"action": "reject"})
    assert done.status == "rejected"
    assert "Related:" not in vault.read_note(done.artifacts["research"]).text
    assert _broken(manager, space.space_id) == []
    waiting = runner.start("rpi", space.space_id, QUERY)
    assert waiting.status == "awaiting_approval"
    assert _broken(manager, space.space_id) == []
    completed = runner.resume(waiting.thread_id, {"action": "approve"})
    assert completed.status == "completed", completed.error
    assert _broken(manager, space.space_id) == []
    # Its plan and implementation are the vault's only ones: linked by name, as Obsidian does.
    research = vault.read_note(completed.artifacts["research"])
    assert research.text.rstrip().endswith("Related: [[plan]] [[implementation]]")
    folder = completed.artifacts["plan"].rsplit("/", 1)[0]
    assert vault.read_note(completed.artifacts["plan"]).wikilinks == [
        f"{folder}/research",  # two research notes now: by path
        "implementation",
    ]
    # A second completed run makes "plan" ambiguous: the first run's links become paths.
    again = runner.resume(
        runner.start("rpi", space.space_id, QUERY).thread_id, {"action": "approve"}
    )
    assert again.status == "completed", again.error
    assert _broken(manager, space.space_id) == []
    linked = otools.Vault(vault.root).connect()
    for run in (completed, again):
        folder = run.artifacts["plan"].rsplit("/", 1)[0]
        for kind in ("research", "plan", "implementation"):
            targets = [
                linked.md_file_index[link].as_posix()
                for link in vault.read_note(run.artifacts[kind]).wikilinks
                if link not in ("Raft", "Ledger")
            ]
            assert targets and all(t.startswith(folder + "/") for t in targets), (kind, targets)
