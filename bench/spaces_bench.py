"""Benchmark: create 50 spaces, then switch between them 10,000 times.

Prints p50/p95 for create and for switch. "Warm" switches reuse this
manager's pooled connection; "cold" switches each use a fresh manager and a
fresh connection to the already-running server (what a new CLI process or
notebook kernel pays). Targets from issue 2: warm p95 < 1 ms, cold p95 < 20 ms.
Baseline, measured in the same run: a bare ``psycopg.connect``, one query,
close (the floor any cold switch pays); the cold switch is printed as a
ratio to it, which moves less than the absolute figures on a busy machine.
Runs in a temporary SPACES_HOME and stops its services at the end.

Usage: python bench/spaces_bench.py [--spaces 50] [--switches 10000] [--cold 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from app.services.falkordb import stop_graph_server
from app.services.postgres import ensure_postgres, stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager


def pct(samples: list[float], q: float) -> float:
    """The q-th percentile of ``samples`` in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def report(label: str, samples: list[float], target_ms: float | None = None) -> None:
    """Print one line of p50/p95 (and the target, if any)."""
    p95 = pct(samples, 95)
    verdict = (
        ""
        if target_ms is None
        else f"  target p95 < {target_ms} ms: " + ("met" if p95 < target_ms else "MISSED")
    )
    print(
        f"{label:<28} n={len(samples):>6}  p50={pct(samples, 50):8.3f} ms  "
        f"p95={p95:8.3f} ms  mean={statistics.fmean(samples) * 1000:8.3f} ms{verdict}"
    )


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", type=int, default=50)
    parser.add_argument("--switches", type=int, default=10_000)
    parser.add_argument("--cold", type=int, default=200)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="spaces-bench-"))
    settings = Settings.from_env({"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "v")})
    try:
        with SpaceManager(settings) as manager:
            t0 = time.perf_counter()
            manager.list_spaces()
            manager.backends.graph()
            manager.backends.embedder()
            print(
                f"service start-up (postgres, falkordb, embedder): {time.perf_counter() - t0:.2f} s"
            )
            ids = [f"bench_{i:03d}" for i in range(args.spaces)]
            creates = []
            for sid in ids:
                t = time.perf_counter()
                manager.create_space(SpaceConfig(sid, f"Bench {sid}", "bench"))
                creates.append(time.perf_counter() - t)
            report("create (warm services)", creates)

            warm = []
            for i in range(args.switches):
                sid = ids[i % len(ids)]
                t = time.perf_counter()
                manager.switch_space(sid)
                warm.append(time.perf_counter() - t)
            report("switch, warm", warm, 1.0)

        cold = []
        for i in range(args.cold):
            t = time.perf_counter()
            with SpaceManager(settings) as fresh:
                fresh.switch_space(ids[i % len(ids)])
            cold.append(time.perf_counter() - t)
        report("switch, cold (new manager)", cold, 20.0)
        uri = ensure_postgres(settings)
        bare = []
        for _ in range(args.cold):
            t = time.perf_counter()
            with psycopg.connect(uri, autocommit=True) as conn:
                conn.execute("SELECT 1").fetchone()
            bare.append(time.perf_counter() - t)
        report("baseline: bare connect+query", bare)
        print(f"cold switch / baseline (p50): {pct(cold, 50) / pct(bare, 50):.1f}x   (load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    finally:
        stop_graph_server(settings)
        stop_postgres(settings)


if __name__ == "__main__":
    main()
