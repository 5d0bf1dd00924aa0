"""difftest: run only the tests a change can break.

The public API. Everything else lives in private stage packages:
changes -> graph -> selection -> front ends (runners.pytest, cli, Pants plugin) -> storage.
"""

from __future__ import annotations

# The Pants backend lives in pants-plugins/difftest/ and is loaded as `difftest.register`:
# let this package span every `difftest` directory on sys.path.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from difftest.changes.blocks import FileBlocks, parse_blocks
from difftest.changes.state import CurrentState
from difftest.errors import (
    BaselineCorruptError,
    BaselineVersionError,
    ConfigError,
    DifftestError,
    GitError,
    RemoteError,
    SourceError,
    StorageError,
)
from difftest.model import Block, Dependency, Reason, TestRecord
from difftest.selection.engine import Selection, select
from difftest.storage.baseline import Baseline

__version__ = "0.1.0"

__all__ = [
    "Baseline",
    "BaselineCorruptError",
    "BaselineVersionError",
    "Block",
    "ConfigError",
    "CurrentState",
    "Dependency",
    "DifftestError",
    "FileBlocks",
    "GitError",
    "Reason",
    "RemoteError",
    "Selection",
    "SourceError",
    "StorageError",
    "TestRecord",
    "parse_blocks",
    "select",
]
