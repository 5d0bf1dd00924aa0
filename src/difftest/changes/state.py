"""The current state of everything a recorded test can depend on, computed lazily."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from difftest.changes.environment import (
    CWD_KEY,
    SHADOW_PREFIX,
    current_value,
    cwd_value,
    shadow_value,
)
from difftest.changes.scan import FileHasher
from difftest.errors import SourceError
from difftest.model import ABSENT, DATA_BLOCK, ENV_BLOCK, ENV_PREFIX, SPAWN_BLOCK, block_of

if TYPE_CHECKING:
    from difftest.changes.blocks import FileBlocks
    from difftest.changes.names import NameFacts

#: Fingerprint of every block of a file that does not parse: never equal to a recorded one.
UNPARSEABLE = "<unparseable>"


class CurrentState:
    """Answers "what is the version / fingerprint of this now?" for files and environment keys.

    ``env`` supplies values the front end knows (pytest configuration, plugins); other
    ``<env>/`` keys come from :mod:`difftest.changes.environment`. ``import_roots``: the
    directories modules are imported from, as the baseline recorded them, which value the
    ``<env>/shadow/`` keys (without them those read as unknown, hence changed). ``<env>/cwd`` is
    where this run started, relative to the hasher's root.
    """

    def __init__(
        self,
        hasher: FileHasher,
        env: Mapping[str, str] | None = None,
        *,
        import_roots: Iterable[str] | None = None,
    ) -> None:
        self.hasher = hasher
        self.env = dict(env or {})
        self.import_roots = None if import_roots is None else tuple(import_roots)
        self._blocks: dict[str, FileBlocks | None] = {}
        self._names: dict[str, NameFacts | None] = {}
        self.warnings: list[str] = []

    def version(self, key: str) -> str:
        if key.startswith(ENV_PREFIX):
            if key not in self.env:
                if key.startswith(SHADOW_PREFIX) and self.import_roots is not None:
                    name = key[len(SHADOW_PREFIX) :]
                    self.env[key] = shadow_value(self.hasher.is_file, self.import_roots, name)
                elif key == CWD_KEY:
                    self.env[key] = cwd_value(self.hasher.root)
                else:
                    self.env[key] = current_value(key)
            return self.env[key]
        return self.hasher.data_version(key)

    def blocks(self, path: str) -> FileBlocks | None:
        """Parsed blocks of a Python file now; None if it is missing or does not parse."""
        if path not in self._blocks:
            # Imported here: a run where nothing changed parses nothing.
            from difftest.changes.blocks import parse_tree
            from difftest.changes.names import blocks_and_names

            parsed: FileBlocks | None = None
            names: NameFacts | None = None
            if self.hasher.hash(path) is not None:
                try:
                    tree = parse_tree(self.hasher.read(path), path)
                    parsed, names = blocks_and_names(tree, path)
                except SourceError as exc:
                    self.warnings.append(str(exc))
                except OSError:
                    parsed = None
            self._blocks[path] = parsed
            self._names[path] = names
        return self._blocks[path]

    def names(self, path: str) -> NameFacts | None:
        """Name facts of a Python file now (:mod:`difftest.changes.names`); None if it is
        missing or does not parse."""
        self.blocks(path)
        return self._names[path]

    def fingerprint(self, key: str, name: str) -> str:
        if name in (DATA_BLOCK, SPAWN_BLOCK, ENV_BLOCK) or key.startswith(ENV_PREFIX):
            return self.version(key)
        if self.hasher.hash(key) is None:
            return ABSENT
        blocks = self.blocks(key)
        if blocks is None:
            return UNPARSEABLE
        block = blocks.by_name().get(block_of(name))
        return block.checksum if block is not None else ABSENT
