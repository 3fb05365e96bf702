"""Tests of app/graphs/rpi."""
