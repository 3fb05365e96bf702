"""Tests of app/llm: the model wire, context windows, repairs, a local model."""
