"""The ``arena`` command line. Each subcommand group lives in its own module with a ``register`` function."""
