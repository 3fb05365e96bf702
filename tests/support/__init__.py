"""Helpers the tests share that are not fixtures: settings, the CLI, fake servers."""
