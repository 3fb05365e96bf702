"""Per-model prices in USD per million tokens, for the cost written to ``space_usage``.

Prices are list prices at the time of writing; a model missing from the table
costs 0 and the run's cost says so by being 0. ``offline`` is free.
"""

from __future__ import annotations

# model name (without the "openai:" prefix) -> (input, output) USD per 1M tokens
PRICES: dict[str, tuple[float, float]] = {
    "offline": (0.0, 0.0),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
}


def bare_name(model: str) -> str:
    """``openai:gpt-4o``, ``openai/gpt-4o`` and ``openai:gpt-4o@tools`` -> ``gpt-4o``."""
    from app.llm.structured import split_method

    model = split_method(model)[0]
    for prefix in ("openai:", "openai/"):
        if model.startswith(prefix):
            return model[len(prefix) :]
    return model


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """What a call cost, from the table (0 for a model not in it)."""
    price_in, price_out = PRICES.get(bare_name(model), (0.0, 0.0))
    return (input_tokens * price_in + output_tokens * price_out) / 1_000_000
