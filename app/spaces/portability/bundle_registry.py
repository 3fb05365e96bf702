"""Check a bundle's registry rows (members, usage) with the rules the live paths use.

``registry.json`` comes from outside: a hand-edited bundle could add a
member whose user id carries terminal escapes, a role that does not exist,
or a ``space_usage`` row with negative tokens that turns the monthly budget
into no budget at all. Every row is checked here, before the import creates
anything, so a hostile bundle is refused with one line and changes nothing.
User ids go through the shared id rule (``app.ids``), roles through
``roles.parse_role``; counters must be whole numbers from zero up.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.errors import InvalidInput
from app.ids import validate_user_id
from app.spaces.access.roles import parse_role

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
KEY_MAX = 256
COUNT_MAX = 2**62  # far above any real month; BIGINT's range with room for sums


class BadRegistry(InvalidInput):
    """A registry row of a bundle breaks a rule the live paths enforce."""


def _refuse(table: str, n: int, why: str) -> BadRegistry:
    return BadRegistry(f"bundle refused: registry.json {table} row {n}: {why}")


def _count(value: object, table: str, n: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_MAX:
        raise _refuse(table, n, f"{name} must be a whole number from 0 to {COUNT_MAX}")


def _cost(value: object, table: str, n: int) -> None:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > COUNT_MAX:
        raise _refuse(table, n, "cost_usd must be a number from 0 up")


def _month(value: object, table: str, n: int) -> None:
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise _refuse(table, n, "month must look like 2026-01")


def _time(value: object, table: str, n: int, name: str) -> None:
    try:
        datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _refuse(table, n, f"{name} is not a date-time") from None


def _user(value: object, table: str, n: int, name: str) -> None:
    try:
        validate_user_id(value)
    except InvalidInput as exc:
        raise _refuse(table, n, f"{name}: {exc}") from None


def check_registry(rows: Any, columns: dict[str, tuple[str, ...]]) -> None:
    """Refuse ``rows`` (registry.json) unless every row of every table is well formed."""
    if not isinstance(rows, dict):
        raise BadRegistry("bundle refused: registry.json is not an object")
    for table, cols in columns.items():
        listed = rows.get(table) or []
        if not isinstance(listed, list):
            raise BadRegistry(f"bundle refused: registry.json {table} is not a list")
        for n, row in enumerate(listed, start=1):
            if not isinstance(row, dict) or set(row) != set(cols):
                raise BadRegistry(f"bundle refused: a {table} row does not match this version")
            _check_row(table, n, row)


def _check_row(table: str, n: int, row: dict[str, Any]) -> None:
    if table == "space_members":
        _user(row["user_id"], table, n, "user_id")
        _user(row["added_by"], table, n, "added_by")
        try:
            parse_role(row["role"])
        except InvalidInput as exc:
            raise _refuse(table, n, str(exc)) from None
        _time(row["added_at"], table, n, "added_at")
    elif table == "space_usage":
        _month(row["month"], table, n)
        _count(row["tokens_used"], table, n, "tokens_used")
        _count(row["api_calls_used"], table, n, "api_calls_used")
        _cost(row["cost_usd"], table, n)
    elif table == "space_usage_events":
        key = row["idempotency_key"]
        if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX or not key.isprintable():
            raise _refuse(table, n, f"idempotency_key must be printable text of 1-{KEY_MAX}")
        _month(row["month"], table, n)
        _count(row["tokens"], table, n, "tokens")
        _count(row["api_calls"], table, n, "api_calls")
        _cost(row["cost_usd"], table, n)
        _time(row["created_at"], table, n, "created_at")
        thread = row["thread_id"]
        if thread is not None and (not isinstance(thread, str) or not thread.isprintable()):
            raise _refuse(table, n, "thread_id must be printable text")
