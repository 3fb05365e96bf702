"""Tests of app/server: REST, auth, the served graphs on both servers."""
