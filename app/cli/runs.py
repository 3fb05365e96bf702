"""``spaces run``, ``spaces resume`` and ``spaces research``: graph runs from the shell.

Progress goes to stderr while the run works, and its first line names the
thread, so a run killed at any point can be found and resumed; every error
line of a run names it too. stdout gets the result (one JSON document with
``--json``). In a terminal with no flag, ``run`` shows the plan and asks;
without a terminal it stops at the approval and prints
``{"status": "awaiting_approval", "thread_id", "plan"}`` for a later
``spaces resume``. Everything printed passes through ``printable``: a query
carrying escape sequences cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.output import Handler
from app.errors import BudgetExceeded, InvalidInput, SpaceNotFound, SpacesError
from app.failures import STORE_ERRORS, store_failure
from app.files import read_json_file
from app.ids import validate_space_id, validate_thread_id
from app.settings import Settings
from app.text import printable

if TYPE_CHECKING:  # the runner pulls in LangGraph: imported only when a run starts
    from app.runner import Runner, RunResult

SPEC_MAX_BYTES = 100_000


def add_commands(sub: Any) -> None:
    """Register the run commands on the CLI's subparsers."""
    r = sub.add_parser("run", help="research, plan (with your approval), implement, save")
    r.add_argument("space_id")
    r.add_argument("query")
    r.add_argument("--user", help="run as this user (default: the space's owner)")
    r.add_argument("--model", help="model for this run, e.g. offline or openai:gpt-4o-mini")
    r.add_argument("--context-spec", metavar="FILE.json", help="which sources research uses")
    decide = r.add_mutually_exclusive_group()
    decide.add_argument("--approve", action="store_true", help="approve the plan unseen")
    decide.add_argument("--reject", action="store_true", help="reject the plan unseen")
    r.add_argument("--json", action="store_true")

    s = sub.add_parser("resume", help="answer a run's pending approval, or continue a crashed run")
    s.add_argument("thread_id", nargs="?", help="the run's thread (see 'spaces runs')")
    s.add_argument(
        "--last",
        metavar="SPACE_ID",
        help="the space's most recent run you may resume: yours waiting or interrupted, "
        "or (operators, admins) anyone's waiting for an approval",
    )
    s.add_argument("--user", help="the run's user (default: whoever started it)")
    answer = s.add_mutually_exclusive_group()
    answer.add_argument(
        "--approve", action="store_true",
        help="approve the plan; an interrupted run continues and is approved at its plan",
    )  # fmt: skip
    answer.add_argument("--reject", action="store_true")
    answer.add_argument("--revise", metavar="FEEDBACK", help="re-plan with this feedback")
    answer.add_argument("--edit", metavar="PLAN.json", help="replace the plan with this one")
    s.add_argument("--feedback", help="why, with --reject")
    s.add_argument("--json", action="store_true")

    ls = sub.add_parser("runs", help="a space's runs: status, thread id, start time, query")
    ls.add_argument("space_id")
    ls.add_argument("--status", help="only runs with this status, e.g. interrupted")
    ls.add_argument("--user", help="who is asking: any member sees every member's runs")
    ls.add_argument("--mine", action="store_true", help="only the runs --user started")
    ls.add_argument("--limit", type=int, default=50, help="at most this many, newest first")
    ls.add_argument("--json", action="store_true")

    q = sub.add_parser("research", help="research a question in a space and write a cited note")
    q.add_argument("space_id")
    q.add_argument("query")
    q.add_argument("--user", help="run as this user (default: the space's owner)")
    q.add_argument("--model")
    q.add_argument("--context-spec", metavar="FILE.json")
    q.add_argument("--json", action="store_true")


def _say(text: object) -> None:
    """Print to stdout, control characters escaped (newlines kept)."""
    print(printable(text, keep_newlines=True))


def _tell(text: object) -> None:
    """One line to stderr, control characters (and newlines) escaped.

    A closed stderr (``2>&1 | head``) loses the line but does not stop the run.
    """
    with suppress(BrokenPipeError):
        print(printable(text), file=sys.stderr, flush=True)


class Progress:
    """Prints a run's events to stderr as they come, each once.

    A node that stopped at an approval runs again from its start when the
    answer comes, so it sends its events (``approval.required``) again with
    the same idempotency key; a client drops those, and so does this one
    within one command (``spaces run --approve`` printed it twice).
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, event: dict[str, Any]) -> None:
        """Print one event, unless this command printed it already."""
        key = event.get("idempotency_key")
        if isinstance(key, str):
            if key in self.seen:
                return
            self.seen.add(key)
        payload = event.get("payload") or {}
        detail = " ".join(f"{k}={v}" for k, v in payload.items() if k != "citation")
        if event.get("event_type") == "finding":
            detail = f"{payload.get('agent')}: {(payload.get('citation') or {}).get('label')}"
        _tell(f"  … {event.get('event_type')} {detail}".rstrip())


def _ask(prompt: str, choices: str) -> str:
    while True:
        answer = input(prompt).strip().lower()[:1]
        if answer and answer in choices:
            return answer


def _edit_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Let the person edit the plan as JSON in ``$EDITOR``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f, indent=2)
    try:
        while True:
            subprocess.run([os.environ.get("EDITOR", "vi"), f.name], check=False)
            try:
                return read_json_file(f.name, limit=SPEC_MAX_BYTES, what="plan")
            except InvalidInput as exc:
                _tell(f"{exc}; edit again")
    finally:
        Path(f.name).unlink(missing_ok=True)


def _show_request(result: RunResult) -> None:
    request = result.request or {}
    if request.get("error"):
        _tell(f"! {request['error']}")
    if request.get("type") == "tool_approval":
        _say(f"\nThe run wants to call {request['tool']} with {json.dumps(request['args'])}")
        return
    plan = result.plan or {}
    _say(f"\nPlan: {printable(plan.get('title'))}")
    for step in plan.get("steps", []):
        after = f" (after {', '.join(step['depends_on'])})" if step["depends_on"] else ""
        _say(printable(f"  {step['id']}: {step['description']}{after}"))
    for repair in request.get("repairs") or []:
        _say(printable(f"  repaired: {repair}"))
    _say(
        f"Estimated: {request.get('estimated_tokens', 0):,} tokens, "
        f"${request.get('estimated_cost_usd', 0):.4f}"
    )


def _interactive_answer(result: RunResult) -> dict[str, Any]:
    _show_request(result)
    if (result.request or {}).get("type") == "tool_approval":
        return {"action": "approve" if _ask("Allow it? [y/n] ", "yn") == "y" else "reject"}
    choice = _ask("[a]pprove, [e]dit, [r]eject or re[v]ise? ", "aerv")
    if choice == "a":
        return {"action": "approve"}
    if choice == "e":
        return {"action": "edit", "plan": _edit_plan(result.plan or {})}
    if choice == "v":
        return {"action": "revise", "feedback": input("What should change? ")}
    return {"action": "reject", "feedback": input("Why (optional)? ")}


def _drive(
    runner: Runner,
    result: RunResult,
    preset: dict[str, Any] | None,
    progress: Progress,
    user: str | None = None,
) -> RunResult:
    """Answer approvals (as ``user``, default: the run's) until the run ends or needs someone
    who is not here."""
    while result.status == "awaiting_approval":
        request = result.request or {}
        if preset is not None and request.get("type") == "plan_approval":
            answer, preset = preset, None  # a flag answers the plan once
        elif sys.stdin.isatty() and sys.stdout.isatty():
            answer = _interactive_answer(result)
        else:
            break
        result = runner.resume(result.thread_id, answer, user_id=user, on_event=progress)
    return result


def _report(args: argparse.Namespace, result: RunResult, settings: Settings) -> int:
    doc = result.to_json()
    if args.json:
        print(json.dumps(doc, indent=2))
    elif result.status == "awaiting_approval":
        _show_request(result)
        _say(f"\nwaiting for approval: spaces resume {result.thread_id} --approve | --reject")
    else:
        _say(f"{result.status}: thread {result.thread_id}")
        vault = settings.vaults_dir / result.space_id
        for kind, path in doc.get("artifacts", {}).items():
            if path:
                _say(f"  {kind}: {vault / path}")
        _say(f"  tokens: {result.tokens_used:,}  cost: ${result.cost_usd:.4f}")
        for finding in result.findings or []:
            cited = (finding.get("citation") or {}).get("label") or "failed"
            text = finding.get("error") or " ".join(finding["text"].split())[:100]
            _say(printable(f"  - [{finding['agent']}] {cited}: {text}"))
    if result.status in ("failed", "budget_exceeded", "interrupted"):
        why = result.error or f"spaces resume {result.thread_id} continues it"
        _tell(f"spaces: run {result.status} (thread {result.thread_id}): {why}")
        return 2 if result.status == "budget_exceeded" or result.refused else 1
    return 0


def _answer(args: argparse.Namespace) -> dict[str, Any] | None:
    """The answer ``resume``'s flags give (``None``: continue, or show what waits)."""
    if args.approve:
        return {"action": "approve"}
    if args.reject:
        return {"action": "reject", "feedback": args.feedback or ""}
    if args.revise is not None:
        return {"action": "revise", "feedback": args.revise}
    if args.edit is not None:
        return {
            "action": "edit",
            "plan": read_json_file(args.edit, limit=SPEC_MAX_BYTES, what="plan file"),
        }
    return None


def _resume(args: argparse.Namespace, runner: Runner, progress: Progress) -> RunResult:
    """``spaces resume THREAD_ID`` or ``spaces resume --last SPACE_ID``."""
    if (args.thread_id is None) == (args.last is None):
        raise InvalidInput("give a thread id or --last SPACE_ID (see 'spaces runs SPACE_ID')")
    answer = _answer(args)
    user, thread_id = args.user, args.thread_id
    if thread_id is not None:
        validate_thread_id(thread_id)
    if args.last is not None:
        from app.runs import last_resumable

        found = last_resumable(runner, args.last, user_id=user)
        # An operator answering someone else's run answers as themself.
        user, thread_id = user if user is not None else found.user_id, found.thread_id
    _tell(f"spaces: resuming thread {thread_id} …")
    try:
        return runner.resume(thread_id, answer, user_id=user, on_event=progress)
    except SpacesError as exc:
        if exc.thread_id is None and not isinstance(exc, SpaceNotFound):
            exc.thread_id = thread_id  # the thread exists: the error names it
        raise


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out ``run``, ``resume`` or ``research``; return the exit code.

    An error that escapes a started run carries its thread id
    (``SpacesError.thread_id``): the error line names the thread and, with
    ``--json``, the document says ``interrupted`` with that id, because the
    run resumes from its last checkpoint.
    """
    try:
        try:
            return _run_or_resume(args, settings)
        except STORE_ERRORS as exc:  # a store died outside the graph: still one line
            raise store_failure(exc) from exc
    except SpacesError as exc:
        thread_id = exc.thread_id
        if args.json:
            status = "failed"
            if isinstance(exc, BudgetExceeded):
                status = "budget_exceeded"
            elif thread_id is not None and exc.exit_code == 1:
                status = "interrupted"  # a store or the model failed: the run resumes
            doc = {"status": status, "thread_id": thread_id, "error": str(exc)}
            if hasattr(args, "space_id"):
                doc["space_id"] = args.space_id
            print(json.dumps(doc, indent=2))
        raise


def _run_or_resume(args: argparse.Namespace, settings: Settings) -> int:
    """Start a run (or resume one) and report it; errors go up to ``run_command``."""
    from app.runner import Runner

    runner = Runner(settings)
    try:
        return _start_or_resume(args, runner, settings)
    finally:
        runner.backends.close()  # a command in-process (tests, notebooks) leaves no connection


def _start_or_resume(args: argparse.Namespace, runner: Runner, settings: Settings) -> int:
    """The body of ``run``, ``research`` and ``resume``, on one runner."""
    from app.graphs.admission import check_query

    progress = Progress()
    if args.command == "resume":
        result = _resume(args, runner, progress)
        return _report(args, _drive(runner, result, None, progress, args.user), settings)
    spec = (
        read_json_file(args.context_spec, limit=SPEC_MAX_BYTES, what="context spec")
        if args.context_spec is not None
        else None
    )
    graph = "research" if args.command == "research" else "rpi"
    validate_space_id(args.space_id)  # plain bad input: its one line, no progress line
    check_query(args.query)
    thread_id = str(uuid.uuid4())
    _tell(f"spaces: {graph} on {args.space_id}, thread {thread_id} …")
    result = runner.start(
        graph,
        args.space_id,
        args.query,
        user_id=args.user,
        context_spec=spec,
        model=args.model,
        on_event=progress,
        thread_id=thread_id,
    )
    preset = None
    if getattr(args, "approve", False):
        preset = {"action": "approve"}
    elif getattr(args, "reject", False):
        preset = {"action": "reject", "feedback": "rejected with --reject"}
    return _report(args, _drive(runner, result, preset, progress, args.user), settings)


def runs_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out ``spaces runs``: the space's runs, newest first."""
    from app.runner import Runner
    from app.runs import list_runs

    runner = Runner(settings)
    try:
        runs = list_runs(
            runner, args.space_id, user_id=args.user, status=args.status, limit=args.limit,
            mine=args.mine,
        )  # fmt: skip
    finally:
        runner.backends.close()
    if args.json:
        print(json.dumps([run.to_json() for run in runs], indent=2))
        return 0
    for run in runs:
        query = " ".join(run.query.split())
        query = query if len(query) <= 60 else query[:57] + "..."
        started = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
        _say(f"{run.thread_id}  {run.status:<17} {started}  {run.user_id:<16} {query}")
    if not runs:
        _say("no runs")
    return 0


COMMANDS: dict[str, Handler] = {
    "run": run_command, "resume": run_command, "research": run_command, "runs": runs_command,
}  # fmt: skip
