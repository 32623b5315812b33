"""End-to-end tests: the real app in-process on loopback, driven through gradio_client (see harness.py)."""

from tests.e2e.harness import running_app

__all__ = ["running_app"]
