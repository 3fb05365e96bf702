"""Tests of app/spaces/infra."""
