"""Starting ``spaces`` loads no model or graph library: a command that runs nothing stays quick.

Every command module is imported for the command table, so one module-level
import of LangGraph, langchain or pandas anywhere under ``app/cli`` or
``app/operations`` would load it for ``spaces --help`` and ``spaces down``
too (a review found 0.4 s grown to 2.2 s that way). The libraries are
imported where a run, a model or a table is used.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.settings import ROOT

HEAVY = ("langgraph", "langchain_core", "pandas", "openai", "numpy")


def test_importing_the_cli_loads_no_graph_model_or_table_library() -> None:
    code = (
        "import json, sys\n"
        "import app.cli\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
