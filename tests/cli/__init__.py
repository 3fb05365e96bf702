"""Tests of the spaces command line (app/cli)."""
