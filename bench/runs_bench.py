"""Benchmark: ``spaces runs`` (``app.runs.list_runs``) against the bare registry query.

Starts ``--runs`` rpi runs with the offline model (each stops at its plan
approval), then lists the space ``--repeat`` times. Listing reads each run's
last checkpoint (``get_state``) and ``pg_locks`` once, so its cost grows with
the number of runs; the baseline is the one registry query that finds the
threads. Prints p50/p95 of both and their ratio. Runs in a temporary
SPACES_HOME and stops its services at the end.

Usage: python bench/runs_bench.py [--runs 30] [--repeat 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from app.runner import Runner
from app.runs import list_runs
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from bench.spaces_bench import pct


def main() -> None:
    """Create the runs, time both listings, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="spaces-runs-bench-"))
    settings = Settings.from_env({"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "v")})
    try:
        with SpaceManager(settings) as manager:
            manager.create_space(SpaceConfig("bench", "Bench", "alice"))
        runner = Runner(settings)
        for n in range(args.runs):
            runner.start("rpi", "bench", f"Question number {n} about ledgers")
        listing, bare = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            runs = list_runs(runner, "bench", limit=1_000)
            listing.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with runner.backends.pool.connection() as conn:
                conn.execute(
                    "SELECT thread_id, graph, created_at FROM spaces_registry.threads "
                    "WHERE space_id = %s AND user_id = %s ORDER BY created_at DESC",
                    ["bench", "alice"],
                ).fetchall()
            bare.append(time.perf_counter() - t0)
        assert len(runs) == args.runs and {r.status for r in runs} == {"awaiting_approval"}
        print(
            f"list_runs, {args.runs} runs: p50 {pct(listing, 50):.1f} ms, "
            f"p95 {pct(listing, 95):.1f} ms ({pct(listing, 50) / args.runs:.2f} ms per run)"
        )
        print(f"registry query alone: p50 {pct(bare, 50):.2f} ms, p95 {pct(bare, 95):.2f} ms")
        print(f"ratio (p50): {pct(listing, 50) / pct(bare, 50):.0f}x")
    finally:
        stop_graph_server(settings)
        stop_postgres(settings)


if __name__ == "__main__":
    main()
