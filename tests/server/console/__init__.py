"""Tests of app/server/console, in a real browser."""
