"""Tests of app/graphs, mirroring the package."""
