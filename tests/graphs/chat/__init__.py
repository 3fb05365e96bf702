"""Tests of app/graphs/chat."""
