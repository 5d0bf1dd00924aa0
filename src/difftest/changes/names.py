"""Which names a file's import-time code binds and uses, statement by statement.

A change to a module's import-time code (a constant, a default argument, a decorator, a class
attribute) used to select every test that imported the module. These facts let the engine narrow
that safely: when the changed statements only bind names (``LIMIT = 10``, ``def f(x=2)``,
``@property``), only tests that ran code mentioning one of those names, directly or through
other import-time bindings, can see the change. Everything else is "impure" and keeps the old
rule: calls other than a short list of side-effect-free builtins, imports that changed, class
bodies whose creation can run project hooks (``__init_subclass__``, metaclasses, bases from
other modules, an enum's ``__init__`` making its members), functions that keep state between
tests, a module's ``__getattr__`` or ``__dir__``, an augmented assignment that may change in
place an object other names refer to.

Per file, for each scope (``""`` for the module, a class's qualified name for its body), the
statements in order, each as ``[identity, kind, fingerprint, uses]``:

- identity: the sorted names it binds, comma-joined (``"LIMIT"``, ``"a,b"``; a docstring binds
  ``__doc__``), or ``#`` and its fingerprint when it binds nothing;
- kind: ``p`` binds names and does nothing else, ``m`` the same but imports a module (a change to
  it is not narrowed: importing runs code), ``i`` anything else;
- uses: every identifier it mentions (names, attributes, keywords, identifier-like words in
  strings, so ``getattr(obj, "LIMIT")`` counts), space-joined.

And for each function block (the qualified names of :mod:`difftest.changes.blocks`; the module's
and classes' docstrings with doctest examples under the ``<docstrings>`` block),
the identifiers it mentions and how it reads names it does not mention (:data:`READS`,
:data:`FINDS_MODULES`, :data:`REACHES`; the file's import-time code gets a level too).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from difftest.changes.blocks import (
    FileBlocks,
    _dump,
    _is_docstring,
    block_defs,
    blocks_from_tree,
    doctest_docstrings,
    memo_only,
    push_children,
    stateful_functions,
)
from difftest.changes.scan import FileHasher
from difftest.errors import SourceError
from difftest.model import DOCSTRINGS_BLOCK, FACTS_VERSION, digest

PURE = "p"
IMPORTS = "m"
IMPURE = "i"

#: Callables that return a value and change nothing else (decorators included): calling one at
#: import time with changed arguments changes only the names the statement binds.
_PURE_CALLS = frozenset(
    {
        # builtins
        "object", "int", "float", "complex", "str", "bytes", "bool", "tuple", "list", "dict",
        "set", "frozenset", "range", "slice", "len", "sorted", "reversed", "min", "max", "sum",
        "abs", "any", "all", "zip", "map", "filter", "enumerate", "isinstance", "issubclass",
        "type", "repr", "ascii", "format", "chr", "ord", "round", "divmod", "pow", "hash",
        "callable", "property", "staticmethod", "classmethod",
        # standard library
        "partial", "partialmethod", "namedtuple", "TypeVar", "ParamSpec", "TypeVarTuple",
        "NewType", "cast", "compile", "Struct", "Decimal", "Fraction", "deque", "defaultdict",
        "OrderedDict", "Counter", "ChainMap", "itemgetter", "cached_property", "wraps",
        # memoizers: their memo is reached only through the name they bind (blocks.memo_only)
        "lru_cache", "cache",
        "update_wrapper", "total_ordering", "abstractmethod", "dataclass", "field", "unique",
        "auto", "final", "runtime_checkable", "count", "repeat", "getLogger", "intern",
        "MappingProxyType", "SimpleNamespace",
    }
)  # fmt: skip
#: Callables that are pure only when the attribute name they take is a constant.
_PURE_WITH_CONSTANT_NAME = frozenset({"getattr", "hasattr", "attrgetter", "methodcaller"})
#: Bases whose classes run no project code when a subclass is created.
_PURE_BASES = frozenset(
    {
        "object", "int", "float", "str", "bytes", "tuple", "list", "dict", "set", "frozenset",
        "ABC", "Generic", "Protocol", "NamedTuple", "TypedDict", "Enum", "IntEnum", "Flag",
        "IntFlag", "StrEnum", "Hashable", "Sized", "Container", "Iterable", "Iterator",
        "Reversible", "Collection", "Sequence", "MutableSequence", "Mapping", "MutableMapping",
        "Set", "MutableSet", "Callable", "Generator", "Awaitable", "Coroutine", "AsyncIterable",
        "AsyncIterator", "MappingView", "KeysView", "ItemsView", "ValuesView",
    }
    | {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
)  # fmt: skip
_PURE_CALLABLES = _PURE_CALLS | _PURE_WITH_CONSTANT_NAME
#: Pure callables that call what they are handed while they run, not later: their first
#: argument (``map(register, handlers)``), or their ``key``.
_CALLS_FIRST_ARGUMENT = frozenset({"map", "filter"})
_CALLS_KEY = frozenset({"sorted", "min", "max"})
_PURE_METACLASSES = frozenset({"ABCMeta"})
#: Where the names above may be imported from.
_STDLIB_MODULES = frozenset(
    {
        "abc", "collections", "dataclasses", "decimal", "enum", "fractions", "functools",
        "itertools", "logging", "math", "operator", "re", "struct", "sys", "types", "typing",
        "typing_extensions",
    }
)  # fmt: skip
#: Special methods that run project code when a class is created.
_CLASS_HOOKS = frozenset({"__init_subclass__", "__set_name__"})
#: Enum bases make every member when the class is created, through these methods of the class
#: or of its mixins: members' values reach whatever they do (``_BY_CODE[code] = self``).
_ENUM_BASES = frozenset({"Enum", "IntEnum", "Flag", "IntFlag", "StrEnum", "ReprEnum"})
_MEMBER_HOOKS = frozenset({"__new__", "__init__", "_generate_next_value_"})
#: A module's own ``__getattr__`` and ``__dir__`` (PEP 562) answer lookups of names it does not
#: bind (``getattr(mod, "DEBUG", False)``, ``hasattr``, ``from mod import X``): a change to
#: them changes what code mentioning none of the module's names sees.
_MODULE_HOOKS = frozenset({"__getattr__", "__dir__"})
#: How a function reads names it does not mention. READS: it lists or looks up the names of
#: an object it was handed (``vars(obj)``, ``getattr(obj, name)``): it sees a changed name only
#: if the object reached it, which takes code mentioning the object. FINDS_MODULES: it imports
#: modules by computed names (``import_module(name)``, ``__import__(name)``) and finds nothing
#: by other means: what it then reads goes through the modules' attributes, which can be watched
#: (:mod:`difftest.selection.watch_imports`). REACHES: it finds objects by itself (``sys.modules``,
#: ``globals()``, ``__subclasses__()``, a library's import by name (``pkgutil.resolve_name``,
#: entry points), loading a file as a module, reading source files, unpickling): it may see any
#: changed name. Every level from FINDS_MODULES up counts as reaching unless a watch shows
#: otherwise.
READS = 1
FINDS_MODULES = 2
REACHES = 3
_READERS = frozenset(
    {
        "vars", "dir", "getmembers", "getmembers_static", "fields", "asdict", "astuple",
        "getattr_static", "__dict__", "__all__", "__slots__", "__members__",
        "__dataclass_fields__", "__getattribute__",
        # reads `__doc__` (a docstring's change binds that name) of what it is handed, or of
        # the bases the object inherits it from
        "getdoc",
    }
)  # fmt: skip
#: Import a module, or an object of one, named by a string (the standard library's, Django's
#: and Werkzeug's ``import_string``, Tornado's ``import_object``).
_BY_NAME = frozenset(
    {"__import__", "import_module", "resolve_name", "import_string", "import_object"}
)
#: Names too common to read dynamically unless qualified by their module (``pydoc.locate``,
#: ``from pydoc import locate``): more-itertools has a ``locate`` of its own.
_QUALIFIED_REACHERS = {"pydoc": frozenset({"locate"})}
#: With a constant first argument, these import what they name, like an import statement.
_IMPORTERS = _BY_NAME | frozenset({"locate"})
#: Import a module named by a string, and nothing else.
_MODULE_FINDERS = frozenset({"__import__", "import_module"})
_REACHERS = (_BY_NAME - _MODULE_FINDERS) | frozenset(
    {
        "globals", "locals", "eval", "exec", "get_type_hints", "get_annotations",
        # plugins found through installed metadata
        "entry_points", "iter_entry_points", "load_entry_point",
        # a file run or loaded as a module of its own
        "spec_from_file_location", "module_from_spec", "run_path", "run_module", "load_source",
        "SourceFileLoader",
    }
)  # fmt: skip
#: Reach only as an attribute (``sys.modules``, ``inspect.stack()``): as a bare name they are
#: just as often a local variable.
_REACHING_ATTRS = frozenset(
    {
        "modules", "get_objects", "get_referrers", "getmodule", "currentframe", "_getframe",
        "stack", "f_globals", "f_locals", "__globals__", "__subclasses__", "walk_packages",
        "iter_modules", "getsource", "getsourcelines", "getfile", "findsource",
    }
)  # fmt: skip
#: Unpickling finds classes by their module and name.
_PICKLERS = frozenset({"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"})
#: Prefix of the dotted name of a statically imported module in an import's uses.
IMPORT_MARK = "import:"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
Statement = list[str]  # [identity, kind, fingerprint, uses]


@dataclass
class NameFacts:
    """What one file binds and uses at import time, and what its functions mention."""

    scopes: dict[str, list[Statement]] = field(default_factory=dict)
    #: qualified function name -> (how it reads unmentioned names, identifiers it mentions)
    functions: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    #: How the file's import-time code reads names it does not mention (REACHES for a pytest
    #: plugin, whose hooks pytest finds by name).
    dynamic: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "s": self.scopes,
                "f": {q: [d, " ".join(sorted(u))] for q, (d, u) in self.functions.items()},
                "d": self.dynamic,
                "v": FACTS_VERSION,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> NameFacts:
        raw: Any = json.loads(text)
        if raw.get("v") != FACTS_VERSION:
            raise ValueError(f"facts of analysis version {raw.get('v', 1)}, not {FACTS_VERSION}")
        return cls(
            scopes={str(k): [list(map(str, s)) for s in v] for k, v in raw["s"].items()},
            functions={
                str(q): (int(d), frozenset(str(u).split())) for q, (d, u) in raw["f"].items()
            },
            dynamic=int(raw["d"]),
        )


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NAME_ARG_CALLS = frozenset({"getattr", "hasattr", "setattr", "delattr"})
#: Handed on as a value (``reduce(getattr, path, root)``, ``partial(getattr, limits)``), these
#: look up whatever names they are later called with: only a direct call shows the name.
_NAME_LOOKUPS = _NAME_ARG_CALLS | frozenset({"attrgetter", "methodcaller"})


_LEVELS = {
    **{n: READS for n in _READERS},
    **{n: FINDS_MODULES for n in _MODULE_FINDERS},
    **{n: REACHES for n in _REACHERS},
}
#: What a name imported from a module gives away under another name, or bare (``from sys
#: import modules``, ``from importlib import import_module as load``).
_IMPORTED_LEVELS = {**{n: REACHES for n in _REACHING_ATTRS}, **_LEVELS}


_Name, _Attribute, _Constant, _Call = ast.Name, ast.Attribute, ast.Constant, ast.Call
_Load, _keyword, _arg, _alias = ast.Load, ast.keyword, ast.arg, ast.alias


def _scan(
    node: ast.AST,
    *,
    cut: bool = False,
    levels: Mapping[str, int] = _LEVELS,
    picklers: Collection[str] = _PICKLERS,
    inert: Collection[str] = (),
) -> tuple[set[str], int]:
    """The identifiers ``node`` mentions and how it reads names it does not mention (0,
    READS, FINDS_MODULES or REACHES). With ``cut``, the bodies of functions and classes in it are left out
    (they are blocks of their own); their decorators, signatures and bases are not.
    ``levels`` and ``picklers``: the names that read dynamically in this file (see
    :func:`_file_levels`)."""
    # Dispatch on the exact type and walk by hand: this runs over every file a baseline records.
    found: set[str] = set()
    dynamic = 0
    stack: list[ast.AST] = [node]
    push = stack.append
    # The callees of calls seen so far: a call is popped before its callee.
    callees: set[int] = set()
    while stack:
        sub = stack.pop()
        kind = type(sub)
        if kind is _Name:
            name = sub.id  # type: ignore[attr-defined]
            found.add(name)
            if type(sub.ctx) is _Load:  # type: ignore[attr-defined]
                if name in levels:
                    dynamic = max(dynamic, levels[name])
                elif name in _NAME_LOOKUPS and not dynamic and id(sub) not in callees:
                    dynamic = READS
            continue
        if kind is _Attribute:
            attr = sub.attr  # type: ignore[attr-defined]
            found.add(attr)
            value = sub.value  # type: ignore[attr-defined]
            if attr in _LEVELS:
                dynamic = max(dynamic, _LEVELS[attr])
            elif attr in _NAME_LOOKUPS and not dynamic and id(sub) not in callees:
                dynamic = READS
            if attr in _REACHING_ATTRS or (
                type(value) is _Name
                and (value.id in picklers or attr in _QUALIFIED_REACHERS.get(value.id, ()))
            ):
                dynamic = REACHES
            push(value)
            continue
        if kind is _Constant:
            if type(sub.value) is str:  # type: ignore[attr-defined]
                found.update(_WORD.findall(sub.value))  # type: ignore[attr-defined]
            continue
        if kind is _Call:
            assert isinstance(sub, ast.Call)
            callees.add(id(sub.func))
            if _callee(sub.func) in _IMPORTERS and _constant_first(sub):
                # A module named in the code: an import like any other (its name is a word).
                if isinstance(sub.func, ast.Attribute):
                    push(sub.func.value)
                stack.extend(sub.args)
                stack.extend(sub.keywords)
                continue
            if inert and _reads_inert(sub, inert):
                # The names of a standard-library module that holds nothing of the project's.
                found.update((sub.func.id, sub.args[0].id))  # type: ignore[attr-defined]
                continue
            if _namespace_update(sub):
                # Writes names (state, see blocks.py) but reads none: only the arguments count.
                stack.extend(sub.args)
                stack.extend(sub.keywords)
                continue
            if not dynamic and (_computed_name(sub) or _computed_format(sub)):
                dynamic = READS
        elif kind is _keyword:
            if sub.arg:  # type: ignore[attr-defined]
                found.add(sub.arg)  # type: ignore[attr-defined]
        elif kind is _arg:
            found.add(sub.arg)  # type: ignore[attr-defined]
        elif kind is _alias:
            found.update(sub.name.split("."))  # type: ignore[attr-defined]
            if sub.asname:  # type: ignore[attr-defined]
                found.add(sub.asname)  # type: ignore[attr-defined]
            if not cut:
                # Imported inside a function, under whatever name: it is there to be used.
                name = sub.name  # type: ignore[attr-defined]
                pickler = name in _PICKLERS and sub.asname  # type: ignore[attr-defined]
                level = REACHES if pickler else _IMPORTED_LEVELS.get(name, 0)
                dynamic = max(dynamic, level)
        elif kind is ast.ImportFrom:
            module = sub.module  # type: ignore[attr-defined]
            if module:
                found.update(module.split("."))
                if not cut:
                    for alias in sub.names:  # type: ignore[attr-defined]
                        dynamic = max(dynamic, _from_import_level(module, alias.name))
        elif kind is ast.Expr and _prose(sub):
            continue
        elif kind is ast.Subscript and _namespace_write(sub):
            # `globals()[name] = value` writes a name (state, see blocks.py) but reads none.
            assert isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Call)
            push(sub.slice)
            stack.extend(sub.value.args)
            continue
        elif kind in _DEFS:
            assert isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            found.add(sub.name)
            if cut:
                stack.extend(sub.decorator_list)
                if isinstance(sub, ast.ClassDef):
                    stack.extend(sub.bases)
                    stack.extend(sub.keywords)
                else:
                    push(sub.args)
                    if sub.returns is not None:
                        push(sub.returns)
                continue
        push_children(stack, sub)
    return found, dynamic


def _prose(stmt: ast.AST) -> bool:
    """A string standing alone as a statement (a docstring) without doctest examples: it runs
    nothing, so the words in it refer to nothing (examples are code: a doctest runs them)."""
    value = stmt.value  # type: ignore[attr-defined]
    return type(value) is _Constant and type(value.value) is str and ">>>" not in value.value


def _from_import_level(module: str | None, name: str) -> int:
    """How ``from module import name`` reads names it does not mention, under any name."""
    if name in _QUALIFIED_REACHERS.get(module or "", ()):
        return REACHES
    return _IMPORTED_LEVELS.get(name, 0)


def _file_levels(tree: ast.Module) -> tuple[Mapping[str, int], Collection[str]]:
    """The names that read dynamically in a file: the usual ones, and what its import-time
    imports bind to one under another name or bare (``from importlib import import_module as
    load``, ``from sys import modules``, ``import pickle as pk``)."""
    levels: dict[str, int] = {}
    picklers: set[str] = set()
    for node in _import_time_nodes(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                level = _from_import_level(node.module, alias.name)
                bound = alias.asname or alias.name
                if level and _LEVELS.get(bound, 0) < level:
                    levels[bound] = level
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in _PICKLERS:
                    picklers.add(alias.asname)
    return (
        {**_LEVELS, **levels} if levels else _LEVELS,
        _PICKLERS | picklers if picklers else _PICKLERS,
    )


def _namespace_write(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id in ("globals", "vars")
    )


#: Standard-library modules whose namespaces hold only their own objects (``sys`` holds every
#: module, ``os`` the environment: not these).
_INERT_MODULES = frozenset(
    {
        "operator", "itertools", "functools", "math", "cmath", "string", "builtins",
        "collections", "abc", "numbers", "types", "typing", "re", "enum", "dataclasses",
        "decimal", "fractions", "struct", "statistics", "heapq", "bisect",
    }
)  # fmt: skip


def _reads_inert(call: ast.Call, inert: Collection[str]) -> bool:
    """``vars(operator)``, ``dir(math)``: a reader handed a standard-library module named in
    :data:`_INERT_MODULES`, imported by the file at import time and bound nowhere else."""
    return (
        type(call.func) is _Name
        and call.func.id in _READERS
        and len(call.args) == 1
        and not call.keywords
        and type(call.args[0]) is _Name
        and call.args[0].id in inert
    )


def _inert_modules(tree: ast.Module) -> set[str]:
    """The names :func:`_reads_inert` trusts in module-level code of ``tree``."""
    names: set[str] = set()
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in _INERT_MODULES:
                    names.add(alias.asname or alias.name)
                else:
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif not isinstance(node, ast.Delete):  # unbinding it leaves nothing else there
            bound |= _binds(node)
    return names - bound


def _namespace_update(call: ast.Call) -> bool:
    """``globals().update(...)`` (``locals()`` at module level is the same namespace): writes
    names, reads none."""
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "update"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id in ("globals", "locals")
        and not func.value.args
    )


def _constant_first(call: ast.Call) -> bool:
    return bool(call.args) and isinstance(call.args[0], ast.Constant)


def _computed_name(call: ast.Call) -> bool:
    """``getattr(obj, name)`` and kin with a name that is not a constant string."""
    name = _callee(call.func)
    if name in _NAME_ARG_CALLS:
        arg = call.args[1] if len(call.args) > 1 else None
    elif name in ("attrgetter", "methodcaller"):
        arg = call.args[0] if call.args else None
    else:
        return False
    return not (isinstance(arg, ast.Constant) and isinstance(arg.value, str))


def _computed_format(call: ast.Call) -> bool:
    """``template.format(c=consts)`` with a template that is not a literal: its fields look up
    names (``{c.GREETING}``) written in a data file, not in the code."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in ("format", "format_map", "vformat"):
        return False
    template = func.value
    if isinstance(template, ast.Name) and template.id == "str" and call.args:
        template = call.args[0]  # str.format(template, ...)
    return not (isinstance(template, ast.Constant) and isinstance(template.value, str))


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _import_time_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Statements that run at import time, with the defs and imports among them (a function's
    body, which runs only when called, is not entered)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        stack.extend(
            c for c in ast.iter_child_nodes(node) if isinstance(c, (ast.stmt, ast.excepthandler))
        )


class _Purity:
    """Decides whether an import-time statement only binds names."""

    def __init__(self, tree: ast.Module, stateful: set[int], assigned: set[str]) -> None:
        """``assigned``: the names the module's own statements bind (imports aside)."""
        self.stateful = stateful - memo_only(tree, stateful)
        #: name -> top-level module it was imported from ("" for a relative import)
        self.imported: dict[str, str] = {}
        #: modules star-imported from ("" for a relative import): they may bind any name
        self.stars: set[str] = set()
        self.classes: dict[str, ast.ClassDef] = {}
        # Names the file defines or assigns itself: `partial = my_partial` is not functools'.
        self.local_defs: set[str] = set()
        self.hooks = False
        for node in _import_time_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    self.imported[alias.asname or top] = top
            elif isinstance(node, ast.ImportFrom):
                top = (node.module or "").split(".")[0] if not node.level else ""
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = top
                    if alias.name == "*":
                        self.stars.add(top)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.local_defs.add(node.name)
                self.hooks = self.hooks or node.name in _CLASS_HOOKS
            elif isinstance(node, ast.ClassDef):
                self.local_defs.add(node.name)
                self.classes.setdefault(node.name, node)
                self.hooks = self.hooks or any(_callee(b) == "type" for b in node.bases)
        self.local_defs |= assigned
        self._class_pure: dict[int, bool] = {}
        self._tree = tree
        self._fresh_augs: set[int] | None = None

    def known(self, node: ast.expr, allowed: frozenset[str]) -> bool:
        """``node`` names one of ``allowed`` from the builtins or the standard library (a name
        imported from anywhere else may be project code that only shares the name)."""
        name = _callee(node)
        if name is None or name not in allowed or name in self.local_defs:
            return False
        root: ast.expr = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            return False
        if root is node:
            origin = self.imported.get(name)
            if origin is None:
                # A builtin, unless a star import from elsewhere may have brought the name.
                return self.stars <= _STDLIB_MODULES
            return origin in _STDLIB_MODULES
        return self.imported.get(root.id) in _STDLIB_MODULES

    def call(self, node: ast.Call) -> bool:
        name = _callee(node.func)
        if name in ("setter", "getter", "deleter") and isinstance(node.func, ast.Attribute):
            # `@area.setter`: the property built by an earlier statement of the class
            return isinstance(node.func.value, ast.Name) and all(self.expr(a) for a in node.args)
        if name is None or not self.known(node.func, _PURE_CALLABLES) or _computed_name(node):
            return False
        if name == "type" and len(node.args) != 1:
            # `type(name, bases, namespace)` creates a class: its bases' `__init_subclass__`
            # and `__set_name__` run, wherever they are defined.
            return False
        called = [
            *(node.args[:1] if name in _CALLS_FIRST_ARGUMENT else ()),
            *(k.value for k in node.keywords if k.arg == "key" and name in _CALLS_KEY),
        ]
        if not all(self.callable(c) for c in called):
            return False
        return all(self.expr(a) for a in node.args) and all(
            self.expr(k.value) for k in node.keywords
        )

    def callable(self, node: ast.expr) -> bool:
        """What a pure callable calls while it runs (``map(f, items)``, ``sorted(key=f)``)
        runs no project code: a known pure callable, ``None``, or a lambda whose body is pure."""
        if isinstance(node, ast.Lambda):
            return self.expr(node.body) and self.expr(node)
        if isinstance(node, ast.Constant) and node.value is None:
            return True
        return self.known(node, _PURE_CALLABLES)

    def expr(self, node: ast.AST | None) -> bool:
        if node is None:
            return True
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Lambda):
            # The body runs only when called, and then it is a recorded function of its own.
            return all(self.expr(d) for d in (*node.args.defaults, *node.args.kw_defaults))
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        return all(self.expr(child) for child in ast.iter_child_nodes(node))

    def decorators(self, decorators: list[ast.expr]) -> bool:
        for dec in decorators:
            if isinstance(dec, ast.Call):
                if not self.call(dec):
                    return False
            elif not self.call(ast.Call(func=dec, args=[], keywords=[])):
                return False
        return True

    def fresh_aug(self, node: ast.AugAssign) -> bool:
        """``node``'s target is bound in its scope only by literals (:func:`_fresh_augs`)."""
        if self._fresh_augs is None:
            bodies = [self._tree.body]
            bodies += [n.body for _, n in block_defs(self._tree) if isinstance(n, ast.ClassDef)]
            self._fresh_augs = {a for body in bodies for a in _fresh_augs(body)}
        return id(node) in self._fresh_augs

    def _member_hooks(self, node: ast.ClassDef, seen: set[int]) -> tuple[bool, bool]:
        """(an enum base, a method making members) among ``node`` and its bases in the file."""
        if id(node) in seen:
            return False, False
        seen.add(id(node))
        enum = False
        hooks = any(
            isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign, ast.AnnAssign))
            and bool(_binds(s) & _MEMBER_HOOKS)
            for s in node.body
        )
        for base in node.bases:
            name = _callee(base.value if isinstance(base, ast.Subscript) else base)
            if name in self.classes and name not in self.imported:
                base_enum, base_hooks = self._member_hooks(self.classes[name], seen)
                enum, hooks = enum or base_enum, hooks or base_hooks
            enum = enum or name in _ENUM_BASES
        return enum, hooks

    def class_header(self, node: ast.ClassDef) -> bool:
        """Creating the class runs no project code: no hooks in the file, known or local pure
        bases, no metaclass but ``ABCMeta``, pure decorators."""
        key = id(node)
        if key in self._class_pure:
            return self._class_pure[key]
        self._class_pure[key] = False  # a cycle of local bases is not pure
        pure = not self.hooks and self.decorators(node.decorator_list)
        if pure and all(self._member_hooks(node, set())):
            # Creating the enum calls them for every member: a member's value reaches what
            # they do (`_BY_CODE[code] = self`), which no name the member binds shows.
            pure = False
        for kw in node.keywords:
            if kw.arg == "metaclass":
                pure = pure and self.known(kw.value, _PURE_METACLASSES)
            else:
                pure = pure and self.expr(kw.value)
        for base in node.bases:
            target = base.value if isinstance(base, ast.Subscript) else base
            name = _callee(target)
            if (
                name in self.classes
                and self.classes[name] is not node
                and name not in self.imported
            ):
                pure = pure and self.class_header(self.classes[name])
            else:
                pure = pure and self.known(target, _PURE_BASES)
            pure = pure and self.expr(base)
        self._class_pure[key] = pure
        return pure

    def statement(self, node: ast.stmt) -> str:
        """PURE, IMPORTS or IMPURE for a statement in a module or class body."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if id(node) in self.stateful:
                return IMPURE
            args = node.args
            parts = [*args.defaults, *args.kw_defaults, node.returns]
            parts += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            ok = self.decorators(node.decorator_list) and all(self.expr(p) for p in parts)
            return PURE if ok else IMPURE
        if isinstance(node, ast.ClassDef):
            return PURE if self.class_header(node) else IMPURE
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return IMPORTS
        if isinstance(node, ast.AugAssign) and not self.fresh_aug(node):
            # `x += v` may change in place the object `x` refers to, and with it every other
            # name that refers to it (`_more = HANDLERS; _more |= {...}`), which the names this
            # statement binds do not show.
            return IMPURE
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not all(_plain_target(t) for t in targets):
                return IMPURE
            annotation = node.annotation if isinstance(node, ast.AnnAssign) else None
            return PURE if self.expr(node.value) and self.expr(annotation) else IMPURE
        if isinstance(node, ast.Expr):
            return PURE if self.expr(node.value) else IMPURE
        if isinstance(node, ast.Pass):
            return PURE
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            return PURE  # does not run on import
        if isinstance(node, (ast.If, ast.Try, ast.For)) or type(node).__name__ == "TryStar":
            kinds = [self.statement(s) for s in _substatements(node)]
            heads: list[ast.AST | None] = []
            if isinstance(node, ast.If):
                heads = [node.test]
            elif isinstance(node, ast.For):
                if not _plain_target(node.target):
                    return IMPURE
                heads = [node.iter]
            else:
                heads = [h.type for h in getattr(node, "handlers", [])]
            if IMPURE in kinds or not all(self.expr(h) for h in heads):
                return IMPURE
            return IMPORTS if IMPORTS in kinds else PURE
        return IMPURE


_LITERALS = (
    ast.Constant, ast.JoinedStr, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.ListComp,
    ast.SetComp, ast.DictComp,
)  # fmt: skip


def _fresh_augs(body: list[ast.stmt]) -> set[int]:
    """The augmented assignments of a scope's import-time code (``x += v``, in ``if``, ``try``
    and loops too) whose target the scope binds otherwise only as ``x = <literal>``: a new
    object that no other name refers to, since a statement naming ``x`` that binds another
    name passes a change of ``x`` on to it."""
    augs: list[ast.AugAssign] = []
    fresh: set[str] = set()
    other: set[str] = set()
    stack = list(body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.AugAssign):
            augs.append(stmt)
            # `x[i] += v` binds nothing: never fresh (it mutates `x`).
            if not isinstance(stmt.target, ast.Name):
                other |= _binds(stmt)
            continue
        if (
            isinstance(stmt, (ast.Assign, ast.AnnAssign))
            and len(targets := stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]) == 1
            and isinstance(targets[0], ast.Name)
            and isinstance(stmt.value, _LITERALS)
        ):
            fresh.add(targets[0].id)
            other |= _binds(stmt) - {targets[0].id}  # `x = [(y := z)]`
            continue
        heads: list[ast.AST] = []
        if isinstance(stmt, (ast.If, ast.While)):
            heads = [stmt.test]
        elif isinstance(stmt, ast.For):
            heads = [stmt.target, stmt.iter]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            heads = list(stmt.items)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            handlers: list[ast.ExceptHandler] = getattr(stmt, "handlers", [])
            other.update(h.name for h in handlers if h.name)
            heads = [h.type for h in handlers if h.type is not None]
        else:
            other |= _binds(stmt)
            continue
        # What the head binds: a loop variable, `with ... as x`, `except E as x`, a walrus.
        other.update(
            n.id
            for head in heads
            for n in ast.walk(head)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        )
        stack.extend(_substatements(stmt))
    return {
        id(a)
        for a in augs
        if isinstance(a.target, ast.Name) and a.target.id in fresh and a.target.id not in other
    }


def _plain_target(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_plain_target(e) for e in node.elts)
    if isinstance(node, ast.Starred):
        return _plain_target(node.value)
    return False


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _substatements(node: ast.stmt) -> Iterator[ast.stmt]:
    for name in ("body", "orelse", "finalbody"):
        yield from getattr(node, name, None) or []
    for handler in getattr(node, "handlers", None) or []:
        yield from handler.body


def _binds(node: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope (not inside functions, classes, lambdas)."""
    found: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        sub = stack.pop()
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(sub.name)
            stack.extend(sub.decorator_list)
            continue
        if isinstance(sub, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            found.add(sub.id)
        elif isinstance(sub, ast.alias):
            found.add(sub.asname or sub.name.split(".")[0])
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            found.add(sub.name)
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            found.update(sub.names)
        stack.extend(ast.iter_child_nodes(sub))
    return found


def _cut_dump(node: ast.stmt) -> bytes:
    """The statement as it runs at import time: function and class bodies cut (they are blocks
    of their own). Cut in place and put back, which is cheaper than a copy."""
    saved: list[tuple[ast.AST, list[ast.stmt]]] = []
    stack: list[ast.AST] = [node]
    while stack:
        sub = stack.pop()
        if isinstance(sub, _DEFS):
            saved.append((sub, sub.body))
        elif isinstance(sub, ast.stmt):
            stack.extend(ast.iter_child_nodes(sub))
    try:
        for sub, _ in saved:
            sub.body = []  # type: ignore[attr-defined]
        return _dump(node)
    finally:
        for sub, body in saved:
            sub.body = body  # type: ignore[attr-defined]


def name_facts(
    tree: ast.Module, path: str | None = None, stateful: set[int] | None = None
) -> NameFacts:
    """The facts of one parsed file (see the module docstring); ``path`` (root-relative)
    resolves its relative imports; ``stateful`` is :func:`stateful_functions` of ``tree`` when
    the caller has it already."""
    if stateful is None:
        stateful = stateful_functions(tree)
    module_binds = {id(stmt): _binds(stmt) for stmt in tree.body}
    purity = _Purity(
        tree,
        stateful,
        {
            name
            for stmt in tree.body
            if not isinstance(stmt, (ast.Import, ast.ImportFrom))
            for name in module_binds[id(stmt)]
        },
    )
    # pytest calls a plugin's hooks by name, unseen: such a module is never narrowed.
    hooks = any(n.startswith("pytest_") for names in module_binds.values() for n in names)
    facts = NameFacts(dynamic=REACHES if hooks else 0)
    levels, picklers = _file_levels(tree)
    inert = _inert_modules(tree)
    scopes: list[tuple[str, list[ast.stmt], bool]] = [("", tree.body, True)]
    for qualname, node in block_defs(tree):
        if isinstance(node, ast.ClassDef):
            scopes.append((qualname, node.body, purity.class_header(node)))
        else:
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            uses, dynamic = _scan(node, levels=levels, picklers=picklers)
            facts.functions[qualname] = (dynamic, frozenset(uses))
    examples = doctest_docstrings(tree)
    if examples:
        words = {w for text in examples for w in _WORD.findall(text)}
        facts.functions[DOCSTRINGS_BLOCK] = (0, frozenset(words))
    for scope, body, pure_scope in scopes:
        statements: list[Statement] = []
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)) and pure_scope:
                # Each imported name is its own binding: `from m import a, b` passes a change
                # of `a` on to `a` alone.
                statements.extend(_import_statements(stmt, path))
                continue
            uses, dynamic = _scan(
                stmt,
                cut=True,
                levels=levels,
                picklers=picklers,
                inert=inert if scope == "" else (),
            )
            if id(stmt) in stateful:
                # Its body runs when called and can leave state behind: the body counts too
                # (when it runs, it is a function block with its own facts).
                dumped = _dump(stmt)
                uses = _scan(stmt)[0]
            else:
                dumped = _cut_dump(stmt)
            facts.dynamic = max(facts.dynamic, dynamic)
            kind = purity.statement(stmt) if pure_scope else IMPURE
            bound = module_binds[id(stmt)] if id(stmt) in module_binds else _binds(stmt)
            if dynamic or (scope == "" and bound & _MODULE_HOOKS):
                kind = IMPURE
            if stmt is body[0] and _is_docstring(stmt):
                # A docstring binds `__doc__`, which code reads (`ArgumentParser(description=
                # __doc__)`, `cls.__doc__`). Its words are text, not names it uses: a class's
                # docstring naming the class would pass every change of the class on to
                # `__doc__`, and so to every `f.__doc__ = g.__doc__` of the project.
                bound, uses = {"__doc__"}, set()
            fingerprint = digest(dumped)
            identity = ",".join(sorted(bound)) if bound else "#" + fingerprint[:16]
            statements.append([identity, kind, fingerprint, " ".join(sorted(uses))])
        facts.scopes[scope] = statements
    return facts


def _imported_module(stmt: ast.Import | ast.ImportFrom, alias: ast.alias, path: str | None) -> str:
    """The dotted name an import names (``pkg.mod`` or ``pkg.mod.attr``); a relative import is
    resolved against ``path`` (as a root-relative dotted path), or left with its dots."""
    if isinstance(stmt, ast.Import):
        return alias.name
    target = ".".join(filter(None, [stmt.module, alias.name]))
    if not stmt.level:
        return target
    if path is None:
        return "." * stmt.level + target
    package = path.split("/")[:-1]
    package = package[: len(package) - (stmt.level - 1)] if stmt.level > 1 else package
    return ".".join([*package, target])


def _import_statements(stmt: ast.Import | ast.ImportFrom, path: str | None) -> list[Statement]:
    module = stmt.module.split(".") if isinstance(stmt, ast.ImportFrom) and stmt.module else []
    found: list[Statement] = []
    for alias in stmt.names:
        bound = alias.asname or alias.name.split(".")[0]
        fingerprint = digest(_dump(stmt) + b"\0" + alias.name.encode() + b"\0" + bound.encode())
        # The dotted name (never an identifier) records which module is imported statically.
        dotted = IMPORT_MARK + _imported_module(stmt, alias, path)
        uses = sorted({*module, *alias.name.split("."), bound, dotted})
        found.append([bound, IMPORTS, fingerprint, " ".join(uses)])
    return found


def blocks_and_names(
    tree: ast.Module, path: str, *, names: bool = True, stateful: set[int] | None = None
) -> tuple[FileBlocks, NameFacts | None]:
    """A parsed file's blocks and (``names``) name facts, sharing the costly stateful-function
    analysis both need (``stateful``: when the caller has it already)."""
    if stateful is None:
        stateful = stateful_functions(tree)
    facts = name_facts(tree, path, stateful) if names else None
    return blocks_from_tree(tree, stateful), facts


def names_reader(hasher: FileHasher) -> Callable[[str, str], str | None]:
    """``(path, version) -> facts as JSON``, or None when the file is no longer that version."""

    def read(path: str, version: str) -> str | None:
        if not path.endswith(".py") or hasher.hash(path) != version:
            return None
        try:
            return name_facts(ast.parse(hasher.read(path), filename=path), path).to_json()
        except (SyntaxError, ValueError, OSError, SourceError, RecursionError):
            return None

    return read
