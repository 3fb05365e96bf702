"""Control characters in a query never reach the terminal raw nor a note; data-file errors."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.text import note_safe, printable
from tests.support.cli import run_cli
from tests.support.rpi import seed

HOSTILE_QUERY = "Why is a Raft ledger block final?\x1b[2J\x1b]0;owned\x07\u202e"
RAW = ("\x1b", "\x07", "\u202e")


def test_escape_sequences_in_a_query_are_escaped_on_screen_and_dropped_from_notes(
    settings, space, manager
) -> None:
    seed(manager, space.space_id)
    done = run_cli(settings, "run", space.space_id, HOSTILE_QUERY)  # stops at the approval
    assert done.returncode == 0, done.stderr
    for raw in RAW:
        assert raw not in done.stderr and raw not in done.stdout
    assert "final?\\x1b[2J\\x1b]0;owned\\x07\\u202e" in done.stderr  # shown, harmless
    vault = manager.open_space(space.space_id).vault
    notes = [p for p in vault.list_notes() if p.startswith("Projects/")]
    assert notes
    for note in notes:
        text = (vault.root / note).read_text(encoding="utf-8")
        assert "Why is a Raft ledger block final?" in text
        for raw in RAW:
            assert raw not in text


def test_printable_and_note_safe() -> None:
    assert printable("a\x1b[31mb\nc\td\x9b") == "a\\x1b[31mb\\x0ac\\x09d\\x9b"
    assert printable("a\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert note_safe("a\x1b[2Jb\nc\td\x00\u2066") == "a[2Jb\nc\td"
    assert printable("naïve ünïcode — fine") == "naïve ünïcode — fine"


def test_data_file_errors_do_not_say_note_path(manager, space) -> None:
    vault = manager.open_space(space.space_id).vault
    for bad in ("../secrets.csv", "/etc/passwd.csv", ".hidden/x.csv"):
        with pytest.raises(InvalidInput, match=r"^file path .* must stay inside") as info:
            vault.resolve(bad, (".csv", ".json"))
        assert "note" not in str(info.value)
    with pytest.raises(InvalidInput, match=r"^note path"):
        vault.resolve("../x.md")
