"""``spaces memory``, ``spaces recall`` and ``spaces reindex`` through the real CLI."""

from __future__ import annotations

import json

from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from tests.support.cli import run_cli


def _ok(settings, *args: str) -> object:
    done = run_cli(settings, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_memory_commands_round_trip(settings, manager: SpaceManager, new_id, tmp_path) -> None:
    sid = manager.create_space(SpaceConfig(new_id("cm"), "CLI memory", "alice")).space_id
    added = _ok(settings, "memory", "add", sid, "Pump P7 runs at 42 bar", "--metadata", '{"a": 1}')
    lines = [json.dumps({"text": f"imported fact {n} about valves"}) for n in range(30)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert _ok(settings, "memory", "import", sid, str(source)) == {
        "lines": 30,
        "added": 30,
        "skipped": 0,
    }
    assert _ok(settings, "memory", "stats", sid)["count"] == 31
    assert len(_ok(settings, "memory", "list", sid, "--limit", "25")) == 25
    hits = _ok(settings, "memory", "search", sid, "pump pressure", "--k", "1")
    assert hits[0]["id"] == added["id"] and hits[0]["metadata"]["a"] == 1
    out = tmp_path / "out.jsonl"
    _ok(settings, "memory", "export", sid, "--out", str(out))
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(exported) == 31 and {"id", "text", "metadata"} <= set(exported[0])
    # Re-importing an export adds nothing: ids are kept.
    assert _ok(settings, "memory", "import", sid, str(out))["added"] == 0
    assert _ok(settings, "memory", "delete", sid, added["id"]) == {"deleted": added["id"]}
    assert _ok(settings, "memory", "prune", sid, "--before", "2000-01-01")["deleted"] == 0
    assert _ok(settings, "memory", "prune", sid, "--before", "2999-01-01")["deleted"] == 30
    assert _ok(settings, "memory", "stats", sid)["count"] == 0


def test_bad_input_is_one_line_and_changes_nothing(settings, manager, new_id, tmp_path) -> None:
    sid = manager.create_space(SpaceConfig(new_id("cb"), "CLI bad", "alice")).space_id
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": "wrong key"}\n')
    for args in (
        ("memory", "import", sid, str(bad)),
        ("memory", "import", sid, str(tmp_path / "missing.jsonl")),
        ("memory", "add", sid, "x", "--metadata", "[1]"),
        ("memory", "delete", sid, "not-a-uuid"),
        ("memory", "prune", sid, "--before", "last tuesday"),
        ("memory", "search", sid, "   "),
        ("recall", sid, "q", "--sources", "memory,web"),
        ("recall", sid, "q", "--k", "0"),
        ("memory", "stats", "no_such_space"),
        ("memory", "stats", "../etc"),
    ):
        done = run_cli(settings, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, args
    assert _ok(settings, "memory", "stats", sid)["count"] == 0


def test_cli_never_crosses_spaces(settings, manager: SpaceManager, new_id) -> None:
    a = manager.create_space(SpaceConfig(new_id("ca"), "A", "alice")).space_id
    b = manager.create_space(SpaceConfig(new_id("cb"), "B", "bob")).space_id
    secret = _ok(settings, "memory", "add", a, "zebra-quartz payroll of project Aurora")["id"]
    manager.open_space(a).vault.write_note("Projects/secret.md", "zebra-quartz payroll")
    assert _ok(settings, "recall", b, "zebra quartz payroll Aurora", "--k", "20") == []
    assert _ok(settings, "memory", "search", b, "zebra quartz payroll", "--k", "20") == []
    assert _ok(settings, "memory", "list", b) == []
    # Deleting A's memory through B finds nothing and leaves it alone.
    done = run_cli(settings, "memory", "delete", b, secret)
    assert done.returncode == 2
    assert _ok(settings, "memory", "stats", a)["count"] == 1
    hits = _ok(settings, "recall", a, "zebra quartz payroll", "--k", "5")
    assert {h["citation"]["kind"] for h in hits} >= {"memory", "vault"}
    assert _ok(settings, "reindex", a)["changed"] == 0  # recall already refreshed it


def test_archived_space_refuses_memory_writes(settings, manager: SpaceManager, new_id) -> None:
    sid = manager.create_space(SpaceConfig(new_id("cz"), "Z", "alice")).space_id
    manager.archive_space(sid)
    done = run_cli(settings, "memory", "add", sid, "x")
    assert done.returncode == 2 and "archived" in done.stderr
    assert _ok(settings, "memory", "stats", sid)["count"] == 0
