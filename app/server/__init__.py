"""Serving Spaces on the LangGraph server: JWT auth, owner filters, the /my/ REST routes."""
