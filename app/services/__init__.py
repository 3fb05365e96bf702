"""Embedded services that the project starts by itself when no URL is configured.

Each service keeps its data under ``SPACES_HOME`` and is shared by every
process that uses the same home: the first caller starts it, later callers
find it running and connect at once. ``spaces down`` stops them.
"""
