"""Tests of app/spaces, mirroring the package."""
