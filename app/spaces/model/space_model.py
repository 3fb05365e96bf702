"""The space records of seed 000: ``SpaceConfig``, ``SpaceStatus`` and ``SpaceUsage``.

The derived names (vault folder, Mem0 collection, graph partition, Postgres
schema) are computed from the space id and may not be overridden with other
values: a config that named another space's schema or collection would break
isolation, so a mismatch is an error rather than a customisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from app.errors import InvalidInput
from app.ids import validate_space_id, validate_user_id

NAME_MAX = 200
DESCRIPTION_MAX = 2000
MODEL_NAME_MAX = 100
BUDGET_MAX = 10**12


class SpaceStatus(Enum):
    """A space is never deleted: it is active, or archived (read-only)."""

    ACTIVE = "active"
    ARCHIVED = "archived"


def current_month(now: datetime | None = None) -> str:
    """The usage period key, ``YYYY-MM`` in UTC."""
    return (now or datetime.now(UTC)).strftime("%Y-%m")


def _check_text(label: str, value: object, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{label} must be text")
    if required and not value.strip():
        raise InvalidInput(f"{label} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{label} is too long: {len(value)} characters, at most {limit}")
    if any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise InvalidInput(f"{label} contains control characters")
    return value


def _check_budget(label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BUDGET_MAX:
        raise InvalidInput(f"{label} must be a whole number from 0 to {BUDGET_MAX}")
    return value


@dataclass
class SpaceConfig:
    """Everything that defines a space; the derived store names follow ``space_id``.

    ``obsidian_vault_path`` is the seed's relative default ``vaults/<id>``;
    the manager resolves it under ``SPACES_VAULTS_DIR``. ``preferred_model``
    of ``None`` means "use the process default" (``SPACES_MODEL``).
    """

    space_id: str
    name: str
    owner_id: str
    description: str = ""
    monthly_token_budget: int = 1_000_000
    monthly_api_calls: int = 10_000
    obsidian_vault_path: str = ""
    mem0_collection_name: str = ""
    neo4j_graph_name: str = ""
    postgres_schema: str = ""
    preferred_model: str | None = None
    status: SpaceStatus = SpaceStatus.ACTIVE
    created_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        validate_space_id(self.space_id)
        validate_user_id(self.owner_id)
        _check_text("name", self.name, NAME_MAX, required=True)
        _check_text("description", self.description, DESCRIPTION_MAX, required=False)
        _check_budget("monthly_token_budget", self.monthly_token_budget)
        _check_budget("monthly_api_calls", self.monthly_api_calls)
        if self.preferred_model is not None:
            _check_text("preferred_model", self.preferred_model, MODEL_NAME_MAX, required=True)
        if isinstance(self.status, str):
            try:
                self.status = SpaceStatus(self.status)
            except ValueError:
                raise InvalidInput(f"unknown space status {self.status!r}") from None
        for attr, derived in self.derived_names(self.space_id).items():
            value = getattr(self, attr)
            if not value:
                setattr(self, attr, derived)
            elif value != derived:
                raise InvalidInput(
                    f"{attr} must be {derived!r} for space {self.space_id!r} (got {value!r})"
                )

    @staticmethod
    def derived_names(space_id: str) -> dict[str, str]:
        """The per-store names of a space, as seed 000 derives them."""
        return {
            "obsidian_vault_path": f"vaults/{space_id}",
            "mem0_collection_name": f"mem0_{space_id}",
            "neo4j_graph_name": f"graph_{space_id}",
            "postgres_schema": f"space_{space_id}",
        }

    @property
    def is_active(self) -> bool:
        """Whether the space accepts runs and writes."""
        return self.status is SpaceStatus.ACTIVE

    def to_json(self) -> dict[str, Any]:
        """All fields as JSON-ready values (status as its string, time as ISO 8601)."""
        data = asdict(self)
        data["status"] = self.status.value
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data

    def stored_config(self) -> dict[str, Any]:
        """What goes into the registry's ``config`` JSONB column."""
        data = self.to_json()
        for volatile in ("status", "created_at"):
            data.pop(volatile)
        return data


def config_from_row(row: dict) -> SpaceConfig:
    """A ``SpaceConfig`` from a registry row (``config``, ``status``, ``created_at``).

    The one reading of a registry row, shared by the manager, the role check
    and the legacy migration.
    """
    stored = dict(row["config"])
    stored.pop("status", None)
    stored.pop("created_at", None)
    return SpaceConfig(**stored, status=SpaceStatus(row["status"]), created_at=row["created_at"])


@dataclass
class SpaceUsage:
    """Tokens, calls and cost a space has used in one month."""

    space_id: str
    month: str
    tokens_used: int = 0
    api_calls_used: int = 0
    cost_usd: float = 0.0

    def get_budget_remaining(self, config: SpaceConfig) -> int:
        """Tokens left this month; never negative."""
        return max(0, config.monthly_token_budget - self.tokens_used)

    def is_over_budget(self, config: SpaceConfig) -> bool:
        """True once the month's tokens or API calls reach the space's limits."""
        return (
            self.tokens_used >= config.monthly_token_budget
            or self.api_calls_used >= config.monthly_api_calls
        )

    def to_json(self) -> dict[str, Any]:
        """All fields as JSON-ready values."""
        return asdict(self)

    def document(self, config: SpaceConfig) -> dict[str, Any]:
        """The usage document: the same fields from ``spaces usage --json`` and ``GET .../usage``.

        This month's use, the space's limits under their ``SpaceConfig``
        names, what is left and whether a limit is reached.
        """
        return {
            **self.to_json(),
            "monthly_token_budget": config.monthly_token_budget,
            "monthly_api_calls": config.monthly_api_calls,
            "tokens_remaining": self.get_budget_remaining(config),
            "over_budget": self.is_over_budget(config),
        }
