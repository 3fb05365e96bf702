"""A real local model: how many runs complete, how many re-asks and repairs, our own time.

SmolLM2-135M-Instruct served by llama.cpp's ``llama-server`` (``make
local-model``; ``app.llm.local``) answers 10 fixed queries over a small
space built for them, alternating ``rpi`` (research, plan, approve,
implement with every tool call refused, save) and ``research``. A run
counts as complete when it ends ``completed``, its plan (for ``rpi``)
passes ``validate_plan``, and its notes cite no unknown source without
marking it ``[n?]``. A loopback proxy in front of the server times every
model call, so "our time" is each run's wall time minus the time spent
waiting for the model (the union of the calls' intervals).

Run: ``PYTHONPATH=. .venv/bin/python bench/real_model_bench.py`` (builds
the server on first use, about 5 minutes on 2 cores). The slow test
``tests/llm/test_local_model.py`` asserts on the same harness.

``--heldout [tuning|heldout]`` runs instead the fixed set of
``bench/data/heldout/`` (36 queries over 3 spaces, issue 21), all as
``rpi``, and prints the figures per part: ``tuning`` is the part prompts
may be adjusted on, ``heldout`` is never tuned on. Each run also says how
many plan repairs replaced the plan by a minimal one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from app.errors import InvalidInput, SpacesError
from app.graphs.citations import check_citations
from app.graphs.rpi.planning import validate_plan
from app.llm import local
from app.runner import Runner
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager

NOTES = {
    "Plant/pump-p7.md": "Pump P7 feeds the cooling loop. P7 operates at 42 bar. "
    "Its seals are replaced every 6 months by the maintenance team.",
    "Plant/pump-p9.md": "Pump P9 is the spare for P7. P9 operates at 38 bar and is tested "
    "every Monday.",
    "Plant/valve-v3.md": "Valve V3 isolates the cooling loop. V3 must be closed before any "
    "work on pump P7.",
    "Plant/boiler-b1.md": "Boiler B1 produces steam at 180 degrees Celsius. B1 is inspected "
    "once a year by the Lakeside inspection office.",
    "Plant/safety.md": "Hearing protection is required in the pump hall. The pump hall "
    "alarm is tested on the first day of each month.",
    "People/maria.md": "Maria Chen leads the maintenance team and approves every seal "
    "replacement on P7 and P9.",
}
QUERIES = (
    "At what pressure does pump P7 operate?",
    "Which pump is the spare for P7?",
    "What must be done before work on pump P7?",
    "How often are the seals of P7 replaced?",
    "At what temperature does boiler B1 produce steam?",
    "Who inspects boiler B1?",
    "When is the pump hall alarm tested?",
    "Who approves seal replacements?",
    "What protection is required in the pump hall?",
    "How often is pump P9 tested?",
)
SPEC = {"vault": {"top_k": 3}}
HELDOUT = Path(__file__).resolve().parent / "data" / "heldout"


@dataclasses.dataclass
class RunStats:
    """One run: what it was, how it ended and what it cost us."""

    graph: str
    query: str
    status: str
    complete: bool
    reasks: int
    repairs: int
    wall_s: float
    model_s: float
    problem: str = ""
    part: str = ""
    minimal: bool = False  # the plan was replaced by a minimal one

    @property
    def own_s(self) -> float:
        """Time spent in our code, not waiting for the model."""
        return max(0.0, self.wall_s - self.model_s)


class TimingProxy:
    """A loopback proxy to the model server that adds up the time its calls take."""

    def __init__(self, upstream: str):
        self.calls: list[list[float]] = []  # [start, end] of every call; end inf while open
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # /props: the server's context size
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if self.command == "POST" else None
                request = urllib.request.Request(
                    upstream + self.path.removeprefix("/v1"),
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                call = [time.perf_counter(), float("inf")]
                outer.calls.append(call)
                try:
                    with urllib.request.urlopen(request, timeout=600) as reply:
                        status, data = reply.status, reply.read()
                except urllib.error.HTTPError as exc:
                    status, data = exc.code, exc.read()
                call[1] = time.perf_counter()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def model_s(self, since: float, until: float) -> float:
        """Time in ``[since, until]`` when at least one call was waiting for the model.

        Calls overlap (sub-agents in parallel; a client that timed out and
        retried while the server still worked on the first request), so
        this is the length of their union, not their sum.
        """
        spans = sorted((max(a, since), min(b, until)) for a, b in self.calls if b > since)
        total, reach = 0.0, since
        for start, end in spans:
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()


def install_model(settings: Settings, cache: Settings) -> None:
    """Build/fetch into ``cache``'s home (once), then link both files into ``settings``' home."""
    for made, target in (
        (local.build_server(cache), local.server_binary(settings)),
        (local.fetch_model(cache), local.model_file(settings)),
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            try:
                os.link(made, target)
            except OSError:
                shutil.copy2(made, target)


@contextmanager
def local_model(settings: Settings) -> Iterator[tuple[Settings, TimingProxy]]:
    """Serve the local model for ``settings``' home; settings that call it through a proxy."""
    state = local.serve(settings)
    proxy = TimingProxy(local.model_env(state)["OPENAI_BASE_URL"].removesuffix("/v1"))
    try:
        yield (
            dataclasses.replace(settings, model=local.MODEL_SPEC, openai_base_url=proxy.base_url),
            proxy,
        )
    finally:
        proxy.close()
        local.stop(settings)


def build_space(manager: SpaceManager, space_id: str) -> None:
    """The small plant space the queries are about."""
    manager.create_space(SpaceConfig(space_id, "Plant", "bench", monthly_token_budget=10**9))
    vault = manager.open_space(space_id, write=True).vault
    for path, text in NOTES.items():
        vault.write_note(path, text)


def _listed(note: str) -> list[dict]:
    """The sources a research note lists (``[n] ...`` lines under its last "## Sources").

    The last: a small model sometimes writes a "## Sources" heading of its own.
    """
    # Not line by line: obsidiantools' note text joins the list's lines into one
    # (Markdown soft breaks), which once made a listed [2] look unknown.
    section = note.rpartition("## Sources")[2]
    return [{"n": int(n), "text": ""} for n in re.findall(r"(?:^|\s)\[(\d{1,4})\](?=\s)", section)]


def run_one(
    runner: Runner, proxy: TimingProxy, space_id: str, graph: str, query: str, part: str = ""
) -> RunStats:
    """One run to its end (approving the plan), with its checks."""
    events: list[dict] = []
    started = time.perf_counter()
    repairs, problem, status, minimal = 0, "", "failed", False
    try:
        result = runner.start(graph, space_id, query, context_spec=SPEC, on_event=events.append)
        while result.status == "awaiting_approval":
            answer = {"action": "approve"}
            if result.request.get("type") == "tool_approval":
                answer = {"action": "reject"}  # no network: the model carries on without it
            else:
                repairs += len(result.request.get("repairs") or [])
                minimal = minimal or any(
                    "minimal plan" in r for r in result.request.get("repairs") or []
                )
                try:
                    validate_plan(result.plan)
                except InvalidInput as exc:
                    problem = f"invalid plan: {exc}"
            result = runner.resume(result.thread_id, answer, on_event=events.append)
        status = result.status
    except SpacesError as exc:  # a model failure stops the run (it could be resumed)
        problem = str(exc)
    ended = time.perf_counter()
    wall, model = ended - started, proxy.model_s(started, ended)
    if status != "completed":
        problem = problem or f"{status}: {result.error}"
    else:
        vault = SpaceManager(runner.settings, runner.backends).open_space(space_id).vault
        research = vault.read_note(result.artifacts["research"]).text
        bodies = {"research": research.rpartition("## Sources")[0]}
        if result.artifacts.get("implementation"):
            bodies["implementation"] = vault.read_note(result.artifacts["implementation"]).text
        for kind, body in bodies.items():
            # Any [n] naming no listed source must have been marked [n?].
            if unmarked := check_citations(body, _listed(research)).unverified_citations:
                problem = problem or f"{unmarked} unmarked unknown citations in {kind}"
    reasks = sum(1 for e in events if e.get("event_type") == "model.reasked")
    repairs += sum(
        len(e["payload"].get("repairs") or [])
        for e in events
        if e.get("event_type") == "facts.repaired"
    )
    stats = RunStats(
        graph, query, status, not problem, reasks, repairs, wall, model, problem, part, minimal
    )
    print(report_line(stats), flush=True)
    return stats


def run_all(settings: Settings, space_id: str, proxy: TimingProxy) -> list[RunStats]:
    """The 10 queries, alternating ``rpi`` and ``research``, in order."""
    runner = Runner(settings)
    try:
        with SpaceManager(settings, runner.backends) as manager:
            build_space(manager, space_id)
        return [
            run_one(runner, proxy, space_id, "rpi" if n % 2 == 0 else "research", query)
            for n, query in enumerate(QUERIES)
        ]
    finally:
        runner.close()


def heldout_set(
    part: str | None = None, space: str | None = None
) -> tuple[dict[str, dict[str, str]], list[dict]]:
    """The fixed spaces (name -> notes) and queries of ``bench/data/heldout`` (a part, a space)."""
    spaces = json.loads((HELDOUT / "spaces.json").read_text())
    queries = json.loads((HELDOUT / "queries.json").read_text())
    chosen = [q for q in queries if part in (None, q["part"]) and space in (None, q["space"])]
    return spaces, chosen


def run_heldout(
    settings: Settings,
    proxy: TimingProxy,
    part: str | None = None,
    prefix: str = "ho",
    space: str | None = None,
) -> list[RunStats]:
    """Every query of the set (or of one part, one space) as an ``rpi`` run in its own space."""
    spaces, queries = heldout_set(part, space)
    runner = Runner(settings)
    try:
        with SpaceManager(settings, runner.backends) as manager:
            for name, notes in spaces.items():
                manager.create_space(
                    SpaceConfig(f"{prefix}_{name}", name, "bench", monthly_token_budget=10**9)
                )
                vault = manager.open_space(f"{prefix}_{name}", write=True).vault
                for path, text in notes.items():
                    vault.write_note(path, text)
        return [
            run_one(runner, proxy, f"{prefix}_{q['space']}", "rpi", q["query"], q["part"])
            for q in queries
        ]
    finally:
        runner.close()


def report_parts(stats: list[RunStats]) -> str:
    """The figures of each part, then every failure with its cause."""
    out = []
    for part in dict.fromkeys(s.part for s in stats):
        mine = [s for s in stats if s.part == part]
        minimal = sum(s.minimal for s in mine)
        out.append(f"== {part}: {len(mine)} runs, {minimal} with a minimal plan")
        out.append(report(mine))
    return "\n".join(out)


def report(stats: list[RunStats]) -> str:
    """The figures, one line each, then one line per run."""
    done = sum(s.complete for s in stats)
    lines = [
        f"completion rate: {done}/{len(stats)} ({100 * done / max(1, len(stats)):.0f}%)",
        f"re-asks per run: {statistics.mean(s.reasks for s in stats):.2f}",
        f"repairs per run: {statistics.mean(s.repairs for s in stats):.2f}",
        f"our own time per run: {statistics.mean(s.own_s for s in stats):.2f} s "
        f"(model time per run: {statistics.mean(s.model_s for s in stats):.2f} s)",
    ]
    return "\n".join(lines + [report_line(s) for s in stats])


def report_line(s: RunStats) -> str:
    """One run on one line."""
    mark = "ok " if s.complete else "NO "
    return (
        f"  {mark}{s.graph:<8} reasks={s.reasks} repairs={s.repairs}{'*' if s.minimal else ''} "
        f"own={s.own_s:.2f}s model={s.model_s:.1f}s {s.query} {s.problem[:200]}"
    )


def main(argv: list[str] | None = None) -> int:
    """Build/serve the local model in a throwaway home and print the figures.

    ``--heldout`` runs the held-out set (both parts), ``--heldout PART [SPACE]``
    one part (of one space: two servers can share the set out).
    """
    args = sys.argv[1:] if argv is None else argv
    heldout = bool(args) and args[0] == "--heldout"
    part = args[1] if heldout and len(args) > 1 else None
    space = args[2] if heldout and len(args) > 2 else None
    from app.services.falkordb import stop_graph_server
    from app.services.postgres import stop_postgres

    cache = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="real-model-bench-") as tmp:
        home = Path(tmp)
        settings = Settings.from_env(
            {"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "vaults")}
        )
        install_model(settings, cache)
        try:
            with local_model(settings) as (wired, proxy):
                if heldout:
                    print(report_parts(run_heldout(wired, proxy, part, space=space)))
                else:
                    print(report(run_all(wired, "plant_bench", proxy)))
        finally:
            stop_graph_server(settings)
            stop_postgres(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
