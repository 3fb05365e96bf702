"""Tests of app/graphs/research."""
