"""difftest: run only the tests a change can break.

The public API. Everything else lives in private stage packages:
changes -> graph -> selection -> front ends (runners.pytest, cli, Pants plugin) -> storage.
"""

from __future__ import annotations

import os as _os
import sys as _sys
from typing import TYPE_CHECKING, Any

# The Pants backend lives in pants-plugins/difftest/ and is loaded as `difftest.register`:
# let this package span every `difftest` directory on sys.path (what pkgutil.extend_path does,
# without importing pkgutil: 14 ms of a helper process's start).
__path__ = [
    *__path__,
    *(
        found
        for found in (
            _os.path.join(entry, __name__) for entry in _sys.path if isinstance(entry, str)
        )
        if found not in __path__ and _os.path.isdir(found)
    ),
]

if TYPE_CHECKING:
    from difftest.changes.blocks import FileBlocks, parse_blocks
    from difftest.changes.state import CurrentState
    from difftest.errors import (
        BaselineCorruptError,
        BaselineVersionError,
        ConfigError,
        DifftestError,
        RemoteError,
        SourceError,
        StorageError,
    )
    from difftest.model import Block, Dependency, Reason, TestRecord
    from difftest.selection.engine import Selection, select
    from difftest.storage.baseline import Baseline

#: Where each public name lives. Imported on first use: the helper processes a recording run
#: starts import one stage each (the file analysis, the baseline writer), not the whole API.
_PUBLIC = {
    "FileBlocks": "difftest.changes.blocks",
    "parse_blocks": "difftest.changes.blocks",
    "CurrentState": "difftest.changes.state",
    "BaselineCorruptError": "difftest.errors",
    "BaselineVersionError": "difftest.errors",
    "ConfigError": "difftest.errors",
    "DifftestError": "difftest.errors",
    "RemoteError": "difftest.errors",
    "SourceError": "difftest.errors",
    "StorageError": "difftest.errors",
    "Block": "difftest.model",
    "Dependency": "difftest.model",
    "Reason": "difftest.model",
    "TestRecord": "difftest.model",
    "Selection": "difftest.selection.engine",
    "select": "difftest.selection.engine",
    "Baseline": "difftest.storage.baseline",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__("importlib").import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


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
    "Reason",
    "RemoteError",
    "Selection",
    "SourceError",
    "StorageError",
    "TestRecord",
    "parse_blocks",
    "select",
]
