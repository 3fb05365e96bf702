"""``spaces run``, ``spaces resume`` and ``spaces research``: graph runs from the shell.

Progress goes to stderr while the run works; stdout gets the result (one JSON
document with ``--json``). In a terminal with no flag, ``run`` shows the plan
and asks; without a terminal it stops at the approval and prints
``{"status": "awaiting_approval", "thread_id", "plan"}`` for a later
``spaces resume``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import BudgetExceeded, InvalidInput, SpacesError
from app.settings import Settings

if TYPE_CHECKING:  # the runner pulls in LangGraph: imported only when a run starts
    from app.runner import Runner, RunResult

SPEC_MAX_BYTES = 100_000


def add_run_commands(sub: Any) -> None:
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
    s.add_argument("thread_id")
    s.add_argument("--user", help="the run's user (default: whoever started it)")
    answer = s.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true")
    answer.add_argument("--reject", action="store_true")
    answer.add_argument("--revise", metavar="FEEDBACK", help="re-plan with this feedback")
    answer.add_argument("--edit", metavar="PLAN.json", help="replace the plan with this one")
    s.add_argument("--feedback", help="why, with --reject")
    s.add_argument("--json", action="store_true")

    q = sub.add_parser("research", help="research a question in a space and write a cited note")
    q.add_argument("space_id")
    q.add_argument("query")
    q.add_argument("--user", help="run as this user (default: the space's owner)")
    q.add_argument("--model")
    q.add_argument("--context-spec", metavar="FILE.json")
    q.add_argument("--json", action="store_true")


def _progress(event: dict[str, Any]) -> None:
    payload = event.get("payload") or {}
    detail = " ".join(f"{k}={v}" for k, v in payload.items() if k != "citation")
    if event.get("event_type") == "finding":
        detail = f"{payload.get('agent')}: {(payload.get('citation') or {}).get('label')}"
    print(f"  … {event.get('event_type')} {detail}".rstrip(), file=sys.stderr, flush=True)


def _read_json(path: str, what: str) -> Any:
    file = Path(path)
    try:
        if file.stat().st_size > SPEC_MAX_BYTES:
            raise InvalidInput(f"{what} {path!r} is larger than {SPEC_MAX_BYTES} bytes")
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path!r}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} {path!r} is not valid JSON: {exc}") from None


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
                return json.loads(Path(f.name).read_text())
            except ValueError as exc:
                print(f"not valid JSON ({exc}); edit again", file=sys.stderr)
    finally:
        Path(f.name).unlink(missing_ok=True)


def _show_request(result: RunResult) -> None:
    request = result.request or {}
    if request.get("error"):
        print(f"! {request['error']}", file=sys.stderr)
    if request.get("type") == "tool_approval":
        print(f"\nThe run wants to call {request['tool']} with {json.dumps(request['args'])}")
        return
    plan = result.plan or {}
    print(f"\nPlan: {plan.get('title')}")
    for step in plan.get("steps", []):
        after = f" (after {', '.join(step['depends_on'])})" if step["depends_on"] else ""
        print(f"  {step['id']}: {step['description']}{after}")
    for repair in request.get("repairs") or []:
        print(f"  repaired: {repair}")
    print(
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


def _drive(runner: Runner, result: RunResult, preset: dict[str, Any] | None) -> RunResult:
    """Answer approvals until the run ends or needs someone who is not here."""
    while result.status == "awaiting_approval":
        request = result.request or {}
        if preset is not None and request.get("type") == "plan_approval":
            answer, preset = preset, None  # a flag answers the plan once
        elif sys.stdin.isatty() and sys.stdout.isatty():
            answer = _interactive_answer(result)
        else:
            break
        result = runner.resume(result.thread_id, answer, on_event=_progress)
    return result


def _report(args: argparse.Namespace, result: RunResult, settings: Settings) -> int:
    doc = result.to_json()
    if args.json:
        print(json.dumps(doc, indent=2))
    elif result.status == "awaiting_approval":
        _show_request(result)
        print(f"\nwaiting for approval: spaces resume {result.thread_id} --approve | --reject")
    else:
        print(f"{result.status}: thread {result.thread_id}")
        vault = settings.vaults_dir / result.space_id
        for kind, path in doc.get("artifacts", {}).items():
            if path:
                print(f"  {kind}: {vault / path}")
        print(f"  tokens: {result.tokens_used:,}  cost: ${result.cost_usd:.4f}")
        for finding in result.findings or []:
            cited = (finding.get("citation") or {}).get("label") or "failed"
            text = finding.get("error") or " ".join(finding["text"].split())[:100]
            print(f"  - [{finding['agent']}] {cited}: {text}")
    if result.status in ("failed", "budget_exceeded", "interrupted"):
        print(
            f"spaces: run {result.status}: {result.error or 'see spaces resume'}", file=sys.stderr
        )
        return 2 if result.status == "budget_exceeded" or result.refused else 1
    return 0


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out ``run``, ``resume`` or ``research``; return the exit code."""
    from app.runner import Runner

    runner = Runner(settings)
    try:
        if args.command == "resume":
            answer: dict[str, Any] | None = None
            if args.approve:
                answer = {"action": "approve"}
            elif args.reject:
                answer = {"action": "reject", "feedback": args.feedback or ""}
            elif args.revise is not None:
                answer = {"action": "revise", "feedback": args.revise}
            elif args.edit:
                answer = {"action": "edit", "plan": _read_json(args.edit, "plan file")}
            result = runner.resume(args.thread_id, answer, user_id=args.user, on_event=_progress)
            result = _drive(runner, result, None)
            return _report(args, result, settings)
        spec = _read_json(args.context_spec, "context spec") if args.context_spec else None
        graph = "research" if args.command == "research" else "rpi"
        print(f"spaces: {graph} on {args.space_id} …", file=sys.stderr, flush=True)
        result = runner.start(
            graph,
            args.space_id,
            args.query,
            user_id=args.user,
            context_spec=spec,
            model=args.model,
            on_event=_progress,
        )
        preset = None
        if getattr(args, "approve", False):
            preset = {"action": "approve"}
        elif getattr(args, "reject", False):
            preset = {"action": "reject", "feedback": "rejected with --reject"}
        return _report(args, _drive(runner, result, preset), settings)
    except SpacesError as exc:
        if args.json:
            status = "budget_exceeded" if isinstance(exc, BudgetExceeded) else "failed"
            doc = {"status": status, "thread_id": None, "error": str(exc)}
            if hasattr(args, "space_id"):
                doc["space_id"] = args.space_id
            print(json.dumps(doc, indent=2))
        raise
