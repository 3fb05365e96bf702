"""A task plan as a graph: tasks in columns by dependency depth, arrows from what they need.

Laid out on the server as SVG geometry (the template draws ``<rect>``,
``<line>`` and ``<text>``), so the chat page shows the plan's shape and each
task's status without a graph library or a build step.
"""

from __future__ import annotations

from typing import Any

COL_W, ROW_H, NODE_W, NODE_H, PAD = 190, 64, 160, 44, 10


def _depths(tasks: list[dict[str, Any]]) -> dict[str, int]:
    needs = {str(t["id"]): [str(d) for d in t.get("depends_on") or []] for t in tasks}
    depth: dict[str, int] = {}

    def of(task_id: str, seen: frozenset[str] = frozenset()) -> int:
        if task_id in depth:
            return depth[task_id]
        if task_id in seen:  # a cycle (plans are checked, but never loop here)
            return 0
        parents = [p for p in needs.get(task_id, []) if p in needs]
        depth[task_id] = 1 + max((of(p, seen | {task_id}) for p in parents), default=-1)
        return depth[task_id]

    for task_id in needs:
        of(task_id)
    return depth


def layout(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """Nodes (x, y, id, agent, status) and edges (x1, y1, x2, y2) for the template."""
    depth = _depths(tasks)
    rows: dict[int, int] = {}
    nodes, where = [], {}
    for task in tasks:
        task_id = str(task["id"])
        col = depth.get(task_id, 0)
        row = rows.get(col, 0)
        rows[col] = row + 1
        x, y = PAD + col * COL_W, PAD + row * ROW_H
        where[task_id] = (x, y)
        nodes.append({
            "x": x, "y": y, "w": NODE_W, "h": NODE_H, "id": task_id,
            "agent": str(task.get("agent") or ""), "status": str(task.get("status") or "planned"),
        })  # fmt: skip
    edges = []
    for task in tasks:
        for need in task.get("depends_on") or []:
            if str(need) in where:
                (x1, y1), (x2, y2) = where[str(need)], where[str(task["id"])]
                edges.append(
                    {"x1": x1 + NODE_W, "y1": y1 + NODE_H / 2, "x2": x2, "y2": y2 + NODE_H / 2}
                )
    width = PAD * 2 + (max(depth.values(), default=0) + 1) * COL_W
    height = PAD * 2 + max(rows.values(), default=1) * ROW_H
    return {"nodes": nodes, "edges": edges, "width": width, "height": height}
