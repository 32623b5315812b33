"""SQL storage: ORM models (internal), engine/session setup, and a thin API returning plain dataclasses.

Only :mod:`arena_app.storage` modules touch ORM objects; services, UI and the leaderboard get dataclasses.
"""
