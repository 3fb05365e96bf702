#!/usr/bin/env bash
# The main job: a demo space with a few notes, a memory and graph facts, then a
# Research-Plan-Implement run on it with the offline model, approved, and
# where to open the vault in Obsidian.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
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
$BIN/spaces run demo "How does Raft make ledger blocks final?" --approve
echo
echo "Open this folder as a vault in Obsidian: $($BIN/python -c 'from app.settings import Settings; print(Settings.from_env().vaults_dir / "demo")')"
$BIN/spaces usage demo
echo
echo "Web console: start the server (.venv/bin/langgraph dev --no-browser --no-reload), then"
echo "  $BIN/spaces ui --user demo   # prints a one-time login link to http://127.0.0.1:2024/ui/"
