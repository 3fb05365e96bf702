"""The ``rpi`` graph: Research, Plan (with human approval), Implement, Save."""

from app.graphs.rpi.graph import builder, graph

__all__ = ["builder", "graph"]
