"""Tests of app/spaces/access."""
