"""LLM arena web app: Gradio UI, services, storage, providers and CLI."""

__version__ = "0.1.0"
