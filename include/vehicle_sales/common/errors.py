"""Errors that retrying cannot fix: bad configuration, a missing file, a malformed export.

Task entry points turn these into Airflow's fail-fast exception, so a permanent problem fails the
task at once with a message saying what to fix instead of burning retries.
"""


class PermanentError(Exception):
    """A problem only a person can fix (configuration, credentials, input file)."""


class SourceNotFoundError(PermanentError):
    pass


class BadExportError(PermanentError):
    """The export as a whole cannot be loaded (empty, missing columns, wrong delimiter)."""


class ConfigError(PermanentError, ValueError):
    pass
