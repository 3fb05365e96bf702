"""A space as one portable bundle: export (admins, audited) and import (a new space).

The functions are ``portability/transfer.py``'s: export checks
``Action.EXPORT`` and records ``space.export``; import creates a new space,
all or nothing, and refuses a damaged, truncated or hostile bundle with
one line, changing nothing.
"""

from __future__ import annotations

from app.spaces.portability.transfer import Transfer, export_space, import_space

__all__ = ["Transfer", "export_space", "import_space"]
