"""Tokens per day of a space, from its usage events, as bars for an inline SVG chart.

Drawn on the server (an SVG of ``<rect>`` elements with their size as
attributes), so the page needs no chart library and no inline style.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from psycopg import sql

from app.spaces.infra.migrations import REGISTRY_SCHEMA

DAYS = 30
WIDTH, HEIGHT = 600, 120


def tokens_per_day(pool: Any, space_id: str, today: date | None = None) -> list[tuple[date, int]]:
    """Tokens charged on each of the last ``DAYS`` days (zero where nothing ran)."""
    end = today or date.today()
    start = end - timedelta(days=DAYS - 1)
    with pool.connection() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT created_at::date, sum(tokens) FROM {}.space_usage_events "
                "WHERE space_id = %s AND created_at >= %s GROUP BY 1"
            ).format(sql.Identifier(REGISTRY_SCHEMA)),
            [space_id, start],
        ).fetchall()
    found = {day: int(total) for day, total in rows}
    return [
        (start + timedelta(days=n), found.get(start + timedelta(days=n), 0)) for n in range(DAYS)
    ]


def bars(days: list[tuple[date, int]]) -> dict[str, Any]:
    """Bar geometry for the chart template: x, y, width, height and a title per day."""
    top = max((t for _, t in days), default=0) or 1
    step = WIDTH / max(1, len(days))
    shapes = []
    for n, (day, tokens) in enumerate(days):
        height = round((HEIGHT - 14) * tokens / top, 1) or 0
        shapes.append({
            "x": round(n * step + 1, 1), "y": round(HEIGHT - 14 - height, 1),
            "w": round(step - 2, 1), "h": height, "title": f"{day.isoformat()}: {tokens:,} tokens",
        })  # fmt: skip
    total = sum(t for _, t in days)
    first, last = (days[0][0].isoformat(), days[-1][0].isoformat()) if days else ("", "")
    return {
        "bars": shapes, "width": WIDTH, "height": HEIGHT, "top": top, "total": total,
        "first": first, "last": last,
    }  # fmt: skip
