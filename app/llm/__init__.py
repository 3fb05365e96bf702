"""Language models: resolution by name, the offline model, prices, usage and tracing."""
