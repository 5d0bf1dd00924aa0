"""Import a project's modules and watch what some functions find in them by name.

Run by :mod:`difftest.selection.audit` in a fresh interpreter, as a script (``runpy``): it uses
the standard library only, so that nothing but the project is imported. Arguments: the project
root, then a JSON object ``{"modules": [dotted names to import], "watched": [[root-relative
file, qualified name, first line, last line], ...]}``: a function's code, and the code nested
in it, is known by its file and the lines it starts on. It prints one JSON object (see
:func:`main`).

While a watched function runs (it was called from import-time code), every attribute of a
project module it reads, writes or lists is noted, with every project module it gets hold of
(``import_module``, ``__import__``, an attribute that is a module). Project modules are watched
from their creation on: their class becomes a subclass of the module type that notes these
accesses (module code reads its own globals without it, which costs nothing). At the end, any
module it got hold of that something other than ``sys.modules`` or a module's namespace still
holds is reported as kept: code that runs later could read it without naming it.
"""

from __future__ import annotations

import builtins
import gc
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import types
from collections.abc import Sequence
from typing import Any


class _Watch:
    def __init__(self, root: str, watched: Sequence[Sequence[Any]]) -> None:
        self.root = root
        #: file -> (first line, last line, (root-relative file, qualified name))
        self.codes: dict[str, list[tuple[int, int, tuple[str, str]]]] = {}
        for rel, qualname, first, last in watched:
            place = os.path.realpath(os.path.join(root, rel))
            self.codes.setdefault(place, []).append((int(first), int(last), (rel, qualname)))
        self.known: dict[types.CodeType, tuple[str, str] | None] = {}
        self.depth = 0
        self.ran: set[tuple[str, str]] = set()
        self.read: set[tuple[str, str]] = set()
        self.wrote: set[tuple[str, str]] = set()
        self.listed: set[str] = set()
        self.held: set[str] = set()

    def project_file(self, path: str | None) -> str | None:
        """Root-relative path of a project source file or package directory (none of a hidden
        directory's or an installed package's)."""
        if not path or not (path.endswith(".py") or os.path.isdir(path)):
            return None
        full = os.path.realpath(path)
        if not full.startswith(self.root + os.sep):
            return None
        rel = full[len(self.root) + 1 :].replace(os.sep, "/")
        parts = rel.split("/")
        if any(p.startswith(".") or p == "site-packages" for p in parts):
            return None
        return rel

    def watched(self, code: types.CodeType) -> tuple[str, str] | None:
        if code in self.known:
            return self.known[code]
        found = None
        for first, last, function in self.codes.get(os.path.realpath(code.co_filename), ()):
            if first <= code.co_firstlineno <= last:
                found = function
        self.known[code] = found
        return found

    def profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if event not in ("call", "return"):
            return
        function = self.watched(frame.f_code)
        if function is None:
            return
        if event == "call":
            self.depth += 1
            self.ran.add(function)
        else:
            self.depth -= 1

    def module_file(self, module: types.ModuleType) -> str | None:
        """Where a project module comes from (a namespace package: its directory)."""
        namespace = object.__getattribute__(module, "__dict__")
        path = namespace.get("__file__")
        if path is None:
            found = list(namespace.get("__path__") or ())
            path = found[0] if len(found) == 1 else None
        return self.project_file(path)

    def outside(self, module: types.ModuleType) -> bool:
        """Whether a module is known not to be the project's: built in, or from a file outside
        it (a module that says nothing of where it comes from counts as the project's)."""
        namespace = object.__getattribute__(module, "__dict__")
        origin = getattr(namespace.get("__spec__"), "origin", None)
        if origin in ("built-in", "frozen"):
            return True
        path = namespace.get("__file__") or origin
        if path is None:
            found = list(namespace.get("__path__") or ())
            path = found[0] if found else None
        return path is not None and self.project_file(path) is None

    def got(self, value: object) -> None:
        if isinstance(value, types.ModuleType) and not self.outside(value):
            self.held.add(object.__getattribute__(value, "__name__"))


def _module_class(watch: _Watch) -> type[types.ModuleType]:
    get = types.ModuleType.__getattribute__

    def where(module: types.ModuleType) -> str:
        return watch.module_file(module) or str(object.__getattribute__(module, "__name__"))

    class WatchedModule(types.ModuleType):
        def __getattribute__(self, name: str) -> Any:
            if watch.depth <= 0:
                return get(self, name)
            # Noted before the lookup: a name that is not there (any more) counts as read.
            watch.read.add((where(self), name))
            if name == "__dict__":
                watch.listed.add(where(self))
            value = get(self, name)
            watch.got(value)
            return value

        def __setattr__(self, name: str, value: object) -> None:
            if watch.depth > 0:
                watch.wrote.add((where(self), name))
            types.ModuleType.__setattr__(self, name, value)

        def __delattr__(self, name: str) -> None:
            if watch.depth > 0:
                watch.wrote.add((where(self), name))
            types.ModuleType.__delattr__(self, name)

        def __dir__(self) -> list[str]:
            if watch.depth > 0:
                watch.listed.add(where(self))
            return list(types.ModuleType.__dir__(self))

    return WatchedModule


class _Loader(importlib.abc.Loader):
    """Runs a project module as its own loader would, as a watched module."""

    def __init__(self, inner: Any, cls: type[types.ModuleType]) -> None:
        self.inner = inner
        self.cls = cls

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        created: types.ModuleType | None = self.inner.create_module(spec)
        return created

    def exec_module(self, module: types.ModuleType) -> None:
        if type(module) is types.ModuleType:
            module.__class__ = self.cls
        self.inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, watch: _Watch, cls: type[types.ModuleType]) -> None:
        self.watch = watch
        self.cls = cls

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: importlib.machinery.ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            places = list(spec.submodule_search_locations or ())
            origin = spec.origin if spec.has_location else (places[0] if places else None)
            if spec.loader is not None and self.watch.project_file(origin):
                spec.loader = _Loader(spec.loader, self.cls)
            return spec
        return None


def main(argv: Sequence[str]) -> int:
    """Print ``{"ran": [[file, qualname]...], "read": [[file, name]...], "wrote": [...],
    "listed": [files], "held": [modules], "kept": [modules], "unwatched": [modules]}`` and exit
    0; exit 3 with a sentence on stderr when a module does not import."""
    root = os.path.realpath(argv[0])
    spec = json.loads(argv[1])
    watch = _Watch(root, spec["watched"])
    cls = _module_class(watch)
    sys.meta_path.insert(0, _Finder(watch, cls))
    real_import_module = importlib.import_module
    real_import = builtins.__import__

    def import_module(name: str, package: str | None = None) -> types.ModuleType:
        module = real_import_module(name, package)
        if watch.depth > 0:
            watch.got(module)
        return module

    def import_(name: str, *args: Any, **kwargs: Any) -> Any:
        module = real_import(name, *args, **kwargs)
        if watch.depth > 0:
            watch.got(module)
            found = sys.modules.get(name)
            if found is not None:
                watch.got(found)
        return module

    importlib.import_module = import_module
    builtins.__import__ = import_
    sys.setprofile(watch.profile)
    try:
        for name in spec["modules"]:
            real_import_module(name)
    except BaseException as exc:
        sys.setprofile(None)
        print(f"{name} does not import ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 3
    sys.setprofile(None)
    importlib.import_module = real_import_module
    builtins.__import__ = real_import
    allowed = {id(sys.modules), id(sys._getframe())}
    for name in list(sys.modules):
        module = sys.modules[name]
        if isinstance(module, types.ModuleType):
            allowed.add(id(object.__getattribute__(module, "__dict__")))
    kept = []
    unwatched = []
    for name in sorted(watch.held):
        held = sys.modules.get(name)
        if not isinstance(held, cls):
            # Not watched from its creation on (made by a loader of the project's own, or no
            # longer in sys.modules): what was read of it went unseen.
            unwatched.append(name)
        elif any(id(r) not in allowed for r in gc.get_referrers(held)):
            kept.append(name)
    print(
        json.dumps(
            {
                "ran": sorted(watch.ran),
                "read": sorted(watch.read),
                "wrote": sorted(watch.wrote),
                "listed": sorted(watch.listed),
                "held": sorted(watch.held),
                "kept": sorted(kept),
                "unwatched": sorted(unwatched),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
