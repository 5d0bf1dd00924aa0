"""One exception base, a few families. Every message says what is wrong, why, and how to fix it."""

from __future__ import annotations


class DifftestError(Exception):
    """Base of every error difftest raises on purpose."""


class ConfigError(DifftestError):
    """An option or configuration file has a value difftest cannot use."""


class SourceError(DifftestError):
    """A source file could not be read or parsed."""


class StorageError(DifftestError):
    """The baseline artifact could not be read or written."""


class BaselineCorruptError(StorageError):
    """The baseline file exists but is not a readable difftest baseline."""


class BaselineVersionError(StorageError):
    """The baseline was written by an incompatible version of difftest."""


class RemoteError(DifftestError):
    """A remote (file:// or s3://) could not be read or written."""
