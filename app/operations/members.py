"""Members of a space: list (any member), add, change a role, remove (admins), each audited.

The functions are ``access/members.py``'s, which hold the owner's rule
(the owner stays an admin); they are named here so every entry point
finds its operations in one package.
"""

from __future__ import annotations

from app.spaces.access.members import Member, add_member, list_members, remove_member

__all__ = ["Member", "add_member", "list_members", "remove_member"]
