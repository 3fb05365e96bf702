"""The ``rpi`` graph: Research, Plan (with human approval), Implement, Save."""

from app.graphs.rpi.graph import build_rpi

__all__ = ["build_rpi"]
