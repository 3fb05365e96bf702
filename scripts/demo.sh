#!/usr/bin/env bash
# The main job: a demo space with a few notes, a memory and graph facts, then a
# Research-Plan-Implement run on it with the offline model, approved; it prints
# the three notes the run wrote (path and text) and where to open the vault in
# Obsidian. BIN may name another venv's bin folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
# Where the state lives (said once, when this makes the folder), then the space.
$BIN/python -c 'from app.settings import Settings, ensure_home; ensure_home(Settings.from_env())'
if ! $BIN/spaces show demo >/dev/null 2>&1; then
  $BIN/spaces create demo --name "Demo space" --owner demo \
    --description "Created by make demo" --token-budget 200000 --model offline
fi
$BIN/python - <<'PY'
from app.settings import Settings
from app.spaces.space_manager import SpaceManager

with SpaceManager(Settings.from_env()) as manager:
    space = manager.open_space("demo", write=True)
    space.vault.write_note(
        "Learning/Raft.md",
        "# Raft\n\nRaft elects a leader and replicates a log to its followers. "
        "An entry is committed once a majority of the cluster has stored it; see [[Ledger]].",
        {"space": "demo", "tags": ["consensus"]},
    )
    space.vault.write_note(
        "Learning/Ledger.md",
        "# Ledger\n\nThe ledger appends blocks. A block is final once the Raft log commits it, "
        "so a committed block is never rolled back.",
        {"space": "demo", "tags": ["ledger"]},
    )
    with space.memory() as memory:
        memory.add(
            "The team chose Raft over Paxos because Raft is easier to explain and test.",
            key="demo:raft-choice",
        )
    space.graph.merge_relation("Raft", "FINALISES", "Ledger")
PY
result="$(mktemp)"
trap 'rm -f "$result"' EXIT
# Progress goes to stderr as the run works; the result document to the file.
if ! $BIN/spaces run demo "How does Raft make ledger blocks final?" --approve --json >"$result"; then
  cat "$result"
  exit 1
fi
$BIN/python - "$result" <<'PY'
import json
import sys

from app.settings import Settings
from app.text import printable

doc = json.loads(open(sys.argv[1], encoding="utf-8").read())
print(f"\n{doc['status']}: thread {doc['thread_id']}")
vault = Settings.from_env().vaults_dir / "demo"
for kind, rel in doc["artifacts"].items():
    if rel:
        note = vault / rel
        print(f"\n===== the {kind} note: {note} =====\n")
        print(printable(note.read_text(encoding="utf-8"), keep_newlines=True).rstrip())
print(f"\nOpen this folder as a vault in Obsidian: {vault}")
PY
$BIN/spaces usage demo
echo
echo "Web console at http://127.0.0.1:2024/ui/: start the server, then ask for a sign-in link:"
echo "  export SPACES_JWT_SECRET=\$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
echo "  $BIN/langgraph dev --no-browser --no-reload &"
echo "  $BIN/spaces ui --user demo   # a one-time link, valid for two minutes"
