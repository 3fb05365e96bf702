"""Tests of app/spaces/stores."""
