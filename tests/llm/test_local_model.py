"""End to end with a real model: SmolLM2-135M on llama.cpp's llama-server (slow).

Builds the server on first use (``make local-model``; about 5 minutes on 2
cores, cached under the project's ``SPACES_HOME``), serves it on loopback
for this test only, and runs the 10 fixed queries of
``bench/real_model_bench.py`` (alternating ``rpi`` and ``research``) over a
small space. At least 9 must complete with valid plans and no unknown
citation left unmarked.
"""

from __future__ import annotations

import pytest

from app.settings import Settings
from bench.real_model_bench import QUERIES, install_model, local_model, report, run_all
from tests.support.settings import ROOT


@pytest.mark.slow
def test_rpi_and_research_complete_with_the_local_model(settings, manager, new_id) -> None:
    install_model(settings, Settings.from_env(cwd=ROOT))
    with local_model(settings) as (wired, proxy):
        stats = run_all(wired, new_id("plant"), proxy)
    assert len(stats) == len(QUERIES) == 10
    assert {s.graph for s in stats} == {"rpi", "research"}
    assert sum(s.complete for s in stats) >= 9, report(stats)
