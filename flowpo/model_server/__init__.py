"""Serve a local model over an OpenAI-compatible HTTP API (``flowpo serve-model``)."""
