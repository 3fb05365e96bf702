"""The ``chat`` graph: a space's personal agents, called directly or through a planner."""

from app.graphs.chat.graph import build_chat

__all__ = ["build_chat"]
