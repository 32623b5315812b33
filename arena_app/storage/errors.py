"""Storage exceptions. Database driver errors are translated at this boundary (``raise ... from exc``)."""


class StorageError(Exception):
    """Base class for storage errors."""


class ConfigurationError(StorageError):
    """The database URL or configuration is invalid."""


class DatabaseUnavailableError(StorageError):
    """The database cannot be reached."""


class NotFoundError(StorageError):
    """A referenced row does not exist."""


class DuplicateVoteError(StorageError):
    """The battle already has a vote (enforced by a unique constraint)."""


class InvalidInputError(StorageError):
    """A value given to the storage API is not allowed (e.g. an unknown outcome)."""
