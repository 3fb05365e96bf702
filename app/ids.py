"""The one rule for identifiers, shared by every entry point.

Space ids end up in SQL schema names, Qdrant collection names, graph partition
keys and folder names, so they are restricted to a set that is safe in all of
them. User ids are only ever stored as data (bound parameters), so their rule
is looser, but still bounded so that nothing unbounded reaches a store.
"""

from __future__ import annotations

import re

from app.errors import InvalidInput

SPACE_ID_MAX = 48
USER_ID_MAX = 128
_SPACE_ID = re.compile(r"[a-z][a-z0-9_]*")
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
SPACE_ID_PATTERN = f"^{_SPACE_ID.pattern}$"  # the same rule, for OpenAPI schemas


def _shown(value: object) -> str:
    """A short, printable rendering of a rejected value for error messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_space_id(value: object) -> str:
    """Return ``value`` if it is a valid space id, else raise ``InvalidInput``.

    Rule: a lowercase ASCII letter, then lowercase letters, digits or ``_``;
    at most 48 characters.
    """
    if (
        not isinstance(value, str)
        or len(value) > SPACE_ID_MAX
        or not value.isascii()
        or _SPACE_ID.fullmatch(value) is None
    ):
        raise InvalidInput(
            f"invalid space id {_shown(value)}: use a lowercase letter, then lowercase "
            f"letters, digits or '_', at most {SPACE_ID_MAX} characters"
        )
    return value


def validate_user_id(value: object) -> str:
    """Return ``value`` if it is a valid user/owner id, else raise ``InvalidInput``."""
    if (
        not isinstance(value, str)
        or len(value) > USER_ID_MAX
        or not value.isascii()
        or _USER_ID.fullmatch(value) is None
    ):
        raise InvalidInput(
            f"invalid user id {_shown(value)}: use letters, digits, '_', '.', '@' or '-', "
            f"starting with a letter or digit, at most {USER_ID_MAX} characters"
        )
    return value


AGENT_NAME_MAX = 32


def validate_agent_name(value: object) -> str:
    """Return ``value`` if it is a valid agent name: the space id rule, at most 32 characters.

    Names appear in ``@name`` mentions, in agent ids and in memory scopes, so
    they follow the strictest rule there is.
    """
    if (
        not isinstance(value, str)
        or len(value) > AGENT_NAME_MAX
        or not value.isascii()
        or (_SPACE_ID.fullmatch(value) is None)
    ):
        raise InvalidInput(
            f"invalid agent name {_shown(value)}: use a lowercase letter, then lowercase "
            f"letters, digits or '_', at most {AGENT_NAME_MAX} characters"
        )
    return value


THREAD_ID_MAX = 64
_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def validate_thread_id(value: object) -> str:
    """Return ``value`` if it is a valid run thread id (a UUID or similar token)."""
    if (
        not isinstance(value, str)
        or len(value) > THREAD_ID_MAX
        or not value.isascii()
        or _THREAD_ID.fullmatch(value) is None
    ):
        raise InvalidInput(
            f"invalid thread id {_shown(value)}: use letters, digits, '_' or '-', "
            f"at most {THREAD_ID_MAX} characters"
        )
    return value


def slugify(text: str, limit: int = 48) -> str:
    """A folder-safe slug of ``text`` (lowercase ASCII words joined by ``-``)."""
    slug = "-".join(re.findall(r"[a-z0-9]+", text.lower()))[:limit].strip("-")
    return slug or "untitled"
