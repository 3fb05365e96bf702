"""Tests of app/spaces/portability."""
