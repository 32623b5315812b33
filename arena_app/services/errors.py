"""The services' own exception tree: what the UI and the CLI may catch.

::

    ServiceError            base; ``str(err)`` is a complete sentence meant for the user
    ├── Refused             the request was refused and nothing changed (bad input, a rule, wrong moment)
    │   ├── InputRejected   a message, parameter or choice the user sent is not acceptable
    │   ├── VoteRejected    the vote cannot be recorded (none possible, or one exists)
    │   ├── RateLimited     the client reached a rate limit; the message says when it may continue
    │   └── NothingToDo     the action has nothing to act on (nothing to regenerate, stop, ...)
    ├── Unavailable         a dependency (the database) is not available; nothing was saved
    └── NotFound            what was asked for does not exist (a battle, a snapshot, a model)

Storage and provider errors are translated into these at the service boundary with ``raise ... from exc``
(:func:`storage_errors`; an unavailable database is reported to :mod:`arena_app.services.incidents`,
which logs one line per outage). Anything else escaping a service is a bug: the UI logs it once with its
traceback and shows a generic message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from arena_app.storage.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    DuplicateVoteError,
    NotFoundError,
    StorageError,
)

DB_DOWN = "The database is not available right now; nothing was saved. Please try again shortly."


class ServiceError(Exception):
    """Base of every error a service raises on purpose; ``str(err)`` is shown to the user as is."""


class Refused(ServiceError):
    """The request was refused; nothing changed."""


class InputRejected(Refused):
    """A message, parameter or choice the user sent is not acceptable."""


class VoteRejected(Refused):
    """The vote cannot be recorded."""


class RateLimited(Refused):
    """The client reached a rate limit (nothing was stored); ``retry_after_s``: when it may continue."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NothingToDo(Refused):
    """The action has nothing to act on."""


class Unavailable(ServiceError):
    """A dependency (the database) is not available; nothing was saved."""


class NotFound(ServiceError):
    """What was asked for does not exist."""


@contextmanager
def storage_errors(duplicate_vote: str | None = None) -> Iterator[None]:
    """Translate storage errors raised inside the block into service errors.

    A database that cannot be reached (or is misconfigured) becomes :class:`Unavailable`; a missing row
    :class:`NotFound`; a duplicate vote :class:`VoteRejected` with ``duplicate_vote`` as its message (when
    given). Other storage errors (invalid input reaching storage, schema problems) are bugs of ours and
    propagate unchanged.
    """
    try:
        yield
    except DuplicateVoteError as exc:
        if duplicate_vote is None:
            raise
        raise VoteRejected(duplicate_vote) from exc
    except (DatabaseUnavailableError, ConfigurationError) as exc:
        from arena_app.services.incidents import DATABASE

        DATABASE.report(exc)  # one log line per outage, not one per request
        raise Unavailable(DB_DOWN) from exc
    except NotFoundError as exc:
        raise NotFound(str(exc)) from exc
    except StorageError:
        raise
