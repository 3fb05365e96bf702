"""Benchmark: how long ``spaces --help`` takes to start, against a bare Python start.

Every command module is imported for the CLI's command table, so what one
of them imports at module level is paid by every command, ``--help`` and
``spaces down`` included (issue 24's move once made it 2.2 s by loading
LangGraph, langchain and pandas; ``tests/cli/test_startup.py`` keeps them
out). Baseline, measured in the same run and interleaved: ``python -c
pass`` with the same interpreter. Prints p50 of each and the difference.

Usage: python bench/cli_start_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _seconds(argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Time ``python -m app.cli --help`` and ``python -c pass``, interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bare, cli = [], []
    for _ in range(args.runs):
        bare.append(_seconds([sys.executable, "-c", "pass"]))
        cli.append(_seconds([sys.executable, "-m", "app.cli", "--help"]))
    b, c = statistics.median(bare), statistics.median(cli)
    print(f"python -c pass    p50 {b * 1000:7.1f} ms")
    print(f"spaces --help     p50 {c * 1000:7.1f} ms  (+{(c - b) * 1000:.1f} ms, {c / b:.1f}x)")


if __name__ == "__main__":
    main()
