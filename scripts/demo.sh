#!/usr/bin/env bash
# The main job until the Research-Plan-Implement graph lands: create a demo
# space on the embedded services, put a note, a memory and graph facts in it,
# and show where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
if ! $BIN/spaces show demo >/dev/null 2>&1; then
  $BIN/spaces create demo --name "Demo space" --owner demo \
    --description "Created by make demo" --token-budget 200000
fi
$BIN/python - <<'PY'
from app.settings import Settings
from app.spaces.space_manager import SpaceManager

with SpaceManager(Settings.from_env()) as manager:
    space = manager.open_space("demo", write=True)
    space.vault.write_note(
        "Learning/Raft.md",
        "# Raft\n\nRaft elects a leader and replicates a log; see [[Ledger]].",
        {"space": "demo", "tags": ["consensus"]},
    )
    space.vault.write_note("Learning/Ledger.md", "# Ledger\n\nBlocks are final once committed.")
    with space.memory() as memory:
        if not memory.search("how are blocks finalised", limit=1):
            memory.add("The ledger finalises a block once a Raft majority commits it.")
        hit = memory.search("how are blocks finalised", limit=1)[0]
        print(f"memory search: {hit.text!r} (score {hit.score:.2f})")
    space.graph.merge_relation("Raft", "finalises blocks of", "Ledger")
    print("graph:", space.graph.relations())
    print("notes:", space.vault.list_notes())
    print("backlinks of Ledger:", space.vault.backlinks("Ledger"))
    print(f"open this folder as a vault in Obsidian: {space.vault.root}")
PY
$BIN/spaces show demo
$BIN/spaces usage demo
