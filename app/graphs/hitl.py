"""Approvals in the standard human-in-the-loop schema, and answers in both forms.

Stock UIs (agent-chat-ui since its interrupt schema 1.0, Agent Inbox,
deep-agents-ui) render an interrupt whose value is a ``HITLRequest``:
``{action_requests: [{name, args, description}], review_configs:
[{action_name, allowed_decisions}]}``, and resume it with ``{decisions:
[{type: "approve"} | {type: "reject", message} | {type: "edit",
edited_action: {name, args}}]}``. Every approval here (``rpi``'s plan,
``chat``'s task plan, a tool call in either) is emitted so, with the
project's own fields beside it (``type``, ``plan``, ``repairs``,
``expires_at``, estimates), and is answered either way: ``read_answer``
turns a ``decisions`` payload into the project's ``{action, feedback,
edited}`` form, which the nodes already judge. Each interrupt carries one
action request, so parallel tool approvals stay answerable one by one, by
interrupt id.
"""

from __future__ import annotations

from typing import Any

DECISIONS = ["approve", "edit", "reject"]
MESSAGE_MAX = 2_000


def hitl_request(
    name: str,
    args: dict[str, Any],
    description: str,
    extras: dict[str, Any],
    *,
    allowed: list[str] | None = None,
) -> dict[str, Any]:
    """An interrupt value in the standard schema, the project's fields kept beside it."""
    return {
        **extras,
        "action_requests": [{"name": name, "args": args, "description": description}],
        "review_configs": [{"action_name": name, "allowed_decisions": allowed or DECISIONS}],
    }


def read_answer(answer: Any) -> dict[str, Any]:
    """The answer in the project's form: ``{action, feedback?, edited?}``.

    ``{decisions: [...]}`` (the standard form) maps its first decision:
    ``approve``; ``reject`` with its ``message`` as the feedback; ``edit``
    with ``edited_action`` as ``edited`` (``{name, args}``). Anything else
    is returned as it came (today's ``{action: ...}``), and an unreadable
    decision becomes an unknown action, which the nodes ask again about.
    """
    if not isinstance(answer, dict) or "decisions" not in answer:
        return answer if isinstance(answer, dict) else {}
    decisions = answer.get("decisions")
    if not isinstance(decisions, list) or len(decisions) != 1 or not isinstance(decisions[0], dict):
        return {"action": "one decision, please"}
    decision = decisions[0]
    kind = decision.get("type")
    if kind == "approve":
        return {"action": "approve"}
    if kind == "reject":
        message = decision.get("message")
        return {"action": "reject", "feedback": str(message)[:MESSAGE_MAX] if message else None}
    if kind == "edit":
        edited = decision.get("edited_action")
        if not isinstance(edited, dict) or not isinstance(edited.get("args"), dict):
            return {"action": "edit without edited_action.args"}
        return {"action": "edit", "edited": {"name": edited.get("name"), "args": edited["args"]}}
    return {"action": str(kind)[:40]}


def tool_request(tool: str, args: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """A tool call's approval: the call itself is the action request."""
    return hitl_request(tool, args, f"Run {tool} with these arguments?", extras)


def edited_args(tool: str, args: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | str:
    """The arguments a tool call runs with after ``answer``, or the line to ask again with.

    Approved: its own; edited (``{decisions: [{type: "edit", ...}]}`` or
    ``{action: "edit", args}``): the edited ones, for the same tool only;
    rejected: ``"rejected"``; anything else: the unknown action's error.
    """
    action = answer.get("action")
    if action == "approve":
        return args
    if action == "edit":
        edited = answer.get("edited") or {"name": tool, "args": answer.get("args")}
        if edited.get("name") not in (None, tool):
            return f"an edit may change the arguments of {tool!r}, not the tool"
        if not isinstance(edited.get("args"), dict):
            return "edit needs the tool call's args"
        return edited["args"]
    if action == "reject":
        return "rejected"
    return f"unknown action {str(action)[:40]!r}: approve, edit or reject"


def plan_description(query: str, extras: dict[str, Any]) -> str:
    """What a person reads above the plan: the question, the steps, estimates, repairs, deadline."""
    plan = extras.get("plan") or {}
    steps = plan.get("steps") if isinstance(plan, dict) else plan
    lines = [f"Plan for: {query}"[:300]]
    for step in steps or []:
        who = f" (@{step['agent']})" if step.get("agent") else ""
        lines.append(f"- {step.get('id')}{who}: {str(step.get('description'))[:200]}")
    if "estimated_tokens" in extras:
        cost = extras.get("estimated_cost_usd", 0)
        lines.append(f"Estimate: {extras['estimated_tokens']} tokens, ${cost}")
    for repair in extras.get("repairs") or []:
        lines.append(f"Repaired: {repair}")
    if extras.get("expires_at"):
        lines.append(f"Answer before {extras['expires_at']}")
    if extras.get("error"):
        lines.append(f"Error: {extras['error']}")
    return "\n".join(lines)
