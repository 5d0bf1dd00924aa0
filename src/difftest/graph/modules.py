"""Who imports what: module names mapped to project files, and the import graph over them.

Nodes are root-relative paths (Python files and data files) and ``ext:<name>`` nodes for
top-level modules outside the project. The adjacency is plain dicts: this graph is built on every
recording run and must stay cheap to import and walk; the combined graph that the Pants plugin and
the CLI serialise and query is the networkx one in :mod:`difftest.graph.combined`.

Edges come from static parsing (every import statement anywhere in a file, literal dynamic imports, package
``__init__`` files) and from edges recorded at run time. A test's import closure is everything
reachable from its roots: whatever those files import, at any depth, ran at import time.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from difftest.changes.scan import is_extension_module
from difftest.errors import SourceError

EXTERNAL_PREFIX = "ext:"


class ModuleIndex:
    """Module names <-> project files, for the directories modules are imported from.

    ``import_roots`` are root-relative directories ("" for the root itself), e.g. ``["", "src",
    "tests"]``; the longest root containing a file names its module.
    """

    def __init__(self, import_roots: Sequence[str], files: Iterable[str]) -> None:
        """``files``: Python sources, and extension modules (:func:`is_extension_module`),
        which the graph holds as data (by content: a rebuild changes what imports them)."""
        self.roots = sorted({r.strip("/") for r in import_roots}, key=len, reverse=True)
        self.files = set(files)
        self._by_name: dict[str, str] = {}
        #: Module name -> its extension module files (an import finds one before a source of
        #: the same name, but which one depends on the interpreter: all of them count).
        self._extensions: dict[str, list[str]] = {}
        for path in sorted(self.files):
            if is_extension_module(path):
                name = self._name_of(path, path.rpartition("/")[2].partition(".")[0])
                if name is not None:
                    self._extensions.setdefault(name, []).append(path)
                continue
            name = self.module_of(path)
            if name is not None:
                self._by_name.setdefault(name, path)

    def module_of(self, path: str) -> str | None:
        if not path.endswith(".py"):
            return None
        return self._name_of(path, path.rpartition("/")[2][:-3])

    def _name_of(self, path: str, stem: str) -> str | None:
        """The dotted name of module file ``path`` whose module name is ``stem``."""
        for root in self.roots:
            prefix = root + "/" if root else ""
            if path.startswith(prefix):
                rel = path[len(prefix) :].rpartition("/")[0]
                parts = [*rel.split("/"), stem] if rel else [stem]
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                if parts and all(p.isidentifier() for p in parts):
                    return ".".join(parts)
        return None

    def package_of(self, path: str) -> str:
        """The package relative imports in ``path`` are resolved against."""
        name = self.module_of(path) or ""
        if path.endswith("/__init__.py") or path == "__init__.py":
            return name
        return name.rpartition(".")[0]

    def files_for(self, dotted: str) -> list[str]:
        """The file of module ``dotted`` and the ``__init__.py`` of each package on the way
        (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first). For a name
        that is an attribute (``from a.b import func`` yields ``a.b.func``), the deepest module."""
        parts = dotted.split(".")
        found = []
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            path = self._by_name.get(name)
            if path is not None:
                found.append(path)
            found.extend(self._extensions.get(name, ()))
        return found

    @property
    def top_level_names(self) -> set[str]:
        """First components of every project module name."""
        return {n.split(".")[0] for names in (self._by_name, self._extensions) for n in names}


@dataclass
class Closure:
    files: set[str] = field(default_factory=set)
    data: set[str] = field(default_factory=set)
    external: set[str] = field(default_factory=set)


class ImportGraph:
    """The import graph, built lazily: a file's static edges are parsed when first reached."""

    def __init__(
        self,
        index: ModuleIndex,
        read: Callable[[str], bytes | None],
        on_parse: Callable[[str, ast.Module], None] | None = None,
        imports_of: Callable[[str], Iterable[str] | None] | None = None,
    ) -> None:
        """``on_parse`` receives each parsed tree, so a caller that needs it too (the recorder,
        for blocks) does not parse the file a second time. ``imports_of(path)``: the dotted
        names the file imports now, when the caller knows them already (else None)."""
        self.index = index
        self._read = read
        self._on_parse = on_parse
        self._imports_of = imports_of
        self.edges: dict[str, dict[str, str]] = {}
        self._expanded: set[str] = set()
        self._project_tops = index.top_level_names

    def add_edge(self, src: str, dst: str, kind: str) -> None:
        """A run-time edge: ``kind`` "import" (dst a file) or "data" (dst a data file)."""
        self.edges.setdefault(src, {})[dst] = kind

    def expand(self, path: str) -> None:
        """Find the static edges of ``path`` (once)."""
        if path in self._expanded:
            return
        self._expanded.add(path)
        if not path.endswith(".py"):
            return
        known = self._imports_of(path) if self._imports_of is not None else None
        if known is None:
            # Imported here: a selection run builds a module index but parses nothing.
            from difftest.changes.blocks import parse_tree
            from difftest.changes.imports import imported_names

            source = self._read(path)
            if source is None:
                return
            try:
                tree = parse_tree(source, path)
            except SourceError:
                # An unparseable file has no usable edges; its own blocks fingerprint as
                # unparseable, so every test that reached it is selected anyway.
                return
            if self._on_parse is not None:
                self._on_parse(path, tree)
            known = imported_names(tree, self.index.package_of(path))
        for dotted in known:
            targets = self.index.files_for(dotted)
            if targets:
                for target in targets:
                    if target != path:
                        self.edges.setdefault(path, {}).setdefault(target, "static")
            elif dotted.split(".")[0] not in self._project_tops:
                ext = EXTERNAL_PREFIX + dotted.split(".")[0]
                self.edges.setdefault(path, {}).setdefault(ext, "static")
        # A package's modules run their package's __init__ first.
        name = self.index.module_of(path)
        if name and "." in name:
            for init in self.index.files_for(name.rpartition(".")[0]):
                if init != path:
                    self.edges.setdefault(path, {}).setdefault(init, "package")

    def closure(self, roots: Iterable[str]) -> Closure:
        result = Closure()
        todo = list(roots)
        seen: set[str] = set()
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if node.startswith(EXTERNAL_PREFIX):
                result.external.add(node[len(EXTERNAL_PREFIX) :])
                continue
            self.expand(node)
            if node.endswith(".py"):
                result.files.add(node)
            else:
                result.data.add(node)
            todo.extend(self.edges.get(node, ()))
        return result
