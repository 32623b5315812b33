"""Local model worker: a transformers causal LM behind an OpenAI-compatible HTTP API.

Imports nothing from ``arena_app``.
"""
